//! The whole macro request in-process: the service `Application::build` serves
//! (`todo_connect::app`: same state, middleware and routes) on a real SQLite file in a temp
//! dir, a site installed through the signed `installed` callback and a task created through the
//! JSON API; then `GET /confluence/get_task?id=N&…&jwt=…` against `GET /healthz`, the
//! empty-route baseline; `TODO_CONNECT_BENCH_METRICS=1` records the request metrics (as
//! `METRICS_ADDR` does). No logger is installed, so the access-log line costs nothing here (it
//! does in production, see docs/performance.md).
//!
//! `get_task_macro_fresh_tokens` is the load test's mix in miniature: a fresh token on every
//! URL, cycling over [`TASKS`] tasks. `MACRO_CALLS=N` skips criterion and makes exactly N such
//! requests in `run_calls`, for counting instructions under callgrind, which a shared machine
//! cannot disturb (docs/performance.md, "The hot path"):
//! `MACRO_CALLS=2000 valgrind --tool=callgrind --toggle-collect='*run_calls*' <bench binary>`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::rt::{System, SystemRunner};
use actix_web::test::{self, TestRequest};
use actix_web::web;
use criterion::{Criterion, criterion_group, criterion_main};
use testkit::confluence::{self, Peer};
use testkit::keys::{INSTALL_KID, install_keys};
use testkit::{ADDON_KEY, SITE_URL};
use todo_connect::app::startup;
use todo_connect::config::Settings;

fn settings(dir: &std::path::Path, keys_url: &str) -> Settings {
    let mut env: HashMap<&str, String> = HashMap::from([
        ("APP_ENV", "test".to_string()),
        ("SITE_URL", SITE_URL.to_string()),
        ("HOST", "127.0.0.1".to_string()),
        ("PORT", "0".to_string()),
        (
            "DATABASE_PATH",
            dir.join("bench.sqlite3").display().to_string(),
        ),
        ("CONNECT_KEYS_URL", keys_url.to_string()),
        ("ADDON_KEY", ADDON_KEY.to_string()),
    ]);
    // TODO_CONNECT_BENCH_METRICS=1: the request metrics are recorded, as with METRICS_ADDR set
    // (the in-process service binds no listener), to compare with and without.
    if std::env::var_os("TODO_CONNECT_BENCH_METRICS").is_some() {
        env.insert("METRICS_ADDR", "127.0.0.1:9464".to_string());
    }
    Settings::load(&|k| env.get(k).cloned(), dir).expect("bench settings")
}

/// Tasks the fresh-token requests cycle over.
const TASKS: i64 = 20;

/// Fresh-token macro URLs of the first `TASKS` tasks, `count` of them, each token distinct (its
/// `exp` differs), minted before anything is measured.
fn fresh_uris(first_task: i64, count: usize) -> Vec<String> {
    (0..count)
        .map(|n| {
            let id = first_task + n as i64 % TASKS;
            confluence::macro_uri(id, ADDON_KEY, 3600 + n as i64).expect("macro URL")
        })
        .collect()
}

/// Serves every URL once, in order.
#[inline(never)]
fn run_calls<S, B>(system: &SystemRunner, app: &S, uris: &[String])
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    system.block_on(async {
        for uri in uris {
            let req = TestRequest::get().uri(uri).to_request();
            let res = app.call(req).await.expect("response");
            assert_eq!(res.status(), StatusCode::OK);
            std::hint::black_box(res);
        }
    });
}

fn bench_requests(c: &mut Criterion) {
    let system = System::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let keys = install_keys();
    let (app, macro_uri, first_task) = system.block_on(async {
        let atlassian = Peer::start(0, INSTALL_KID, keys.public_pem.clone(), Duration::ZERO)
            .expect("stand-in Atlassian");
        let settings = settings(dir.path(), &atlassian.url);
        let pool = startup::open_database(&settings).expect("database");
        let http = todo_connect::util::http::client().expect("HTTP client");
        let state = startup::AppState::build(settings, pool, http).expect("app state");
        let app = test::init_service(startup::app(web::Data::new(state))).await;

        let install = TestRequest::post()
            .uri("/confluence/installed")
            .insert_header((
                header::AUTHORIZATION,
                format!(
                    "JWT {}",
                    confluence::install_token(SITE_URL, &keys.private_pem, INSTALL_KID)
                        .expect("install token")
                ),
            ))
            .set_json(testkit::tokens::install_payload(
                ADDON_KEY,
                confluence::CLIENT_KEY,
                confluence::SHARED_SECRET,
                &atlassian.site("fast"),
            ))
            .to_request();
        let res = test::call_service(&app, install).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "signed install");

        let create = TestRequest::post()
            .uri("/api/tasks")
            .insert_header((
                header::AUTHORIZATION,
                format!(
                    "JWT {}",
                    confluence::context_token().expect("context token")
                ),
            ))
            .set_json(serde_json::json!({"title": "Benchmark the macro"}))
            .to_request();
        let task: serde_json::Value = test::call_and_read_body_json(&app, create).await;
        let id = task["id"].as_i64().expect("task id");
        for n in 1..TASKS {
            let create = TestRequest::post()
                .uri("/api/tasks")
                .insert_header((
                    header::AUTHORIZATION,
                    format!(
                        "JWT {}",
                        confluence::context_token().expect("context token")
                    ),
                ))
                .set_json(serde_json::json!({"title": format!("Benchmark task {n}")}))
                .to_request();
            let res = test::call_service(&app, create).await;
            assert_eq!(res.status(), StatusCode::CREATED, "task {n}");
        }

        // The first view also learns the creator's name from the site; later views hit the cache.
        let macro_uri = confluence::macro_uri(id, ADDON_KEY, 3600).expect("macro URL");
        let req = TestRequest::get().uri(&macro_uri).to_request();
        let page = test::call_and_read_body(&app, req).await;
        let page = String::from_utf8_lossy(&page);
        assert!(
            page.contains("Benchmark the macro"),
            "macro renders the task"
        );
        (app, macro_uri, id)
    });
    if let Some(calls) = std::env::var("MACRO_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        let uris = fresh_uris(first_task, calls);
        // Every task once first, so the counted calls all find their creator's name known.
        run_calls(&system, &app, &fresh_uris(first_task, TASKS as usize));
        run_calls(&system, &app, &uris);
        std::process::exit(0);
    }

    // TODO_CONNECT_BENCH_REQUESTS=N: exactly N macro requests and no measurement, for an
    // instruction count under callgrind (run it with N and with 0; the difference / N is one
    // request's cost), where wall-clock time on a shared machine is noise.
    if let Some(n) = std::env::var("TODO_CONNECT_BENCH_REQUESTS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
    {
        system.block_on(async {
            for _ in 0..n {
                let req = TestRequest::get().uri(&macro_uri).to_request();
                let res = app.call(req).await.expect("response");
                assert_eq!(res.status(), StatusCode::OK);
                std::hint::black_box(res);
            }
        });
        return;
    }
    let mut group = c.benchmark_group("in_process");
    for (name, uri) in [
        ("healthz", "/healthz".to_string()),
        ("get_task_macro", macro_uri),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                system.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iters {
                        let req = TestRequest::get().uri(&uri).to_request();
                        let res = app.call(req).await.expect("response");
                        assert_eq!(res.status(), StatusCode::OK);
                        std::hint::black_box(res);
                    }
                    started.elapsed()
                })
            })
        });
    }
    let uris = fresh_uris(first_task, 20_000);
    group.bench_function("get_task_macro_fresh_tokens", |b| {
        let mut next = uris.iter().cycle();
        b.iter_custom(|iters| {
            system.block_on(async {
                let started = Instant::now();
                for _ in 0..iters {
                    let uri = next.next().expect("cycles");
                    let req = TestRequest::get().uri(uri).to_request();
                    let res = app.call(req).await.expect("response");
                    assert_eq!(res.status(), StatusCode::OK);
                    std::hint::black_box(res);
                }
                started.elapsed()
            })
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_requests
}
criterion_main!(benches);
