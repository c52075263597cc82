-- One site, two ways in: a site reached only through Forge has no Connect client key and no
-- shared secret, so those columns (and the Connect-only base URL) become nullable; a site
-- also carries its Forge identity: the cloud id (stable across reinstalls, unique) and the
-- Forge API base URL its tokens name. SQLite cannot drop NOT NULL in place, so the table is
-- rebuilt; the migration runner turns foreign keys off around it (a DROP TABLE with foreign
-- keys on would cascade-delete every task) and checks them before the commit.
CREATE TABLE jwt_tokens_new (
    id               INTEGER PRIMARY KEY,
    addon_key        TEXT    NOT NULL,
    -- NULL for a Forge-only site.
    client_key       TEXT,
    -- NULL once uninstalled, and for a Forge-only site: no Connect token can verify.
    shared_secret    TEXT,
    -- The Connect baseUrl; NULL for a Forge-only site.
    base_url         TEXT,
    display_url      TEXT,
    product_type     TEXT    NOT NULL,
    description      TEXT,
    oauth_client_id  TEXT,
    server_version   TEXT,
    plugins_version  TEXT,
    sen              TEXT,
    -- The Forge installation (ari:cloud:ecosystem::installation/<uuid>); changes on reinstall.
    installation_id  TEXT UNIQUE,
    -- The Confluence site's cloud id; does not change on reinstall.
    cloud_id         TEXT UNIQUE,
    -- Forge's app.apiBaseUrl for the site (https://api.atlassian.com/ex/confluence/<cloudId>).
    api_base_url     TEXT,
    installed        INTEGER NOT NULL DEFAULT 1 CHECK (installed IN (0, 1)),
    enabled          INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    installed_at     TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    uninstalled_at   TEXT,
    UNIQUE (addon_key, client_key),
    -- A Connect site has its base URL; any site has a way in.
    CHECK (client_key IS NULL OR base_url IS NOT NULL),
    CHECK (client_key IS NOT NULL OR installation_id IS NOT NULL)
);

INSERT INTO jwt_tokens_new (id, addon_key, client_key, shared_secret, base_url, display_url,
    product_type, description, oauth_client_id, server_version, plugins_version, sen,
    installation_id, installed, enabled, installed_at, updated_at, uninstalled_at)
SELECT id, addon_key, client_key, shared_secret, base_url, display_url,
    product_type, description, oauth_client_id, server_version, plugins_version, sen,
    installation_id, installed, enabled, installed_at, updated_at, uninstalled_at
FROM jwt_tokens;

DROP TABLE jwt_tokens;
ALTER TABLE jwt_tokens_new RENAME TO jwt_tokens;
