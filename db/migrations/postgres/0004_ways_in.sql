-- PostgreSQL twin of ../0004_ways_in.sql: each way in (Connect, Forge) keeps its own state and
-- times on the site's row; NULL state: the site never had that way in.
ALTER TABLE jwt_tokens ADD COLUMN connect_state text
    CHECK (connect_state IN ('installed', 'uninstalled'));
ALTER TABLE jwt_tokens ADD COLUMN connect_installed_at timestamptz;
ALTER TABLE jwt_tokens ADD COLUMN connect_uninstalled_at timestamptz;
ALTER TABLE jwt_tokens ADD COLUMN connect_seen_at timestamptz;
ALTER TABLE jwt_tokens ADD COLUMN forge_state text
    CHECK (forge_state IN ('installed', 'uninstalled'));
ALTER TABLE jwt_tokens ADD COLUMN forge_installed_at timestamptz;
ALTER TABLE jwt_tokens ADD COLUMN forge_uninstalled_at timestamptz;
ALTER TABLE jwt_tokens ADD COLUMN forge_seen_at timestamptz;

-- Backfill, as on SQLite.
UPDATE jwt_tokens SET
    connect_state = CASE WHEN installed AND shared_secret IS NOT NULL
                         THEN 'installed' ELSE 'uninstalled' END,
    connect_installed_at = installed_at,
    connect_uninstalled_at = CASE WHEN installed AND shared_secret IS NOT NULL
                                  THEN NULL ELSE COALESCE(uninstalled_at, updated_at) END
WHERE client_key IS NOT NULL;
UPDATE jwt_tokens SET forge_state = 'installed', forge_installed_at = installed_at
WHERE installation_id IS NOT NULL AND (client_key IS NULL OR api_base_url IS NOT NULL);

-- Installation ids a reinstall replaced: a token naming one is refused.
CREATE TABLE forge_retired_installations (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    installation_id  text        NOT NULL UNIQUE,
    site_id          bigint      NOT NULL REFERENCES jwt_tokens (id) ON DELETE CASCADE,
    retired_at       timestamptz NOT NULL
);
CREATE INDEX forge_retired_by_site ON forge_retired_installations (site_id);
