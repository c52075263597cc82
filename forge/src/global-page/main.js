// The Todo global page: list, add, rename, complete, reopen, delete and search the site's tasks
// without reloading, and publish the open ones to a Confluence page, as the Connect Todo page does.
import { fillPage, request, taskPath, TASKS } from "../shared/api.js";
import { button, context, el, followTheme, issueKey, showMessage } from "../shared/ui.js";
import { startPublishing } from "./publish.js";

const list = document.getElementById("task-list");
const empty = document.getElementById("empty-state");
const more = document.getElementById("more");
const search = document.getElementById("search");
const filter = document.getElementById("filter");
let nextBefore = null;
let generation = 0;
/** The site's URL from the view's context: where an issue key links to. */
let siteUrl = null;

function filtered() {
  return Boolean(search.value.trim() || filter.value);
}

async function load(append) {
  const mine = ++generation;
  try {
    const page = await fillPage({
      limit: 50,
      q: search.value.trim(),
      done: filter.value,
      before: append ? nextBefore : null,
    });
    if (mine !== generation) { return; }
    if (!append) { list.textContent = ""; }
    page.tasks.forEach((task) => list.appendChild(row(task)));
    nextBefore = page.next_before;
    more.classList.toggle("hidden", !nextBefore);
    updateEmpty();
    showMessage("");
  } catch (err) {
    showMessage(err.message);
  }
}

function updateEmpty() {
  empty.textContent = filtered() ? "No task matches." : "No tasks yet. Add the first one above.";
  empty.classList.toggle("hidden", list.children.length > 0);
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
  if (task.issue) { li.appendChild(issueKey(task.issue, siteUrl)); }
  const creator = task.created_by_name || task.created_by;
  li.appendChild(el("span", "meta", "#" + task.id + (creator ? " · " + creator : "")));
  li.appendChild(button("Rename", "subtle", "rename"));
  li.appendChild(button("Delete", "subtle", "delete"));
  return li;
}

function replace(li, task) {
  const fresh = row(task);
  list.replaceChild(fresh, li);
  return fresh;
}

document.getElementById("add-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("new-title");
  const title = input.value.trim();
  if (!title) { showMessage("Type a title first."); return; }
  try {
    const task = await request("POST", TASKS, { title });
    input.value = "";
    if (filtered()) {
      // A filtered view may not include the new task: show what the server says matches.
      await load(false);
    } else {
      list.insertBefore(row(task), list.firstChild);
      updateEmpty();
    }
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
      updateEmpty();
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

let searchTimer = null;
search.addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => load(false), 250);
});
filter.addEventListener("change", () => load(false));
more.addEventListener("click", () => load(true));

followTheme();
startPublishing();
context().then((ctx) => {
  siteUrl = ctx.siteUrl || null;
  load(false);
});
