// The one way the Custom UI reaches the todo-connect server: invokeRemote from @forge/bridge,
// through the resolver endpoint the manifest gives each module. Forge adds a signed Forge
// Invocation Token to every call; the UI itself never holds a token.
import { invokeRemote } from "@forge/bridge";
import { TodoViews } from "./views.js";

/** The task API on the server: app::routes::paths::FORGE_API_TASKS (the browser test fails if they differ). */
export const TASKS = "/forge/api/tasks";
/** The tasks of the Jira issue the panel is on: app::routes::paths::FORGE_API_ISSUE_TASKS. */
export const ISSUE_TASKS = "/forge/api/issue/tasks";
/** "Publish to Confluence": app::routes::paths::FORGE_API_PUBLISH. */
export const PUBLISH = "/forge/api/publish";

function messageFor(status, body, path) {
  if (status === 401) { return "Your session expired. Reload the page to continue."; }
  // A 404 on one task means it is gone (or another site's); on the list, a server without Forge.
  if (status === 404 && path.indexOf(TASKS + "/") === 0) { return "That task no longer exists."; }
  if (status === 413) { return "That is too long."; }
  if (body && typeof body.error === "string" && body.error) { return body.error; }
  if (!status) { return "The Todo service cannot be reached. Please try again."; }
  return "Something went wrong (" + status + "). Please try again.";
}

function parsed(body) {
  if (typeof body !== "string") { return body === undefined ? null : body; }
  try { return JSON.parse(body); } catch (e) { return null; }
}

/**
 * Calls the server; resolves with the JSON body (null for 204), rejects with an Error whose
 * message can be shown to the person as it is.
 */
export async function request(method, path, body) {
  const input = { method, path, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    input.headers["Content-Type"] = "application/json";
    input.body = body;
  }
  let response;
  try {
    response = await invokeRemote(input);
  } catch (err) {
    throw new Error(messageFor(0, null, path));
  }
  const status = response && typeof response.status === "number" ? response.status : 0;
  const data = parsed(response ? response.body : null);
  if (status >= 200 && status < 300) { return status === 204 ? null : data; }
  throw new Error(messageFor(status, data, path));
}

/** The path of one task. */
export function taskPath(id) {
  return TASKS + "/" + encodeURIComponent(String(id));
}

/**
 * One page of a task list, filled as the Connect page fills it (`TodoViews.fillPage`, shared in
 * assets/js/task-views.js). Resolves with `{ tasks, next_before }` like one request.
 */
export function fillPage(params) {
  return TodoViews.fillPage(
    request,
    (before, limit) => listPath({ ...params, before, limit }),
    params.limit,
    params.before,
  );
}

/** The path of a task list query; `params` values that are empty are left out. */
export function listPath(params) {
  const query = Object.keys(params)
    .filter((k) => params[k] !== undefined && params[k] !== null && params[k] !== "")
    .map((k) => encodeURIComponent(k) + "=" + encodeURIComponent(String(params[k])))
    .join("&");
  return query ? TASKS + "?" + query : TASKS;
}
