//! The client's own bound on every wait for PostgreSQL. `statement_timeout` is enforced by the
//! server: a server that is stopped, swapping or behind a black-holed network never reports
//! it, and a request would wait as long as the stall (15 minutes of TCP retransmission on a
//! dead network). So each [`PgPool::run`] — checkout and statements together — ends at a
//! deadline the app keeps, its connection is then discarded (a later request would only stall
//! on it again), and TCP keepalive and `tcp_user_timeout` let the kernel drop a connection
//! whose peer has gone silent.

use std::time::{Duration, Instant};

use actix_web::rt::time::timeout;

use super::{PgClient, PgPool};
use crate::error::{AppError, Result};
use crate::util::telemetry::{self, DbFailure};

/// The database timeout when `DATABASE_TIMEOUT` is not set: the server's `statement_timeout`
/// and `lock_timeout`; the client gives up [`GRACE`] later.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How much longer than the server's own timeout the client waits: a server that answers
/// reports its timeout first (a clean error; the connection stays usable), and only a server
/// that does not answer meets the client's deadline.
const GRACE: Duration = Duration::from_secs(1);

/// The client's deadline for a database timeout of `timeout`.
pub(super) fn client_deadline(timeout: Duration) -> Duration {
    timeout + GRACE
}

/// TCP settings that end a connection whose peer went silent: keepalive probes on an idle
/// connection, and `tcp_user_timeout` on one with data unacknowledged. Values the URL set
/// itself are kept. (Both are ignored on a unix socket, where a stopped server still makes
/// the deadline in [`PgPool::run`] the bound.)
pub(super) fn bound_connections(config: &mut tokio_postgres::Config, deadline: Duration) {
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(deadline);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(deadline.max(Duration::from_secs(10)));
    }
    // tokio-postgres's default idle time before the first probe is two hours.
    if config.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(15))
            .keepalives_interval(Duration::from_secs(5))
            .keepalives_retries(3);
    }
}

impl PgPool {
    /// Runs `work` on a pooled connection, within the database deadline: the only way a
    /// request reaches PostgreSQL. Past the deadline (no connection to be had, or a statement
    /// the server does not answer) the answer is [`AppError::Unavailable`] (503 with
    /// `Retry-After`) and the connection is closed, never handed to the next request.
    pub(crate) async fn run<T>(
        &self,
        work: impl AsyncFnOnce(&mut PgClient) -> Result<T>,
    ) -> Result<T> {
        self.run_within(self.deadline, work).await
    }

    /// [`PgPool::run`] with a deadline of its own (the readiness probe's shorter patience).
    pub(super) async fn run_within<T>(
        &self,
        patience: Duration,
        work: impl AsyncFnOnce(&mut PgClient) -> Result<T>,
    ) -> Result<T> {
        let started = Instant::now();
        let mut client = match timeout(patience, self.pool.get()).await {
            Ok(checked_out) => checked_out?,
            Err(_) => {
                telemetry::db_error(DbFailure::Connection);
                log::warn!("database unavailable: no connection within {patience:?}");
                return Err(AppError::Unavailable);
            }
        };
        let left = patience.saturating_sub(started.elapsed());
        let outcome = timeout(left, work(&mut client)).await;
        match outcome {
            Ok(result) => result,
            Err(_) => {
                // Taken out of the pool and dropped: its connection task ends and the socket
                // closes; whatever the server does later reaches no one.
                drop(deadpool_postgres::Object::take(client));
                // The server's own statement timeout ends first on a live server (counted as
                // busy there): no answer at all is a server that cannot be reached.
                telemetry::db_error(DbFailure::Connection);
                log::warn!(
                    "database unavailable: no answer within {patience:?}; connection closed"
                );
                Err(AppError::Unavailable)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_waits_a_little_longer_than_the_server_so_a_live_server_reports_first() {
        assert_eq!(
            client_deadline(Duration::from_secs(5)),
            Duration::from_secs(6)
        );
    }

    #[test]
    fn silent_peers_are_noticed_unless_the_url_says_otherwise() {
        let mut config: tokio_postgres::Config = "host=db user=u".parse().unwrap();
        bound_connections(&mut config, Duration::from_secs(6));
        assert_eq!(config.get_keepalives_idle(), Duration::from_secs(15));
        assert_eq!(
            config.get_tcp_user_timeout(),
            Some(&Duration::from_secs(10))
        );
        assert_eq!(config.get_connect_timeout(), Some(&Duration::from_secs(6)));

        let mut theirs: tokio_postgres::Config =
            "host=db user=u keepalives_idle=60 tcp_user_timeout=30 connect_timeout=2"
                .parse()
                .unwrap();
        bound_connections(&mut theirs, Duration::from_secs(6));
        assert_eq!(theirs.get_keepalives_idle(), Duration::from_secs(60));
        assert_eq!(
            theirs.get_tcp_user_timeout(),
            Some(&Duration::from_secs(30))
        );
        assert_eq!(theirs.get_connect_timeout(), Some(&Duration::from_secs(2)));
    }
}
