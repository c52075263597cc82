-- PostgreSQL twin of ../0002_site_id.sql: the row of jwt_tokens is the tenant; tasks and users
-- point at it as site_id, the name the code uses.
ALTER TABLE tasks RENAME COLUMN jwt_token_id TO site_id;
ALTER TABLE jwt_users RENAME COLUMN jwt_token_id TO site_id;
DROP INDEX tasks_by_installation;
CREATE INDEX tasks_by_site ON tasks (site_id, id);
