-- A site is gone only when every way in is gone: each way in (Connect, Forge) keeps its own
-- state and times on the site's row. NULL state: the site never had that way in. `installed`
-- and `uninstalled_at` stay as they were (installed through some way in; when the last went).
-- `*_seen_at` is the last recorded use (written at most once per few minutes per site).
ALTER TABLE jwt_tokens ADD COLUMN connect_state TEXT
    CHECK (connect_state IN ('installed', 'uninstalled'));
ALTER TABLE jwt_tokens ADD COLUMN connect_installed_at TEXT;
ALTER TABLE jwt_tokens ADD COLUMN connect_uninstalled_at TEXT;
ALTER TABLE jwt_tokens ADD COLUMN connect_seen_at TEXT;
ALTER TABLE jwt_tokens ADD COLUMN forge_state TEXT
    CHECK (forge_state IN ('installed', 'uninstalled'));
ALTER TABLE jwt_tokens ADD COLUMN forge_installed_at TEXT;
ALTER TABLE jwt_tokens ADD COLUMN forge_uninstalled_at TEXT;
ALTER TABLE jwt_tokens ADD COLUMN forge_seen_at TEXT;

-- Backfill. Connect: every row with a client key, by its lifecycle columns. Forge: a site met
-- through Forge (a Forge-only row, or one a Forge call gave its apiBaseUrl) is installed — the
-- app never heard a Forge uninstall before this version. An installation id that only came in
-- a Connect payload is not a Forge way in of its own.
UPDATE jwt_tokens SET
    connect_state = CASE WHEN installed = 1 AND shared_secret IS NOT NULL
                         THEN 'installed' ELSE 'uninstalled' END,
    connect_installed_at = installed_at,
    connect_uninstalled_at = CASE WHEN installed = 1 AND shared_secret IS NOT NULL
                                  THEN NULL ELSE COALESCE(uninstalled_at, updated_at) END
WHERE client_key IS NOT NULL;
UPDATE jwt_tokens SET forge_state = 'installed', forge_installed_at = installed_at
WHERE installation_id IS NOT NULL AND (client_key IS NULL OR api_base_url IS NOT NULL);

-- Installation ids a reinstall replaced: a token naming one is refused, so two ids cannot take
-- turns owning a site.
CREATE TABLE forge_retired_installations (
    id               INTEGER PRIMARY KEY,
    installation_id  TEXT    NOT NULL UNIQUE,
    site_id          INTEGER NOT NULL REFERENCES jwt_tokens (id) ON DELETE CASCADE,
    retired_at       TEXT    NOT NULL
);
CREATE INDEX forge_retired_by_site ON forge_retired_installations (site_id);
