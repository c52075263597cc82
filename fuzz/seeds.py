#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/seeds/<target>/ (committed).

Seeds come from the tests' fixtures: the qsh vectors (tests/fixtures/connect-qsh-vectors.json),
the shapes the integration harness sends (tests/it/harness/forge.rs, site.rs) and the cases of
the unit tests (titles, base URLs, YAML). Run it again after changing a target's input format:
    python3 fuzz/seeds.py
"""
import base64
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = os.path.join(ROOT, "fuzz", "seeds")
FAR = 4102444800  # 2100-01-01: signed seeds stay valid
APP = "ari:cloud:ecosystem::app/6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
INSTALLATION = "ari:cloud:ecosystem::installation/0000002a-0000-4025-8015-00000000002a"
CLOUD = "a436116f-02ce-4520-8fbb-7301462a1674"


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    folder = os.path.join(SEEDS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def main():
    shutil.rmtree(SEEDS, ignore_errors=True)
    with open(os.path.join(ROOT, "tests/fixtures/connect-qsh-vectors.json")) as f:
        vectors = json.load(f)["vectors"]

    # Connect: canonical requests, tokens, lifecycle bodies and base URLs of the vectors.
    HS256_HEADER = b64(b'{"alg":"HS256","typ":"JWT"}')
    for v in vectors:
        path, _, query = v["request_uri"].partition("?")
        base = v["base_url"].split("://", 1)[1].partition("/")[2]
        put("canonical_request", f"{v['method']}\n{path}\n{query}\n/{base}")
        claims = b64(compact({"iss": v["name"], "exp": FAR, "qsh": v["qsh"]}).encode())
        put("verify_token", f"{HS256_HEADER}.{claims}.c2ln")
        put("base_url", v["base_url"])
    for alg, kid in [("RS256", "prod/key-1.pem"), ("RS256", "../etc/passwd"), ("none", None)]:
        header = {"alg": alg, **({"kid": kid} if kid else {})}
        claims = {"iss": "client-1", "aud": "https://todo.example.com", "exp": FAR, "qsh": "x"}
        put("verify_token", f"{b64(compact(header).encode())}.{b64(compact(claims).encode())}.c2ln")
    payload = {"key": "todo-connect", "clientKey": "client-1", "sharedSecret": "s3cr3t",
               "baseUrl": "https://acme.atlassian.net/wiki", "displayUrl": "https://acme.example",
               "productType": "confluence", "description": "Atlassian Confluence",
               "eventType": "installed"}
    put("install_body", compact(payload))
    put("install_body", compact({**payload, "installationId": INSTALLATION, "cloudId": CLOUD}))
    put("install_body", compact(list(payload.values())))
    # Fields the app ignores are skipped unchecked: invalid UTF-8 and lone surrogates there.
    put("install_body", compact(payload)[:-1].encode() + b',"x":"\xff\xfe","y":"\\ud800"}')
    for url in ["https://Acme.atlassian.net/wiki/", "http://127.0.0.1:3000", "https://[::1]:8443/x",
                "https://xn--caf-dma.example/wiki", "https://a.com;script-src", "https://user@evil.com"]:
        put("base_url", url)

    # Forge: FIT claims as the harness signs them, key sets, event bodies.
    claims = {"iss": "forge/invocation-token", "aud": APP, "iat": 1700000000, "nbf": 1700000000,
              "exp": FAR, "jti": "jti-1", "principal": "forge-account-1",
              "app": {"id": APP, "version": "1", "installationId": INSTALLATION,
                      "apiBaseUrl": f"https://api.atlassian.com/ex/confluence/{CLOUD}",
                      "environment": {"type": "DEVELOPMENT", "id": "env-1"}},
              "context": {"cloudId": CLOUD, "siteUrl": "https://forge-site.atlassian.net"}}
    trigger = {k: v for k, v in claims.items() if k not in ("principal", "context")}
    header = '{"alg":"RS256","typ":"JWT","kid":"forge-fuzz-key-1"}'
    for spelling in range(4):
        put("forge_token", bytes([1, spelling]) + compact(claims).encode())
    put("forge_token", bytes([1, 0]) + compact(trigger).encode())
    put("forge_token", bytes([2, 1]) + f"{header}\n{compact(claims)}".encode())
    put("forge_token", bytes([3, 0]) + compact(claims).encode())
    put("forge_token", bytes([1, 0]) + compact(claims)[:-1].encode() + b',"x":"\xff\\udc00"}')
    unsigned = f"{b64(header.encode())}.{b64(compact(claims).encode())}.c2ln"
    put("forge_token", bytes([0, 0]) + unsigned.encode())

    pem = os.path.join(ROOT, "fuzz/keys/fit_published.pem")
    modulus = subprocess.run(["openssl", "rsa", "-in", pem, "-noout", "-modulus"],
                             capture_output=True, text=True, check=True).stdout
    n = b64(bytes.fromhex(modulus.strip().split("=", 1)[1]))
    good = {"kty": "RSA", "kid": "forge-test-key-1", "n": n, "e": "AQAB", "alg": "RS256", "use": "sig"}
    put("jwks", compact({"keys": [good]}))
    put("jwks", compact({"keys": [{**good, "n": n + "=" * (-len(n) % 4)}, {**good, "kid": "enc", "use": "enc"}]}))
    put("jwks", compact({"keys": [
        {"kty": "RSA", "kid": "good", "n": "AQAB", "e": "AQAB", "alg": "RS256", "use": "sig"},
        {"kty": "RSA", "kid": "padded", "n": "AQ==", "e": "AQAB"},
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        {"kty": "RSA", "kid": "hs", "n": "AQAB", "e": "AQAB", "alg": "HS256"},
        {"kty": "oct", "kid": "secret", "k": "AQAB"},
        {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AQAB", "y": "AQAB"},
        "not even an object"]}))

    installed = {"eventType": "avi:forge:installed:app", "id": INSTALLATION,
                 "installerAccountId": "forge-admin-1", "app": {"id": APP, "version": "1.0.0"},
                 "environment": {"id": "env-1"}}
    put("forge_event", compact(installed))
    put("forge_event", compact({"payload": {"id": INSTALLATION.rsplit("/", 1)[1], "app": {"id": APP}},
                                "eventType": "avi:forge:upgraded:app"}))
    put("forge_event", compact({"eventType": "avi:jira:created:issue", "id": "i"}))
    put("forge_event", '{"id": "\\ud800"}')
    # Jira's deletions: the issue or project id as a string or a number, at the top or under
    # payload, the installation left to the token.
    put("forge_event", compact({"eventType": "avi:jira:deleted:issue", "issue": {"id": "10042", "key": "PROJ-1"}}))
    put("forge_event", compact({"payload": {"eventType": "avi:jira:deleted:project", "project": {"id": 10000}},
                                "id": INSTALLATION}))
    put("forge_event", compact({"eventType": "avi:jira:deleted:issue", "issue": {"id": "../1"}}))

    # The task API and titles: the unit tests' titles, bodies, queries and cursors.
    titles = ["Buy milk", "  Buy milk \n", "👩\u200d💻 fix the laptop", "❤\ufe0f\u200d🔥 ship it",
              "می\u200cخواهم", "Café ☕ ünïcödé 日本語 עברית", "\ue000 private-use icon",
              "a\u200bb", "a\u202eb", "\ufeff", "a\u200d\u200db", "\ufdd0", "x" * 500]
    for title in titles:
        put("title", title)
    put("task_api", b"\x00" + compact({"title": titles[2], "page_id": "123456"}).encode())
    put("task_api", b"\x00" + compact([titles[4], "page-1"]).encode())
    put("task_api", b"\x01" + compact({"title": titles[5], "done": True}).encode())
    put("task_api", b"\x01" + compact({"done": False}).encode())
    put("task_api", b"\x02limit=50&before=120&done=false&q=%20milk%20")
    put("task_api", b"\x02limit=0&q=" + b"x" * 201)
    put("task_api", b"\x03" + (10**18).to_bytes(8, "little"))
    put("task_api", b"\x03" + (2**63 - 1).to_bytes(8, "little"))

    # The manifest writer: the strings its unit test pins, and a manifest-shaped document.
    tricky = ["yes", "no", "on", "null", "~", "true", "0x1F", "12", "1.5", "", " lead", "a: b",
              "#x", "- item", "[a]", "{a}", "*ref", "&anchor", "!tag", "%dir", "@at", "|", ">",
              "ari:cloud:x", "0o17", ".inf", "1e5", "+1", "1_000"]
    for text in tricky:
        put("manifest_yaml", text)
    # Past YAML's 1024-character limit for an implicit key.
    put("manifest_yaml", compact({"key": "k", "list": [{"\\\"" * 300 + "k" * 500: [None]}]}))
    put("manifest_yaml", compact({"app": {"id": APP, "runtime": {"name": "nodejs22.x"}},
                                  "modules": {"macro": [{"key": "todo-macro", "title": "TODO",
                                                         "layout": "block", "config": None,
                                                         "weight": 1.5, "big": 18446744073709551615}]},
                                  "permissions": {"scopes": ["read:confluence-user"]}}))

    # Settings files: the shipped ones, every setting, a retired key, and the refusals the unit
    # tests pin. Byte 0 picks APP_ENV, byte 1 the file (bit 0) and a DATABASE_URL (bit 1).
    for name in sorted(os.listdir(os.path.join(ROOT, "config"))):
        with open(os.path.join(ROOT, "config", name), "rb") as f:
            put("settings_file", b"\x00\x00" + f.read())
    every = "\n".join([
        'site_url = "https://todo.example.com/app"', 'host = "0.0.0.0"', "port = 8080",
        'database_path = "/data/todo.sqlite3"', "database_pool_size = 16", "database_timeout = 30",
        'connect_keys_url = "https://keys.example.com"', 'addon_key = "todo.connect-app_1"',
        'allowed_hosts = "*.atlassian.net, acme.jira.com"', "max_connections = 4096",
        "max_connections_per_ip = 0", "max_tasks_per_site = 50000",
        'forge_app_id = "0E3a1b2c-1234-4abc-9def-0123456789ab"',
        'forge_jwks_url = "https://forge.example.com/jwks"', 'metrics_addr = "127.0.0.1:9464"',
        'atlassian_oauth_url = "https://auth.atlassian.io"', ""])
    for env in range(3):
        put("settings_file", bytes([env, 1]) + every.encode())
    put("settings_file", b"\x02\x02postgres://todo@db.example.com:5432/todo?sslmode=require\x00"
        + every.encode())
    put("settings_file", b"\x00\x03host=db user=todo dbname=todo sslmode=verify-full\x00port = 1\n")
    for bad in ['adon_key = "k"', '"a\\nb" = 1', "port = 70000", "database_pool_size = 0",
                'allowed_hosts = ".evil"', 'site_url = "ftp://x"', 'metrics_addr = "localhost:1"',
                "database_timeout = 301", 'addon_key = "k\xe9"', "[table]\nkey = 1"]:
        put("settings_file", b"\x00\x00" + bad.encode("utf-8", "surrogateescape"))

    # Backups for restore: databases of our schema (SQLite, 512-byte pages to stay small) at the
    # latest and an older version, with rows, and the crafted files the restore tests refuse.
    migrations = sorted(os.listdir(os.path.join(ROOT, "db", "migrations")))
    migrations = [m for m in migrations if m.endswith(".sql")]

    def backup(version, *statements):
        path = os.path.join(SEEDS, "backup.tmp")
        if os.path.exists(path):
            os.remove(path)
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA page_size = 512")
        for number, name in enumerate(migrations[:version], 1):
            with open(os.path.join(ROOT, "db", "migrations", name)) as f:
                conn.executescript(f.read())
            conn.execute(f"PRAGMA user_version = {number}")
        for statement in statements:
            conn.executescript(statement)
        conn.commit()
        conn.execute("VACUUM")
        conn.close()
        with open(path, "rb") as f:
            data = f.read()
        os.remove(path)
        put("restore_file", data)

    site = ("INSERT INTO jwt_tokens (addon_key, client_key, shared_secret, base_url, product_type,"
            " installed_at, updated_at) VALUES ('todo-connect-test', 'client-1', 's3cr3t',"
            " 'https://acme.atlassian.net/wiki', 'confluence', 't', 't');")
    tasks = ("INSERT INTO tasks (site_id, title, created_at, updated_at)"
             " VALUES (1, 'one', 't', 't'), (1, 'two', 't', 't');")
    latest = len(migrations)
    backup(latest)
    backup(latest, site, tasks, "DELETE FROM tasks WHERE title = 'one';")
    backup(1, "INSERT INTO jwt_tokens (addon_key, client_key, shared_secret, base_url, product_type,"
              " installed_at, updated_at) VALUES ('k', 'c', 's', 'https://a.atlassian.net/wiki',"
              " 'confluence', 't', 't');")
    backup(latest, site, "CREATE VIEW v AS SELECT shared_secret FROM jwt_tokens;")
    backup(latest, site, "CREATE TRIGGER t AFTER INSERT ON tasks BEGIN"
                         " UPDATE jwt_tokens SET shared_secret = NEW.title; END;")
    backup(latest, site, tasks, "UPDATE tasks SET site_id = 9;")
    backup(latest, "PRAGMA user_version = 99;")


if __name__ == "__main__":
    main()
