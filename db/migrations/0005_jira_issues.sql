-- A task may belong to a Jira issue, as it may belong to a Confluence page: the issue id (keys
-- change when an issue moves project, ids do not), its project's id (a project delete emits no
-- per-issue events, so its tasks are found by project) and the key last seen in a signed token
-- (shown, never used to find anything). All three are set together or not at all.
ALTER TABLE tasks ADD COLUMN issue_id TEXT;
ALTER TABLE tasks ADD COLUMN issue_project_id TEXT;
ALTER TABLE tasks ADD COLUMN issue_key TEXT;

-- An issue's tasks, oldest first, and a project's tasks for its deletion; only issue tasks are
-- indexed.
CREATE INDEX tasks_by_issue ON tasks (site_id, issue_id, id) WHERE issue_id IS NOT NULL;
CREATE INDEX tasks_by_issue_project ON tasks (site_id, issue_project_id)
    WHERE issue_project_id IS NOT NULL;
