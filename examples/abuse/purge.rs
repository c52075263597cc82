//! The `purge` scenario of `abuse_peer` (issue 24, HIGH): the normal move from Connect to Forge
//! — a Connect install naming its cloud id, a Connect task, Forge's `installed` event, tasks
//! created through Forge, Connect's `uninstalled` — then `purge --uninstalled-for 0` from the
//! command line beside the running server, and Forge lists the site's tasks again. Before the
//! fix the purge deleted the site and Forge answered an empty list on a re-created site.

use std::process::{Command, Stdio};

use serde_json::{Value, json};
use testkit::forge::{ForgeSite, JwksServer};

use super::{ADDON_KEY, Cli, KeyServer, Result, SITE_URL, Server, install_token, payload};

const CLOUD: &str = "0c0c0c0c-1111-4222-8333-444455556666";
const INSTALLATION: &str = "ari:cloud:ecosystem::installation/0d0d0d0d-1111-4222-8333-444455556666";
const FORGE_TASKS: usize = 5;

/// A Forge site with `installation` on `cloud`, calling the app as Forge does; its calls to
/// Atlassian's API go to a loopback port nothing listens on.
pub fn forge_site(installation: &str, cloud: &str) -> ForgeSite {
    ForgeSite {
        installation_id: installation.into(),
        cloud_id: cloud.into(),
        api_base_url: format!("http://127.0.0.1:9/ex/confluence/{cloud}"),
        principal: Some("forge-account-1".into()),
    }
}

/// Starts a server with Forge on, trusting `jwks` (Forge's key set, on loopback).
pub async fn forge_server(cli: &Cli, keys: &KeyServer, jwks: &JwksServer) -> Result<Server> {
    let env = testkit::forge::forge_env(jwks);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Server::start(cli, keys, &env).await
}

/// A signed Connect lifecycle callback; its status.
async fn lifecycle(server: &Server, event: &str, body: &Value) -> Result<u16> {
    let path = format!("/confluence/{event}");
    let token = install_token(body["clientKey"].as_str().unwrap_or_default(), &path)?;
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
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Result<(u16, Value)> {
    let res = reqwest::Client::new()
        .request(method, format!("{}{path}", server.url()))
        .header(
            "Authorization",
            format!("Bearer {}", forge_site(INSTALLATION, CLOUD).token()),
        )
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    Ok((status, res.json().await.unwrap_or(Value::Null)))
}

/// The number of tasks Forge lists for the site.
async fn forge_tasks(server: &Server) -> Result<usize> {
    let (status, list) = forge(
        server,
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
        .env("CONNECT_KEYS_URL", &keys.url)
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
    let jwks = JwksServer::start();
    let server = forge_server(cli, keys, &jwks).await?;
    let mut install = payload("client-moving", "secret-of-moving");
    install["cloudId"] = json!(CLOUD);
    if lifecycle(&server, "installed", &install).await? != 204 {
        return Err("Connect install refused".into());
    }
    let event = forge_site(INSTALLATION, CLOUD).installed_event();
    let (status, _) = forge(&server, reqwest::Method::POST, "/forge/events", event).await?;
    if status != 200 {
        return Err(format!("Forge installed event: {status}"));
    }
    for n in 0..FORGE_TASKS {
        let task = json!({ "title": format!("made through Forge {n}") });
        let (status, _) = forge(&server, reqwest::Method::POST, "/forge/api/tasks", task).await?;
        if status != 201 {
            return Err(format!("Forge create: {status}"));
        }
    }
    let before = forge_tasks(&server).await?;
    if lifecycle(&server, "uninstalled", &install).await? != 204 {
        return Err("Connect uninstall refused".into());
    }
    let purged = purge(cli, &server, keys)?;
    let after = forge_tasks(&server).await?;
    println!(
        "| **Purge order**: Connect install, Forge `installed`, {FORGE_TASKS} tasks through Forge, \
         Connect `uninstalled`, `purge --uninstalled-for 0` | Forge listed {before} tasks | \
         purge: \"{purged}\" | Forge then lists {after} of {before} tasks |"
    );
    Ok(())
}
