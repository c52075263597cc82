//! Installs the sites of each kind, creates their tasks through the JSON API, and writes the
//! macro URLs to load (one a line, each with its own token).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use testkit::confluence;
use testkit::now;
use testkit::tokens::{context_claims, install_claims, install_payload, sign_with};

use super::urls::{Minter, VIEWERS, account};

use super::{KID, Result, target_file};
/// Installs and task creations under way at once (each a database write).
const CONCURRENCY: usize = 8;

/// What to set up (the `setup` subcommand's options).
#[derive(clap::Args)]
pub struct Plan {
    /// The running app, e.g. http://127.0.0.1:8080
    #[arg(long)]
    pub app: String,
    /// Port of this peer on 127.0.0.1: key server and Confluence sites.
    #[arg(long)]
    pub peer_port: u16,
    /// The app's SITE_URL: the `aud` of install tokens.
    #[arg(long, default_value = "https://todo-loadtest.example")]
    pub site_url: String,
    /// The app's ADDON_KEY.
    #[arg(long, default_value = "todo-connect-loadtest")]
    pub addon_key: String,
    /// Sites of each kind (mix, slow, down).
    #[arg(long, default_value_t = 20)]
    pub sites: usize,
    /// Tasks per site.
    #[arg(long, default_value_t = 50)]
    pub tasks: usize,
    /// Macro URLs (tokens) per task.
    #[arg(long, default_value_t = 4)]
    pub tokens: usize,
    /// Different task creators per site (each an account id the page would name).
    #[arg(long, default_value_t = 5)]
    pub accounts: usize,
    /// How long the slow sites take to answer anything, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub slow_ms: u64,
    /// Lifetime of the macro tokens in seconds (the whole load test must fit in it).
    #[arg(long, default_value_t = 3600)]
    pub ttl: i64,
    /// The folder the URL files are written to.
    #[arg(long)]
    pub out: PathBuf,
}

/// One Confluence site as the load test plays it.
struct Site {
    kind: &'static str,
    index: usize,
    client_key: String,
    secret: String,
    base_url: String,
}

/// Installs every site, creates the tasks, writes `<kind>.txt`, `single.txt`, `healthz.txt`.
pub async fn run(plan: &Plan, private_pem: &str) -> Result<()> {
    let peer = format!("http://127.0.0.1:{}", plan.peer_port);
    let kinds = [
        ("mix", format!("{peer}/fast/wiki")),
        ("slow", format!("{peer}/slow/wiki")),
        ("down", format!("{}/wiki", confluence::down_origin()?)),
    ];
    std::fs::create_dir_all(&plan.out).map_err(|e| format!("{}: {e}", plan.out.display()))?;
    let setup = Setup::new(plan, private_pem)?;
    let mut first_mix_url = None;
    for (kind, base_url) in kinds {
        let sites: Vec<Site> = (0..plan.sites)
            .map(|index| Site {
                kind,
                index,
                client_key: format!("loadtest-{kind}-{index}"),
                secret: format!(
                    "loadtest-secret-{kind}-{index}-{}-{}",
                    now(),
                    std::process::id()
                ),
                base_url: base_url.clone(),
            })
            .collect();
        let urls = setup.sites(&sites).await?;
        first_mix_url.get_or_insert_with(|| urls[0].clone());
        write_lines(&target_file(&plan.out, kind), &urls)?;
        eprintln!(
            "loadtest_peer: {kind}: {} sites, {} URLs",
            plan.sites,
            urls.len()
        );
    }
    let single = first_mix_url.ok_or("no sites")?;
    write_lines(&target_file(&plan.out, "single"), &[single])?;
    write_lines(
        &target_file(&plan.out, "healthz"),
        &["/healthz".to_string()],
    )
}

pub fn write_lines(path: &Path, lines: &[String]) -> Result<()> {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// What every site's setup shares.
struct Setup<'p> {
    plan: &'p Plan,
    http: reqwest::Client,
    rsa: EncodingKey,
    minter: Minter,
}

impl<'p> Setup<'p> {
    fn new(plan: &'p Plan, private_pem: &str) -> Result<Self> {
        Ok(Self {
            plan,
            // Idle connections are dropped well before the server's 5 s keep-alive ends them:
            // reusing one the server is closing at that moment fails the request
            // ("error sending request"), which once failed a whole run.
            http: reqwest::Client::builder()
                .pool_idle_timeout(std::time::Duration::from_secs(2))
                .build()
                .map_err(|e| e.to_string())?,
            rsa: EncodingKey::from_rsa_pem(private_pem.as_bytes()).map_err(|e| e.to_string())?,
            minter: Minter::new(&plan.site_url, &plan.addon_key, plan.ttl)?,
        })
    }

    /// Installs the sites, creates their tasks, checks that each renders; answers the macro
    /// URLs, interleaved so that consecutive requests go to different sites.
    async fn sites(&self, sites: &[Site]) -> Result<Vec<String>> {
        let installs = sites.iter().map(|site| self.install(site));
        all_ok(
            stream::iter(installs)
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await,
        )?;
        let keys = sites
            .iter()
            .map(|site| EncodingKey::from_secret(site.secret.as_bytes()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let jobs = (0..self.plan.tasks).flat_map(|t| sites.iter().map(move |site| (site, t)));
        let keys_ref = &keys;
        let creates = jobs.map(|(site, t)| async move {
            let id = self.create_task(site, &keys_ref[site.index], t).await;
            id.map(|id| ((site.index, t), id))
        });
        let ids: Vec<Result<((usize, usize), i64)>> = stream::iter(creates)
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let ids: HashMap<(usize, usize), i64> = ids.into_iter().collect::<Result<_>>()?;
        let mut urls = Vec::new();
        for t in 0..self.plan.tasks {
            for k in 0..self.plan.tokens {
                for site in sites {
                    let n = t * self.plan.tokens + k;
                    let viewer = account(site.index, 1000 + n % VIEWERS);
                    let (id, key) = (ids[&(site.index, t)], &keys[site.index]);
                    urls.push(self.minter.macro_url(
                        &site.client_key,
                        key,
                        id,
                        98_000 + n,
                        &viewer,
                    )?);
                }
            }
        }
        // Every site renders.
        let checks = urls[..sites.len()].iter().map(|url| self.check(url));
        all_ok(join_all(checks).await)?;
        Ok(urls)
    }

    /// The signed install, exactly as Confluence sends it.
    async fn install(&self, site: &Site) -> Result<()> {
        let path = "/confluence/installed";
        let claims = install_claims(
            &site.client_key,
            &self.plan.site_url,
            path,
            &self.minter.base_path,
        );
        let token = sign_with(&claims, &self.rsa, Algorithm::RS256, Some(KID))?;
        let mut body = install_payload(
            &self.plan.addon_key,
            &site.client_key,
            &site.secret,
            &site.base_url,
        );
        body["displayUrl"] = json!(format!(
            "https://{}-{}.atlassian.net/wiki",
            site.kind, site.index
        ));
        let res = self
            .http
            .post(format!("{}{path}", self.plan.app))
            .header("Authorization", format!("JWT {token}"))
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("install {}: {e}", site.client_key))?;
        match res.status().as_u16() {
            204 => Ok(()),
            other => Err(format!("install {} answered {other}", site.client_key)),
        }
    }

    /// Task `t` of the site, created by one of its accounts with a browser context token.
    async fn create_task(&self, site: &Site, hmac: &EncodingKey, t: usize) -> Result<i64> {
        let creator = account(site.index, t % self.plan.accounts.max(1));
        let claims = context_claims(&site.client_key, &creator, 900);
        let token = sign_with(&claims, hmac, Algorithm::HS256, None)?;
        let res = self
            .http
            .post(format!("{}/api/tasks", self.plan.app))
            .header("Authorization", format!("JWT {token}"))
            .json(&json!({"title": format!("Load-test task {t} of {}", site.client_key)}))
            .send()
            .await
            .map_err(|e| format!("create task: {e}"))?;
        if res.status().as_u16() != 201 {
            return Err(format!("create task answered {}", res.status()));
        }
        let task: Value = res.json().await.map_err(|e| format!("task JSON: {e}"))?;
        task["id"].as_i64().ok_or_else(|| "task without id".into())
    }

    /// The URL renders its task.
    async fn check(&self, url: &str) -> Result<()> {
        let res = self
            .http
            .get(format!("{}{url}", self.plan.app))
            .send()
            .await
            .map_err(|e| format!("macro: {e}"))?;
        let status = res.status().as_u16();
        let page = res.text().await.map_err(|e| format!("macro: {e}"))?;
        if status != 200 || !page.contains("Load-test task") {
            return Err(format!("the macro answered {status} without its task"));
        }
        Ok(())
    }
}

fn all_ok(results: Vec<Result<()>>) -> Result<()> {
    results.into_iter().collect()
}
