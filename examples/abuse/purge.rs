//! The `purge` scenario of `abuse_peer` (issue 24, HIGH): the normal move from Connect to Forge
//! — a Connect install naming its cloud id, a Connect task, Forge's `installed` event, tasks
//! created through Forge, Connect's `uninstalled` — then `purge --uninstalled-for 0` from the
//! command line beside the running server, and Forge lists the site's tasks again. Before the
//! fix the purge deleted the site and Forge answered an empty list on a re-created site.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header, jwk::Jwk};
use serde_json::{Value, json};
use todo_connect::connect::qsh;

use super::{ADDON_KEY, Cli, KID, KeyServer, Result, SITE_URL, Server, now, payload};

pub const FORGE_APP: &str = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";
const FORGE_KID: &str = "abuse-forge-kid";
const CLOUD: &str = "0c0c0c0c-1111-4222-8333-444455556666";
const INSTALLATION: &str = "ari:cloud:ecosystem::installation/0d0d0d0d-1111-4222-8333-4444";
const FORGE_TASKS: usize = 5;

/// A key set on loopback publishing the install key as Forge's signing key.
pub fn serve_jwks(keys: &KeyServer) -> Result<u16> {
    let private =
        EncodingKey::from_rsa_pem(keys.private_pem.as_bytes()).map_err(|e| e.to_string())?;
    let mut jwk = serde_json::to_value(
        Jwk::from_encoding_key(&private, Algorithm::RS256).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    jwk["kid"] = json!(FORGE_KID);
    let body = json!({ "keys": [jwk] }).to_string();
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut head = [0u8; 4096];
            let _ = stream.read(&mut head);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Ok(port)
}

/// A Forge Invocation Token for the site's installation.
fn fit(keys: &KeyServer) -> Result<String> {
    fit_for(keys, INSTALLATION, CLOUD)
}

/// A Forge Invocation Token for `installation` on `cloud`.
pub fn fit_for(keys: &KeyServer, installation: &str, cloud: &str) -> Result<String> {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(FORGE_KID.into());
    let app = format!("ari:cloud:ecosystem::app/{FORGE_APP}");
    let claims = json!({
        "iss": "forge/invocation-token", "aud": app, "iat": now(), "nbf": now(),
        "exp": now() + 300, "principal": "forge-account-1",
        "app": {"id": app, "installationId": installation,
                "apiBaseUrl": format!("http://127.0.0.1:9/ex/confluence/{cloud}")},
        "context": {"cloudId": cloud},
    });
    let key = EncodingKey::from_rsa_pem(keys.private_pem.as_bytes()).map_err(|e| e.to_string())?;
    jsonwebtoken::encode(&header, &claims, &key).map_err(|e| e.to_string())
}

/// A signed Connect lifecycle callback; its status.
async fn lifecycle(server: &Server, keys: &KeyServer, event: &str, body: &Value) -> Result<u16> {
    let path = format!("/confluence/{event}");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.into());
    let claims = json!({
        "iss": body["clientKey"], "aud": SITE_URL, "iat": now(), "exp": now() + 3600,
        "qsh": qsh::qsh("POST", &path, "", ""),
    });
    let key = EncodingKey::from_rsa_pem(keys.private_pem.as_bytes()).map_err(|e| e.to_string())?;
    let token = jsonwebtoken::encode(&header, &claims, &key).map_err(|e| e.to_string())?;
    let res = reqwest::Client::new()
        .post(format!("{}{path}", server.url()))
        .header("Authorization", format!("JWT {token}"))
        .json(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    Ok(res.status().as_u16())
}

/// A Forge call; its status and JSON body.
async fn forge(
    server: &Server,
    keys: &KeyServer,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Result<(u16, Value)> {
    let res = reqwest::Client::new()
        .request(method, format!("{}{path}", server.url()))
        .header("Authorization", format!("Bearer {}", fit(keys)?))
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    Ok((status, res.json().await.unwrap_or(Value::Null)))
}

/// The number of tasks Forge lists for the site.
async fn forge_tasks(server: &Server, keys: &KeyServer) -> Result<usize> {
    let (status, list) = forge(
        server,
        keys,
        reqwest::Method::GET,
        "/forge/api/tasks?limit=100",
        Value::Null,
    )
    .await?;
    if status != 200 {
        return Err(format!("Forge list: {status}"));
    }
    Ok(list["tasks"].as_array().map_or(0, Vec::len))
}

/// `purge --uninstalled-for 0` with the server's database; its last line.
fn purge(cli: &Cli, server: &Server, keys: &KeyServer) -> Result<String> {
    let out = Command::new(&cli.bin)
        .args(["purge", "--uninstalled-for", "0"])
        .env_clear()
        .env("APP_ENV", "test")
        .env("SITE_URL", SITE_URL)
        .env("ADDON_KEY", ADDON_KEY)
        .env("DATABASE_PATH", &server.db)
        .env(
            "CONNECT_KEYS_URL",
            format!("http://127.0.0.1:{}", keys.port),
        )
        .envs(server.database_url.iter().map(|url| ("DATABASE_URL", url)))
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err("purge failed".into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.lines().last().unwrap_or("").to_string())
}

/// The purge order, replayed; one table row.
pub async fn purge_order(cli: &Cli, keys: &KeyServer) -> Result<()> {
    let jwks = serve_jwks(keys)?;
    let jwks_url = format!("http://127.0.0.1:{jwks}/.well-known/jwks.json");
    let env = [
        ("FORGE_APP_ID", FORGE_APP),
        ("FORGE_JWKS_URL", jwks_url.as_str()),
    ];
    let server = Server::start(cli, keys, &env).await?;
    let mut install = payload("client-moving", "secret-of-moving");
    install["cloudId"] = json!(CLOUD);
    if lifecycle(&server, keys, "installed", &install).await? != 204 {
        return Err("Connect install refused".into());
    }
    let event = json!({"eventType": "avi:forge:installed:app", "id": INSTALLATION,
                       "app": {"id": format!("ari:cloud:ecosystem::app/{FORGE_APP}")}});
    let (status, _) = forge(&server, keys, reqwest::Method::POST, "/forge/events", event).await?;
    if status != 200 {
        return Err(format!("Forge installed event: {status}"));
    }
    for n in 0..FORGE_TASKS {
        let task = json!({ "title": format!("made through Forge {n}") });
        let (status, _) = forge(
            &server,
            keys,
            reqwest::Method::POST,
            "/forge/api/tasks",
            task,
        )
        .await?;
        if status != 201 {
            return Err(format!("Forge create: {status}"));
        }
    }
    let before = forge_tasks(&server, keys).await?;
    if lifecycle(&server, keys, "uninstalled", &install).await? != 204 {
        return Err("Connect uninstall refused".into());
    }
    let purged = purge(cli, &server, keys)?;
    let after = forge_tasks(&server, keys).await?;
    println!(
        "| **Purge order**: Connect install, Forge `installed`, {FORGE_TASKS} tasks through Forge, \
         Connect `uninstalled`, `purge --uninstalled-for 0` | Forge listed {before} tasks | \
         purge: \"{purged}\" | Forge then lists {after} of {before} tasks |"
    );
    Ok(())
}
