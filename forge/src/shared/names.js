// Creators' display names in the Forge views: the rule the Connect pages follow, the same file
// (assets/js/names.js, bundled here), over Forge's transport. The product's REST API is called
// through @forge/bridge as the viewing user, so they see only the names they may see and the
// server asks nobody: Confluence one account at a time (`read:confluence-user`), Jira in
// batches through the bulk user API (`read:jira-user`).
import { requestConfluence, requestJira } from "@forge/bridge";
import "../../../assets/js/names.js";

const TodoNames = globalThis.TodoNames;
/** Accounts per Jira bulk request (the API pages at 10 by default). */
const JIRA_BATCH = 10;

async function json(response) {
  if (!response || !response.ok) { return null; }
  try { return await response.json(); } catch (e) { return null; }
}

/** One Confluence user's name, or null. */
async function confluenceName(id) {
  return TodoNames.nameOf(await json(await requestConfluence(
    "/wiki/rest/api/user?accountId=" + encodeURIComponent(id),
    { headers: { Accept: "application/json" } },
  )));
}

/** Names of up to JIRA_BATCH Jira users in one request: { accountId: name }. */
async function jiraNames(ids) {
  const query = ids.map((id) => "accountId=" + encodeURIComponent(id)).join("&");
  const body = await json(await requestJira(
    "/rest/api/3/user/bulk?maxResults=" + ids.length + "&" + query,
    { headers: { Accept: "application/json" } },
  ));
  const answers = {};
  const users = body && Array.isArray(body.values) ? body.values : [];
  users.forEach((user) => {
    if (user && typeof user.accountId === "string") { answers[user.accountId] = TodoNames.nameOf(user); }
  });
  return answers;
}

/** Fills creators' names under `root` (a Confluence view) as the viewing user. */
export function fillConfluenceNames(root) {
  TodoNames.start(root, TodoNames.oneByOne(confluenceName));
}

/** Fills creators' names under `root` (a Jira view) as the viewing user, in batches. */
export function fillJiraNames(root) {
  TodoNames.start(root, jiraNames, { batch: JIRA_BATCH });
}
