//! Operating it, against the real binary on either backend: the Prometheus metrics on their
//! own listener (`METRICS_ADDR`) count exactly the requests made, parse with the official
//! Prometheus parser, carry no site, account or token in a label and keep the same series with
//! 2 or 20 sites; JSON log lines (`LOG_FORMAT=json`) parse and leak no secret; the request id
//! is echoed, made when absent and replaced when unsafe.

mod caches;
mod dashboard;
mod outbound;
mod refusals;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::harness::raw_http::{exchange, get, request};
use crate::harness::*;

/// The real binary with Connect on (a local key server), the metrics on a free loopback port
/// and JSON logs.
struct Deployment {
    _dir: tempfile::TempDir,
    server: Server,
    sys: actix_web::rt::SystemRunner,
    _keys: KeyServer,
    metrics_port: u16,
}

impl Deployment {
    fn start(extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("todo.sqlite3");
        let sys = actix_web::rt::System::new();
        let keys = sys.block_on(async { KeyServer::start() });
        // Port 0: the listener picks a free port and logs it (a port chosen here could be
        // taken by another test's server meanwhile).
        let mut binary = Binary::test(dir.path(), &db)
            .env("CONNECT_KEYS_URL", &keys.url)
            .env("METRICS_ADDR", "127.0.0.1:0");
        for (key, value) in extra {
            binary = binary.env(key, value);
        }
        let mut server = binary.serve();
        let metrics_port = metrics_port(&mut server);
        Self {
            _dir: dir,
            server,
            sys,
            _keys: keys,
            metrics_port,
        }
    }

    fn port(&self) -> u16 {
        self.server.port
    }

    /// Installs `site` and creates one task through it; the task's id.
    fn install_with_task(&self, site: &Site) -> i64 {
        let address = self.server.address();
        self.sys.block_on(site.install_at(&address));
        let body = json!({"title": "metrics task"}).to_string();
        let token = site.context_token("account-1");
        let res = request(self.port(), "POST", "/api/tasks", Some(&token), &body);
        assert_eq!(res.status, 201, "{}", res.text());
        res.json()["id"].as_i64().unwrap()
    }

    /// One authorized macro render (asserts 200).
    fn render_macro(&self, site: &Site, id: i64) {
        let path = format!("/confluence/get_task?id={id}");
        let token = site.token("GET", &path);
        let res = request(self.port(), "GET", &path, Some(&token), "");
        assert_eq!(res.status, 200, "{}", res.text());
    }

    /// Every sample of one scrape, parsed by the Prometheus client's own parser.
    fn scrape(&self, python: &Path) -> Vec<Sample> {
        let res = get(self.metrics_port, "/metrics");
        assert_eq!(res.status, 200, "{}", res.text());
        assert!(
            res.head
                .to_ascii_lowercase()
                .contains("content-type: application/openmetrics-text"),
            "{}",
            res.head
        );
        parse(python, &res.text())
    }
}

/// The metrics listener's port, from the start-up line `metrics on http://127.0.0.1:<port>/…`.
fn metrics_port(server: &mut Server) -> u16 {
    let line = server.wait_for_log("metrics on http://127.0.0.1:");
    let after = line.split("metrics on http://127.0.0.1:").nth(1).unwrap();
    after.split('/').next().unwrap().parse().unwrap()
}

#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The Python with `prometheus_client` (`TODO_CONNECT_PYTHON`, else `./.venv/bin/python`), or
/// `None` after reporting the test skipped (a failure under `CI=true`).
fn parser_python() -> Option<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    skip::require(testkit::tools::interop_python(root))
}

/// Parses an exposition with `tests/interop/parse_metrics.py` (asserts it parses).
fn parse(python: &Path, text: &str) -> Vec<Sample> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/parse_metrics.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("parse_metrics.py runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the scrape does not parse (scripts/setup.sh installs prometheus-client): {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            Sample {
                name: v["name"].as_str().unwrap().to_owned(),
                labels: serde_json::from_value(v["labels"].clone()).unwrap(),
                value: v["value"].as_f64().unwrap(),
            }
        })
        .collect()
}

/// The value of the sample `name{labels}` (0 when absent).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(v))
        })
        .map_or(0.0, |s| s.value)
}

fn requests(samples: &[Sample], route: &str, method: &str, status: &str) -> f64 {
    let labels = [("route", route), ("method", method), ("status", status)];
    value(samples, "http_requests_total", &labels)
}

/// The series (name and labels) of a scrape.
fn series(samples: &[Sample]) -> BTreeSet<String> {
    samples
        .iter()
        .map(|s| format!("{}{:?}", s.name, s.labels))
        .collect()
}

/// The same requests for each site: a macro render, a refused token, a 404.
fn traffic(deployment: &Deployment, sites: &[(Site, i64)]) {
    for (site, id) in sites {
        deployment.render_macro(site, *id);
        let res = request(
            deployment.port(),
            "GET",
            &format!("/confluence/get_task?id={id}"),
            Some(&site.token("GET", "/confluence/get_task?id=0")),
            "",
        );
        assert_eq!(res.status, 401, "{}", res.text());
        assert_eq!(get(deployment.port(), "/no/such/page").status, 404);
    }
}

#[test]
fn the_metrics_count_exactly_the_requests_made_and_name_no_site_user_or_token() {
    let Some(python) = parser_python() else {
        return;
    };
    let deployment = Deployment::start(&[]);
    let site = Site::new("metrics-a");
    let id = deployment.install_with_task(&site);
    let before = deployment.scrape(&python);

    let (healthz, not_found, renders) = (4, 3, 5);
    for _ in 0..healthz {
        assert_eq!(get(deployment.port(), "/healthz").status, 200);
    }
    for _ in 0..not_found - 1 {
        assert_eq!(get(deployment.port(), "/no/such/page").status, 404);
    }
    // The metrics are never served on the app's port.
    assert_eq!(get(deployment.port(), "/metrics").status, 404);
    for _ in 0..renders {
        deployment.render_macro(&site, id);
    }
    let forged = Site {
        secret: "not-the-shared-secret".into(),
        ..site.clone()
    };
    let path = format!("/confluence/get_task?id={id}");
    let refused = request(
        deployment.port(),
        "GET",
        &path,
        Some(&forged.token("GET", &path)),
        "",
    );
    assert_eq!(refused.status, 401);

    let after = deployment.scrape(&python);
    let moved = |route: &str, method: &str, status: &str| {
        requests(&after, route, method, status) - requests(&before, route, method, status)
    };
    assert_eq!(moved("/healthz", "GET", "2xx"), f64::from(healthz));
    assert_eq!(moved("unmatched", "GET", "4xx"), f64::from(not_found));
    assert_eq!(
        moved("/confluence/get_task", "GET", "2xx"),
        f64::from(renders)
    );
    assert_eq!(moved("/confluence/get_task", "GET", "4xx"), 1.0);
    assert_eq!(moved("/confluence/installed", "POST", "2xx"), 0.0);
    let latency = |samples: &[Sample]| {
        let labels = [("route", "/confluence/get_task"), ("method", "GET")];
        value(samples, "http_request_duration_seconds_count", &labels)
    };
    assert_eq!(latency(&after) - latency(&before), f64::from(renders + 1));
    // What happened before the first scrape is there too: one install, one task created.
    assert_eq!(
        requests(&after, "/confluence/installed", "POST", "2xx"),
        1.0
    );
    assert_eq!(requests(&after, "/api/tasks", "POST", "2xx"), 1.0);

    let backend = if on_postgres() { "postgres" } else { "sqlite" };
    let build = [("version", env!("CARGO_PKG_VERSION")), ("backend", backend)];
    assert_eq!(value(&after, "build_info", &build), 1.0);
    let max = value(&after, "db_pool_max_connections", &[]);
    assert!(max >= 1.0, "{after:?}");
    assert!(value(&after, "db_pool_in_use", &[]) <= max);
    let wal = after.iter().any(|s| s.name == "sqlite_wal_bytes");
    let waiting = after.iter().any(|s| s.name == "db_pool_waiting");
    assert_eq!((wal, waiting), (!on_postgres(), on_postgres()));

    // The one site, installed through Connect, counted when the first scrape came.
    let sites: Vec<&Sample> = after.iter().filter(|s| s.name == "sites").collect();
    assert_eq!(sites.len(), 9, "every pair of states, always: {sites:?}");
    let connect_only = [("connect", "installed"), ("forge", "never")];
    assert_eq!(value(&after, "sites", &connect_only), 1.0);
    assert_eq!(sites.iter().map(|s| s.value).sum::<f64>(), 1.0);

    let secrets = [
        site.client_key.as_str(),
        site.secret.as_str(),
        site.base_url.as_str(),
        "127.0.0.1:9",
        "account-1",
        "metrics-a",
        "eyJ",
        "/no/such",
        "metrics task",
    ];
    for sample in &after {
        for label in sample.labels.values() {
            for secret in secrets {
                assert!(!label.contains(secret), "{sample:?} carries {secret:?}");
            }
        }
    }
}

#[test]
fn the_series_are_the_same_with_2_and_with_20_sites() {
    let Some(python) = parser_python() else {
        return;
    };
    let deployment = Deployment::start(&[]);
    let install = |range: std::ops::Range<usize>| -> Vec<(Site, i64)> {
        range
            .map(|n| {
                let site = Site::new(&format!("series-{n}"));
                let id = deployment.install_with_task(&site);
                (site, id)
            })
            .collect()
    };
    let two = install(0..2);
    traffic(&deployment, &two);
    let with_two = series(&deployment.scrape(&python));
    let eighteen = install(2..20);
    traffic(&deployment, &eighteen);
    let after = deployment.scrape(&python);
    assert_eq!(series(&after), with_two);
    assert_eq!(requests(&after, "/confluence/get_task", "GET", "2xx"), 20.0);
    assert_eq!(
        requests(&after, "/confluence/installed", "POST", "2xx"),
        20.0
    );
}

/// The socket inodes the process `pid` listens on over TCP.
fn listening_sockets(pid: u32) -> usize {
    let inodes: BTreeSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_owned(),
            )
        })
        .collect();
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .map(|line| {
                    line.split_whitespace()
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        })
        // st (field 3) 0A is LISTEN; the inode is field 9.
        .filter(|fields| fields.get(3).map(String::as_str) == Some("0A"))
        .filter(|fields| fields.get(9).is_some_and(|inode| inodes.contains(inode)))
        .count()
}

#[test]
fn without_metrics_addr_nothing_more_listens_and_a_taken_port_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("todo.sqlite3");
    let binary = Binary::test(dir.path(), &db);
    let server = binary.serve();
    assert_eq!(listening_sockets(server.pid()), 1, "{}", server.log());
    assert_eq!(get(server.port, "/metrics").status, 404);
    assert!(!server.log().contains("metrics on"), "{}", server.log());
    drop(server);

    let mut with = binary.clone().env("METRICS_ADDR", "127.0.0.1:0").serve();
    let metrics_port = metrics_port(&mut with);
    assert_eq!(listening_sockets(with.pid()), 2, "{}", with.log());
    assert_eq!(get(metrics_port, "/metrics").status, 200);
    assert_eq!(get(metrics_port, "/healthz").status, 404);
    assert_eq!(get(metrics_port, "/").status, 404);
    drop(with);

    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = binary
        .env("METRICS_ADDR", format!("127.0.0.1:{port}"))
        .on_free_port()
        .run(&["serve"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port} (METRICS_ADDR)")),
        "{err}"
    );
}

/// The `x-request-id` of a response head.
fn request_id(response: &str) -> String {
    response
        .lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("x-request-id")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no x-request-id in {response}"))
}

fn healthz_with(port: u16, header: &[u8]) -> String {
    let mut raw = b"GET /healthz HTTP/1.1\r\nHost: x\r\n".to_vec();
    raw.extend_from_slice(header);
    raw.extend_from_slice(b"Connection: close\r\n\r\n");
    exchange(port, &raw)
}

#[test]
fn json_logs_parse_carry_the_request_id_and_leak_no_secret() {
    let deployment = Deployment::start(&[("LOG_FORMAT", "json")]);
    let site = Site::new("json-logs");
    let id = deployment.install_with_task(&site);
    deployment.render_macro(&site, id);
    let port = deployment.port();

    let kept = healthz_with(port, b"X-Request-Id: trace.me_42-A\r\n");
    assert!(kept.starts_with("HTTP/1.1 200"), "{kept}");
    assert_eq!(request_id(&kept), "trace.me_42-A");
    let made = [
        healthz_with(port, b""),
        healthz_with(
            port,
            format!("X-Request-Id: {}\r\n", "x".repeat(65)).as_bytes(),
        ),
        healthz_with(port, b"X-Request-Id: a\"b'c\r\n"),
        healthz_with(port, b"X-Request-Id: a b\r\n"),
    ];
    let mut ids = BTreeSet::new();
    for response in &made {
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let id = request_id(response);
        assert!(
            !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
            "{id}"
        );
        assert!(ids.insert(id), "ids repeat: {made:?}");
    }

    let mut server = deployment.server;
    server.wait_for_log("trace.me_42-A");
    for id in &ids {
        server.wait_for_log(id);
    }
    let log = server.log();
    let mut access = 0;
    for line in log.lines() {
        let line: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: not JSON: {line}"));
        for field in ["time", "level", "target", "message"] {
            assert!(line[field].is_string(), "{field} missing: {line}");
        }
        time::OffsetDateTime::parse(
            line["time"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        if line["target"] == "todo_connect::access" {
            access += 1;
            assert!(
                line["method"].is_string() && line["route"].is_string(),
                "{line}"
            );
            assert!(line["status"].is_u64() && line["ms"].is_number(), "{line}");
            assert!(line["request_id"].is_string(), "{line}");
        }
    }
    let rendered = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["route"] == "/confluence/get_task")
        .expect("the macro render's access line");
    assert_eq!(rendered["status"], 200);
    assert_eq!(rendered["method"], "GET");
    let traced = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["request_id"] == "trace.me_42-A")
        .expect("the traced request's access line");
    assert_eq!(traced["route"], "/healthz");
    assert!(access >= 8, "{log}");
    // A line the handler writes carries its request's id: the install's own line.
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let installed = lines
        .iter()
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("installed on"))
        })
        .expect("the install's line");
    let install_access = lines
        .iter()
        .find(|l| l["route"] == "/confluence/installed")
        .expect("the install's access line");
    assert!(installed["request_id"].is_string(), "{installed}");
    assert_eq!(installed["request_id"], install_access["request_id"]);
    for secret in [site.secret.as_str(), "eyJ", "jwt=", "b'c"] {
        assert!(!log.contains(secret), "the log leaks {secret:?}: {log}");
    }
}
