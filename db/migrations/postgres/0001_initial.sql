-- PostgreSQL twin of ../0001_initial.sql: the same tables and columns in the same order, with
-- PostgreSQL's own types (identity ids that are never reused, booleans, timestamptz).
CREATE TABLE jwt_tokens (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    addon_key        text        NOT NULL,
    client_key       text        NOT NULL,
    -- NULL once uninstalled, so no token can verify against it.
    shared_secret    text,
    base_url         text        NOT NULL,
    display_url      text,
    product_type     text        NOT NULL,
    description      text,
    oauth_client_id  text,
    server_version   text,
    plugins_version  text,
    sen              text,
    -- Sent once the app adopts Connect on Forge; the same site reached by its Forge identity.
    installation_id  text        UNIQUE,
    installed        boolean     NOT NULL DEFAULT true,
    enabled          boolean     NOT NULL DEFAULT true,
    installed_at     timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    uninstalled_at   timestamptz,
    UNIQUE (addon_key, client_key)
);

CREATE TABLE jwt_users (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jwt_token_id   bigint      NOT NULL REFERENCES jwt_tokens (id) ON DELETE CASCADE,
    account_id     text        NOT NULL,
    first_seen_at  timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    UNIQUE (jwt_token_id, account_id)
);

-- An identity sequence never hands out an id twice, so a macro that points at a deleted task
-- never starts showing a newer one (SQLite's AUTOINCREMENT).
CREATE TABLE tasks (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jwt_token_id  bigint      NOT NULL REFERENCES jwt_tokens (id) ON DELETE CASCADE,
    title         text        NOT NULL,
    done          boolean     NOT NULL DEFAULT false,
    created_by    text,
    page_id       text,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE INDEX tasks_by_installation ON tasks (jwt_token_id, id);
