//! `LISTEN` on one channel over a connection of its own, for as long as the process runs: the
//! way replicas hear about each other's changes (`NOTIFY`, sent in the changing transaction,
//! arrives on commit). The listener reconnects after any failure, pings an idle connection so
//! a dead one is noticed, and reports [`Event::Listening`] / [`Event::Lost`] so its user can
//! stop trusting what it cached while notifications may have been missed. Its session also
//! holds [`super::SERVING_LOCK`] shared: the mark of a serving replica that `copy` looks for.

use std::time::Duration;

use actix_web::rt::time::{sleep, timeout};
use tokio_postgres::AsyncMessage;

use super::PgPool;

/// What the listener reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event<'a> {
    /// Listening (again): anything before this may have been missed.
    Listening,
    /// A notification's payload.
    Notified(&'a str),
    /// The connection is gone; notifications are being missed until the next `Listening`.
    Lost,
}

/// An idle connection is pinged this often; an answer must come within the same time.
const PING_EVERY: Duration = Duration::from_secs(5);
/// The pause before the first reconnect; doubled after each failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Starts listening on `channel` on the current runtime; `on_event` is called for every event.
pub(crate) fn spawn(pool: &PgPool, channel: &'static str, on_event: impl Fn(Event<'_>) + 'static) {
    let pool = pool.clone();
    actix_web::rt::spawn(async move {
        let mut backoff = FIRST_BACKOFF;
        loop {
            match listen_once(&pool, channel, &on_event).await {
                Ok(()) => backoff = FIRST_BACKOFF,
                Err(why) => {
                    log::warn!("listener on {} ({channel}): {why}", pool.url());
                }
            }
            on_event(Event::Lost);
            sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    });
}

/// One connection's life: connect, `LISTEN`, deliver until it fails. `Ok` when it had been
/// listening (so the next attempt starts with a short pause again).
async fn listen_once(
    pool: &PgPool,
    channel: &str,
    on_event: &impl Fn(Event<'_>),
) -> Result<(), String> {
    let mut config = pool.config().clone();
    config
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(10))
        .keepalives_interval(Duration::from_secs(2))
        .keepalives_retries(3);
    let (client, mut connection) = pool
        .connect(&config)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let (sender, mut notifications) = tokio::sync::mpsc::unbounded_channel::<String>();
    let driver = actix_web::rt::spawn(async move {
        while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if sender.send(n.payload().to_string()).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    log::warn!("listener connection: {e}");
                    return;
                }
            }
        }
    });
    let result = async {
        // The channel name is ours (a constant), quoted as an identifier all the same.
        let quoted = format!("\"{}\"", channel.replace('"', "\"\""));
        client
            .batch_execute(&format!(
                "LISTEN {quoted}; SELECT pg_advisory_lock_shared({});",
                super::SERVING_LOCK
            ))
            .await
            .map_err(|e| format!("LISTEN failed: {}", super::Describe::describe(&e)))?;
        log::info!("listening for changes on {} ({channel})", pool.url());
        on_event(Event::Listening);
        loop {
            match timeout(PING_EVERY, notifications.recv()).await {
                Ok(Some(payload)) => on_event(Event::Notified(&payload)),
                Ok(None) => return Err("connection closed".to_string()),
                Err(_idle) => match timeout(PING_EVERY, client.simple_query("")).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Err(format!("ping failed: {e}")),
                    Err(_) => return Err("ping unanswered".to_string()),
                },
            }
        }
    }
    .await;
    driver.abort();
    match result {
        Err(why) if why.starts_with("LISTEN") => Err(why),
        Err(why) => {
            log::warn!("listener on {} ({channel}) lost: {why}", pool.url());
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}
