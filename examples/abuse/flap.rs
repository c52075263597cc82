//! The `flap` scenario of `abuse_peer` (issue 24, LOW): after a reinstall, two installation ids
//! of one cloud take turns calling for `--seconds` (4 clients, tokens minted once), while
//! another site lists its tasks; how many flaps were answered 200 (before the fix each one
//! rewrote the row and emptied every site's cache) and the other site's p50/p99, alone and
//! during the flapping.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use testkit::forge::JwksServer;

use super::purge::{forge_server, forge_site};
use super::{Cli, KeyServer, Result, Server, percentile};

const A_OLD: &str = "ari:cloud:ecosystem::installation/0a0a0a0a-1111-4222-8333-000000000001";
const A_NEW: &str = "ari:cloud:ecosystem::installation/0a0a0a0a-1111-4222-8333-000000000002";
const A_CLOUD: &str = "0a0a0a0a-2222-4222-8333-444455556666";
const B_ID: &str = "ari:cloud:ecosystem::installation/0b0b0b0b-1111-4222-8333-000000000001";
const B_CLOUD: &str = "0b0b0b0b-2222-4222-8333-444455556666";

async fn list(client: &reqwest::Client, server: &Server, token: &str) -> Result<u16> {
    let res = client
        .get(format!("{}/forge/api/tasks", server.url()))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    let _ = res.bytes().await;
    Ok(status)
}

/// The other site's list latencies, 300 times in a row.
async fn other_site(client: &reqwest::Client, server: &Server, token: &str) -> Result<(f64, f64)> {
    let mut samples = Vec::with_capacity(300);
    for _ in 0..300 {
        let started = Instant::now();
        if list(client, server, token).await? != 200 {
            return Err("the other site was refused".into());
        }
        samples.push(started.elapsed());
    }
    Ok((
        percentile(&mut samples, 0.5),
        percentile(&mut samples, 0.99),
    ))
}

/// Flapping installation ids beside another site; one table row.
pub async fn flap(cli: &Cli, keys: &KeyServer) -> Result<()> {
    let jwks = JwksServer::start();
    let server = forge_server(cli, keys, &jwks).await?;
    let client = reqwest::Client::new();
    let tokens = [
        forge_site(A_OLD, A_CLOUD).token(),
        forge_site(A_NEW, A_CLOUD).token(),
    ];
    let other = forge_site(B_ID, B_CLOUD).token();
    for token in [&tokens[0], &tokens[1], &other] {
        list(&client, &server, token).await?;
    }
    let alone = other_site(&client, &server, &other).await?;
    // Answers 200 per token: [old id, new id].
    let accepted: Arc<[AtomicUsize; 2]> = Arc::default();
    let refused = Arc::new(AtomicUsize::new(0));
    let until = Instant::now() + Duration::from_secs(cli.seconds);
    let mut flappers = Vec::new();
    for n in 0..4 {
        let (client, url) = (client.clone(), server.url());
        let (tokens, accepted, refused) = (tokens.clone(), accepted.clone(), refused.clone());
        flappers.push(tokio::spawn(async move {
            let mut turn = n;
            while Instant::now() < until {
                let res = client
                    .get(format!("{url}/forge/api/tasks"))
                    .header("Authorization", format!("Bearer {}", tokens[turn % 2]))
                    .send()
                    .await;
                match res.map(|r| r.status().as_u16()) {
                    Ok(200) => accepted[turn % 2].fetch_add(1, Ordering::SeqCst),
                    _ => refused.fetch_add(1, Ordering::SeqCst),
                };
                turn += 1;
            }
        }));
    }
    let during = other_site(&client, &server, &other).await?;
    for flapper in flappers {
        let _ = flapper.await;
    }
    println!(
        "| **Flapping installation ids**: two ids of one cloud alternating from 4 clients for {} s \
         | old id answered 200 {} times, new id {} times, {} refused | other site alone: p50 \
         {:.1} ms, p99 {:.1} ms; during: p50 {:.1} ms, p99 {:.1} ms | |",
        cli.seconds,
        accepted[0].load(Ordering::SeqCst),
        accepted[1].load(Ordering::SeqCst),
        refused.load(Ordering::SeqCst),
        alone.0,
        alone.1,
        during.0,
        during.1,
    );
    Ok(())
}
