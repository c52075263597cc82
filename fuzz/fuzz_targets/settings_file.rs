//! Fuzzes the settings files (`config/default.toml`, `config/<APP_ENV>.toml`) as start-up reads
//! them, on the one path every value takes (`Settings::read`), with a `DATABASE_URL` that holds
//! a password.
//! Input: byte 0 picks `APP_ENV`; byte 1 says which file the text is and whether the
//! environment gives a `DATABASE_URL` (the bytes before the first NUL, with a password put in);
//! the rest is the file. (Only the `postgres://` form is accepted; see `with_password`.)
//! Invariants: never panics; a refusal is one line, `invalid configuration: <name> …`, naming a
//! setting or the file; the password shows nowhere: with another password of the same shape,
//! the refusal, the settings' `Debug` and the displayed `DATABASE_URL` are exactly the same
//! (a check the fuzzer cannot fool by writing the password into the file itself); accepted settings are within every documented bound (pool size,
//! timeout, connection and task limits, add-on key, host patterns, Forge app ARI), use https
//! in production and re-parse to themselves; the text means the same in either file; and the
//! environment overrides the file (`PORT` set there wins and changes nothing else).
#![no_main]

use libfuzzer_sys::fuzz_target;
use todo_connect::fuzzing::{BaseUrl, SettingsFacts, setting_names, settings};

/// Two passwords of one shape: nothing about the settings may tell which one was given.
const PASSWORDS: [&str; 2] = ["pw-7f3c9e1d", "pw-0a2b4c6e"];
const ENVS: [&str; 3] = ["development", "test", "production"];
const FILES: [&str; 2] = ["config/default.toml", "config/<APP_ENV>.toml"];

/// `DATABASE_URL` with the password put in: after the user when the text has one `@`, else
/// as a `password` option of the query; and, when the text has a space, also after it, as
/// someone mixing in the key-value form (`host=… password=…`) would.
fn with_password(skeleton: &str, password: &str) -> String {
    let url = if skeleton.matches('@').count() == 1 {
        skeleton.replacen('@', &format!(":{password}@"), 1)
    } else if skeleton.contains('?') {
        format!("{skeleton}&password={password}")
    } else {
        format!("{skeleton}?password={password}")
    };
    match url.split_once(' ') {
        Some((before, after)) => format!("{before} password={password} {after}"),
        None => url,
    }
}

fn check_refusal(message: &str) {
    assert!(!message.chars().any(char::is_control), "{message:?}");
    let named = message
        .strip_prefix("invalid configuration: ")
        .unwrap_or_else(|| panic!("{message}"));
    let known = setting_names().into_iter().chain(FILES).any(|name| {
        named
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with(' '))
    });
    assert!(known, "{message}");
}

fn check_accepted(facts: &SettingsFacts) {
    if let Some(url) = &facts.database_url {
        assert!(!url.chars().any(char::is_control), "{url:?}");
    }
    assert!((1..=1000).contains(&facts.database_pool_size), "{facts:?}");
    assert!(
        (1..=300).contains(&facts.database_timeout_secs),
        "{facts:?}"
    );
    assert!(facts.max_connections >= 1 && facts.max_tasks_per_site >= 1);
    assert!(!facts.host.trim().is_empty());
    let key = &facts.addon_key;
    let key_char = |c: char| c.is_ascii_alphanumeric() || "-._".contains(c);
    assert!(
        (1..=64).contains(&key.len()) && key.chars().all(key_char),
        "{key:?}"
    );
    for pattern in &facts.allowed_hosts {
        let body = pattern.strip_prefix("*.").unwrap_or(pattern);
        let host_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.".contains(c);
        assert!(!body.is_empty() && !body.starts_with('.') && body.chars().all(host_char));
    }
    if let Some(ari) = &facts.forge_app_id {
        let uuid = ari.strip_prefix("ari:cloud:ecosystem::app/").unwrap();
        let shape: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(shape, [8, 4, 4, 4, 12], "{ari}");
        assert!(
            uuid.chars()
                .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
        );
    }
    let urls = [
        Some(&facts.site_url),
        Some(&facts.connect_keys_url),
        facts.forge_jwks_url.as_ref(),
    ];
    for url in urls.into_iter().flatten() {
        let again = BaseUrl::parse(url, facts.production).unwrap();
        assert_eq!(again.as_str(), url);
        assert!(!facts.production || url.starts_with("https://"), "{url}");
    }
    if facts.production {
        assert!(!facts.allowed_hosts.is_empty());
    }
}

fuzz_target!(|data: &[u8]| {
    let [pick, flags, rest @ ..] = data else {
        return;
    };
    let app_env = ENVS[*pick as usize % 3];
    let (database_url, file) = if flags & 2 != 0 {
        let Some(end) = rest.iter().position(|&b| b == 0) else {
            return;
        };
        let Ok(skeleton) = std::str::from_utf8(&rest[..end]) else {
            return;
        };
        (Some(skeleton), &rest[end + 1..])
    } else {
        (None, rest)
    };
    let env_with = |port: Option<&'static str>, password: &str| {
        let database_url = database_url.map(|skeleton| with_password(skeleton, password));
        move |name: &str| match name {
            "DATABASE_URL" => database_url.clone(),
            "PORT" => port.map(str::to_string),
            _ => None,
        }
    };
    let load_with = |as_env_file: bool, port, password| {
        let (default, other) = if as_env_file {
            (None, Some(file))
        } else {
            (Some(file), None)
        };
        settings(app_env, default, other, &env_with(port, password))
    };
    let load = |as_env_file, port| load_with(as_env_file, port, PASSWORDS[0]);
    let as_env_file = flags & 1 != 0;
    let loaded = load(as_env_file, None);
    if database_url.is_some() {
        let other = load_with(as_env_file, None, PASSWORDS[1]);
        assert_eq!(other, loaded, "what is shown depends on the password");
    }
    match &loaded {
        Err(message) => check_refusal(message),
        Ok(facts) => check_accepted(facts),
    }
    // The same text in the other file means the same (a refusal names the other file).
    let elsewhere = load(!as_env_file, None).map_err(|m| {
        let [a, b] = if as_env_file {
            FILES
        } else {
            [FILES[1], FILES[0]]
        };
        match m.strip_prefix(&format!("invalid configuration: {a} ")) {
            Some(rest) => format!("invalid configuration: {b} {rest}"),
            None => m,
        }
    });
    assert_eq!(elsewhere, loaded);
    // The environment wins over the file, and changes only what it sets.
    if let Ok(facts) = loaded {
        let mut overridden = load(as_env_file, Some("4321")).expect("PORT=4321 refused");
        assert_eq!(overridden.port, 4321);
        overridden.port = facts.port;
        overridden.debug = facts.debug.clone();
        assert_eq!(overridden, facts);
    }
});
