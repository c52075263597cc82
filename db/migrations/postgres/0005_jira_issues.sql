-- PostgreSQL twin of ../0005_jira_issues.sql: a task may belong to a Jira issue — its id
-- (stable when the issue moves project), its project's id (a project delete emits no per-issue
-- events) and the key last seen in a signed token (shown only). Set together or not at all.
ALTER TABLE tasks ADD COLUMN issue_id text;
ALTER TABLE tasks ADD COLUMN issue_project_id text;
ALTER TABLE tasks ADD COLUMN issue_key text;

-- An issue's tasks, oldest first, and a project's tasks for its deletion.
CREATE INDEX tasks_by_issue ON tasks (site_id, issue_id, id) WHERE issue_id IS NOT NULL;
CREATE INDEX tasks_by_issue_project ON tasks (site_id, issue_project_id)
    WHERE issue_project_id IS NOT NULL;
