//! The Confluence side of `scripts/loadtest.sh`.
//!
//! `setup`: plays Atlassian and three kinds of Confluence site on 127.0.0.1:<peer-port>: it
//! serves a fresh RSA public key for a `kid` (the app's `CONNECT_KEYS_URL` is
//! `http://127.0.0.1:<peer-port>`) and the sites' base URLs — answering at once for the `mix`
//! sites (`…/fast/wiki`), after `--slow-ms` for the `slow` sites (`…/slow/wiki`); the `down`
//! sites' base URL is a loopback port nothing listens on. The app calls none of them (names
//! and publishing are the page's): the kinds show that how a site's Confluence fares does not
//! reach the server. For each kind it installs `--sites` sites with real signed installs,
//! creates `--tasks` tasks on each through the JSON API (as `--accounts` different users), and
//! writes one file of macro URLs (path and query, one a line), `--tokens` per task, every one
//! with its own token, as Confluence mints a fresh one for every iframe it renders. It also
//! writes `single.txt` (one of those URLs: the first pass's one-token round) and
//! `healthz.txt`, checks that a URL of every site renders, prints `SETUP_DONE`, and keeps
//! serving the install key until it is killed.
//!
//! `seed`: the scale round's sites (`seed.rs`): thousands of Connect sites and their tasks
//! written straight into the database through the app's stores, one transaction per batch,
//! and `scale.txt`, their macro URLs.
//!
//! `sites`: Confluence sites that answer after `--slow-ms`, on `--port`, until killed: what the scale round's sites are during its slow round (during its down round
//! nothing listens there).
//!
//! `ready`: starts the given server command several times and prints how long each start took
//! until `/healthz` answered 200.
//!
//! ```sh
//! cargo run --release --example loadtest_peer -- setup --app http://127.0.0.1:8080 --peer-port 8081 --out /tmp/targets &
//! cargo run --release --example loadtest_peer -- seed --sites 10000 --tasks 200 --base-url http://127.0.0.1:8082/slow/wiki --out /tmp/targets
//! cargo run --release --example loadtest_peer -- sites --port 8082 --slow-ms 2000 &
//! cargo run --release --example loadtest_peer -- ready --url http://127.0.0.1:8080/healthz -- target/release/todo-connect serve
//! ```

mod ready;
mod seed;
mod setup;
mod urls;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// The `kid` the install key is served under.
const KID: &str = "loadtest-kid-1";

#[derive(Parser)]
#[command(about = "The Confluence side of scripts/loadtest.sh")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the install key and the sites, install them, create tasks, write the URL files.
    Setup(setup::Plan),
    /// Seed sites and tasks through the stores (the scale round), write `scale.txt`.
    Seed(seed::SeedPlan),
    /// Serve sites that answer after `slow_ms`, on `port`, until killed.
    Sites {
        #[arg(long)]
        port: u16,
        #[arg(long, default_value_t = 2000)]
        slow_ms: u64,
    },
    /// Start a server command `times` times; print the milliseconds until /healthz answered.
    Ready {
        /// The healthz URL the started server answers on.
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 5)]
        times: usize,
        /// The server command and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Cmd::Setup(plan) => actix_web::rt::System::new().block_on(run_setup(plan)),
        Cmd::Seed(plan) => actix_web::rt::System::new().block_on(seed::run(&plan)),
        Cmd::Sites { port, slow_ms } => {
            actix_web::rt::System::new().block_on(run_sites(port, slow_ms))
        }
        Cmd::Ready {
            url,
            times,
            command,
        } => ready::ready(&url, times, &command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("loadtest_peer: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run_setup(plan: setup::Plan) -> Result<()> {
    let keys = testkit::rsa::new_rsa_keys()?;
    let slow = Duration::from_millis(plan.slow_ms);
    testkit::confluence::Peer::start(plan.peer_port, KID, keys.public_pem, slow)?;
    setup::run(&plan, &keys.private_pem).await?;
    println!("SETUP_DONE");
    // Keep serving the key and the sites for the servers started later in the run.
    std::future::pending::<()>().await;
    Ok(())
}

async fn run_sites(port: u16, slow_ms: u64) -> Result<()> {
    // No install happens here: the key route is never asked.
    let slow = Duration::from_millis(slow_ms);
    testkit::confluence::Peer::start(port, KID, String::new(), slow)?;
    println!("SITES_READY");
    std::future::pending::<()>().await;
    Ok(())
}

type Result<T> = std::result::Result<T, String>;

/// Where the files of request targets go.
fn target_file(dir: &std::path::Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.txt"))
}
