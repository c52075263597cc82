-- PostgreSQL twin of ../0003_forge.sql: a site reached only through Forge has no Connect
-- client key, shared secret or base URL, so those columns become nullable; a site also
-- carries its Forge identity, the cloud id (stable across reinstalls, unique) and the Forge
-- API base URL its tokens name. PostgreSQL changes the constraints in place (no rebuild); the
-- new columns come last here, so every reader names its columns.
ALTER TABLE jwt_tokens ALTER COLUMN client_key DROP NOT NULL;
ALTER TABLE jwt_tokens ALTER COLUMN base_url DROP NOT NULL;
-- The Confluence site's cloud id; does not change on reinstall.
ALTER TABLE jwt_tokens ADD COLUMN cloud_id text UNIQUE;
-- Forge's app.apiBaseUrl for the site (https://api.atlassian.com/ex/confluence/<cloudId>).
ALTER TABLE jwt_tokens ADD COLUMN api_base_url text;
-- A Connect site has its base URL; any site has a way in.
ALTER TABLE jwt_tokens ADD CONSTRAINT jwt_tokens_connect_base_url
    CHECK (client_key IS NULL OR base_url IS NOT NULL);
ALTER TABLE jwt_tokens ADD CONSTRAINT jwt_tokens_a_way_in
    CHECK (client_key IS NOT NULL OR installation_id IS NOT NULL);
