-- Installations of the app on Confluence sites (one row per client key), the
-- accounts seen per installation, and the Todo domain.
CREATE TABLE jwt_tokens (
    id               INTEGER PRIMARY KEY,
    addon_key        TEXT    NOT NULL,
    client_key       TEXT    NOT NULL,
    -- NULL once uninstalled, so no token can verify against it.
    shared_secret    TEXT,
    base_url         TEXT    NOT NULL,
    display_url      TEXT,
    product_type     TEXT    NOT NULL,
    description      TEXT,
    oauth_client_id  TEXT,
    server_version   TEXT,
    plugins_version  TEXT,
    sen              TEXT,
    -- Sent once the app adopts Connect on Forge; the same site reached by its Forge identity.
    installation_id  TEXT UNIQUE,
    installed        INTEGER NOT NULL DEFAULT 1 CHECK (installed IN (0, 1)),
    enabled          INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    installed_at     TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    uninstalled_at   TEXT,
    UNIQUE (addon_key, client_key)
);

CREATE TABLE jwt_users (
    id             INTEGER PRIMARY KEY,
    jwt_token_id   INTEGER NOT NULL REFERENCES jwt_tokens (id) ON DELETE CASCADE,
    account_id     TEXT    NOT NULL,
    first_seen_at  TEXT    NOT NULL,
    last_seen_at   TEXT    NOT NULL,
    UNIQUE (jwt_token_id, account_id)
);

-- AUTOINCREMENT: an id is never reused, so a macro that points at a deleted
-- task never starts showing a newer one.
CREATE TABLE tasks (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    jwt_token_id  INTEGER NOT NULL REFERENCES jwt_tokens (id) ON DELETE CASCADE,
    title         TEXT    NOT NULL,
    done          INTEGER NOT NULL DEFAULT 0 CHECK (done IN (0, 1)),
    created_by    TEXT,
    page_id       TEXT,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);

CREATE INDEX tasks_by_installation ON tasks (jwt_token_id, id);
