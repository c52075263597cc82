//! The scale round's sites: `--sites` Connect sites with `--tasks` tasks each, written straight
//! into the database the environment names (`DATABASE_PATH` or `DATABASE_URL`, as `serve` reads
//! them) through the app's own stores, one transaction per `--batch` sites
//! (`todo_connect::seeding`), not over HTTP: 2 M tasks over HTTP would take far longer than the
//! load test itself. Then `scale.txt`: `--tokens` macro URLs per site, each with its own token
//! signed with the site's secret, interleaved so that consecutive URLs go to different sites
//! (line `j` is site `j % sites`, which `scripts/loadtest.lua` relies on to count the sites
//! reached). Run while no server uses the database.

use std::path::{Path, PathBuf};
use std::time::Instant;

use jsonwebtoken::EncodingKey;
use todo_connect::config::Settings;
use todo_connect::seeding::{SeedSite, SeedTask, Seeder};

use super::Result;
use super::setup::write_lines;
use super::target_file;
use super::urls::{Minter, VIEWERS, account};

/// The database timeout of a seeding batch on PostgreSQL, in seconds (the most
/// `DATABASE_TIMEOUT` allows).
const BATCH_TIMEOUT_SECS: u64 = 300;

/// What to seed (the `seed` subcommand's options).
#[derive(clap::Args)]
pub struct SeedPlan {
    /// Sites to install.
    #[arg(long, default_value_t = 10_000)]
    pub sites: usize,
    /// Tasks per site.
    #[arg(long, default_value_t = 200)]
    pub tasks: usize,
    /// Macro URLs (tokens) per site.
    #[arg(long, default_value_t = 4)]
    pub tokens: usize,
    /// Sites per transaction.
    #[arg(long, default_value_t = 50)]
    pub batch: usize,
    /// Different task creators per site (each an account id the page would name).
    #[arg(long, default_value_t = 5)]
    pub accounts: usize,
    /// The sites' Confluence base URL (the script's scale port: down or slow by round).
    #[arg(long)]
    pub base_url: String,
    /// Lifetime of the macro tokens in seconds (the whole load test must fit in it).
    #[arg(long, default_value_t = 3600)]
    pub ttl: i64,
    /// The folder `scale.txt` is written to.
    #[arg(long)]
    pub out: PathBuf,
}

/// A site's client key in the scale round (distinct from the 20-site kinds' `loadtest-<kind>-n`).
fn client_key(index: usize) -> String {
    format!("loadtest-scale-{index}")
}

/// Seeds the sites, writes `scale.txt`, prints `SEEDED …` with the time each phase took.
pub async fn run(plan: &SeedPlan) -> Result<()> {
    if plan.sites == 0 || plan.tasks == 0 || plan.tokens == 0 || plan.batch == 0 {
        return Err("--sites, --tasks, --tokens and --batch must be at least 1".into());
    }
    // A batch is one transaction of thousands of rows: on PostgreSQL it gets the longest
    // database timeout there is (the server's is per request and ends a slow batch at 5 s on
    // a busy machine), unless the environment sets one.
    let env = |k: &str| match (k, std::env::var(k).ok()) {
        ("DATABASE_TIMEOUT", None) => Some(BATCH_TIMEOUT_SECS.to_string()),
        (_, value) => value,
    };
    let settings = Settings::load(&env, Path::new(".")).map_err(|e| format!("settings: {e}"))?;
    let minter = Minter::new(settings.site_url.as_str(), &settings.addon_key, plan.ttl)?;
    let seeder = Seeder::open(&settings).map_err(|e| format!("database: {e}"))?;
    // Each run's secrets are its own (the database is fresh each run anyway).
    let nonce = format!("{}-{}", testkit::now(), std::process::id());
    let started = Instant::now();
    // Per site: its secret and the ids of the tasks its URLs show (`--tokens` of them, spread).
    let mut sites: Vec<(String, Vec<i64>)> = Vec::with_capacity(plan.sites);
    for first in (0..plan.sites).step_by(plan.batch) {
        let batch: Vec<SeedSite> = (first..plan.sites.min(first + plan.batch))
            .map(|index| seed_site(plan, index, &nonce))
            .collect();
        let secrets: Vec<String> = batch.iter().map(|s| s.shared_secret.clone()).collect();
        for (seeded, secret) in seeder.seed(batch).await?.into_iter().zip(secrets) {
            let ids = &seeded.task_ids;
            let shown = (0..plan.tokens)
                .map(|k| ids[k * ids.len() / plan.tokens])
                .collect();
            sites.push((secret, shown));
        }
        let done = sites.len();
        if done.is_multiple_of(plan.batch * 20) || done == plan.sites {
            eprintln!(
                "loadtest_peer: seeded {done} of {} sites ({:.1} s)",
                plan.sites,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let seeded_secs = started.elapsed().as_secs_f64();
    let minted = Instant::now();
    let mut urls = Vec::with_capacity(plan.sites * plan.tokens);
    for k in 0..plan.tokens {
        for (index, (secret, shown)) in sites.iter().enumerate() {
            let hmac = EncodingKey::from_secret(secret.as_bytes()).map_err(|e| e.to_string())?;
            let viewer = account(index, 1000 + k % VIEWERS);
            let page = 200_000 + k;
            urls.push(minter.macro_url(&client_key(index), &hmac, shown[k], page, &viewer)?);
        }
    }
    std::fs::create_dir_all(&plan.out).map_err(|e| format!("{}: {e}", plan.out.display()))?;
    write_lines(&target_file(&plan.out, "scale"), &urls)?;
    println!(
        "SEEDED sites={} tasks={} urls={} seed_seconds={seeded_secs:.1} url_seconds={:.1}",
        plan.sites,
        plan.sites * plan.tasks,
        urls.len(),
        minted.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Site `index` with its tasks, created by `--accounts` different users.
fn seed_site(plan: &SeedPlan, index: usize, nonce: &str) -> SeedSite {
    let key = client_key(index);
    SeedSite {
        shared_secret: format!("loadtest-secret-scale-{index}-{nonce}"),
        base_url: plan.base_url.clone(),
        tasks: (0..plan.tasks)
            .map(|t| SeedTask {
                title: format!("Load-test task {t} of {key}"),
                created_by: account(index, t % plan.accounts.max(1)),
            })
            .collect(),
        client_key: key,
    }
}
