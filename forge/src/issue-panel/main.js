// The Todo panel on a Jira issue: the issue's tasks (oldest first) with checkboxes, add, rename
// and delete, and a "3 of 5 done" line, as the global page shows the site's tasks. The issue is
// the one Jira opened the panel on: the server reads it from the signed token, never from here.
import { ISSUE_TASKS, request, taskPath } from "../shared/api.js";
import { button, el, followTheme, showMessage } from "../shared/ui.js";

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

function row(task) {
  const li = el("li", task.done ? "done" : "");
  li.setAttribute("data-id", String(task.id));
  const box = document.createElement("input");
  box.type = "checkbox";
  box.checked = Boolean(task.done);
  box.setAttribute("data-action", "toggle");
  box.setAttribute("aria-label", "Done");
  li.appendChild(box);
  li.appendChild(el("span", "title", task.title));
  const creator = task.created_by_name || task.created_by;
  li.appendChild(el("span", "meta", "#" + task.id + (creator ? " · " + creator : "")));
  li.appendChild(button("Rename", "subtle", "rename"));
  li.appendChild(button("Delete", "subtle", "delete"));
  return li;
}

function replace(li, task) {
  const fresh = row(task);
  list.replaceChild(fresh, li);
  updateProgress();
  return fresh;
}

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

list.addEventListener("click", async (event) => {
  const target = event.target;
  const action = target.getAttribute("data-action");
  const li = target.closest("li");
  if (!action || !li) { return; }
  const id = li.getAttribute("data-id");
  if (action === "toggle") {
    try {
      const task = await request("PATCH", taskPath(id), { done: target.checked });
      replace(li, task);
      showMessage(task.done ? "Task completed." : "Task reopened.", "info");
    } catch (err) {
      target.checked = !target.checked;
      showMessage(err.message);
    }
  } else if (action === "rename") {
    startRename(li, id);
  } else if (action === "delete") {
    try {
      await request("DELETE", taskPath(id));
      list.removeChild(li);
      updateProgress();
      showMessage("Task deleted.", "info");
    } catch (err) {
      showMessage(err.message);
    }
  }
});

function startRename(li, id) {
  const open = li.querySelector(".rename-form input");
  if (open) { open.focus(); return; }
  const title = li.querySelector(".title");
  const form = el("form", "rename-form");
  const input = document.createElement("input");
  input.className = "text";
  input.type = "text";
  input.maxLength = 500;
  input.value = title.textContent;
  input.setAttribute("aria-label", "New title");
  const saveButton = button("Save", "subtle", "save");
  saveButton.type = "submit";
  form.appendChild(input);
  form.appendChild(saveButton);
  li.replaceChild(form, title);
  input.focus();
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { li.replaceChild(title, form); }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      replace(li, await request("PATCH", taskPath(id), { title: input.value }));
      showMessage("Task renamed.", "info");
    } catch (err) {
      showMessage(err.message);
    }
  });
}

followTheme();
load();
