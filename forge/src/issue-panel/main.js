// The Todo panel on a Jira issue: the issue's tasks (oldest first) with checkboxes, add, rename
// and delete, and a "3 of 5 done" line, as the global page shows the site's tasks. The issue is
// the one Jira opened the panel on: the server reads it from the signed token, never from here.
import { ISSUE_TASKS, request, taskPath } from "../shared/api.js";
import { fillJiraNames } from "../shared/names.js";
import { button, followTheme, showMessage } from "../shared/ui.js";
import { TodoViews } from "../shared/views.js";

const list = document.getElementById("task-list");
const empty = document.getElementById("empty-state");
const progress = document.getElementById("progress");

/** "3 of 5 done" from the rows shown. */
function updateProgress() {
  const rows = list.querySelectorAll("li[data-id]");
  const done = list.querySelectorAll("li[data-id].done");
  progress.textContent = rows.length ? done.length + " of " + rows.length + " done" : "";
  empty.classList.toggle("hidden", rows.length > 0);
}

const { row } = TodoViews.taskList(list, {
  request,
  showMessage,
  taskPath,
  button: (label, action) => button(label, "subtle", action),
  changed: updateProgress,
});

async function load() {
  try {
    const page = await request("GET", ISSUE_TASKS);
    list.textContent = "";
    page.tasks.forEach((task) => list.appendChild(row(task)));
    updateProgress();
    showMessage("");
  } catch (err) {
    progress.textContent = "";
    showMessage(err.message);
  }
}

document.getElementById("add-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("new-title");
  const title = input.value.trim();
  if (!title) { showMessage("Type a title first."); return; }
  try {
    const task = await request("POST", ISSUE_TASKS, { title });
    input.value = "";
    list.appendChild(row(task));
    updateProgress();
    showMessage("Task added.", "info");
  } catch (err) {
    showMessage(err.message);
  }
});

followTheme();
fillJiraNames(list);
load();
