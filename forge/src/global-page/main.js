// The Todo global page: list, add, rename, complete, reopen, delete and search the site's tasks
// without reloading, and publish the open ones to a Confluence page — the Connect Todo page's
// own view code (shared/views.js), over invokeRemote.
import { fillPage, request, TASKS, taskPath } from "../shared/api.js";
import { fillConfluenceNames } from "../shared/names.js";
import { button, context, followTheme, issueKey, showMessage } from "../shared/ui.js";
import { TodoViews } from "../shared/views.js";
import { startPublishing } from "./publish.js";

/** The site's URL from the view's context: where an issue key links to. */
let siteUrl = null;

const page = TodoViews.taskPage({
  request,
  showMessage,
  taskPath,
  tasksPath: TASKS,
  page: fillPage,
  button: (label, action) => button(label, "subtle", action),
  issueLink: (issue) => issueKey(issue, siteUrl),
});

followTheme();
fillConfluenceNames(document.getElementById("task-list"));
startPublishing();
context().then((ctx) => {
  siteUrl = ctx.siteUrl || null;
  page.load(false);
});
