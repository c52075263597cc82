// The TODO macro's configuration: find or create a task, then save its id into the macro's
// config (`view.submit({config: {id}})`). `id` is also the Connect macro's parameter name, so a
// Forge macro that takes over a Connect macro's key reads the old macros unchanged; and since
// only what this view saves survives a macro's first save through Forge, a macro's current
// task (Connect's or Forge's) opens selected, ready to be saved again as it is.
import { view } from "@forge/bridge";
import { fillPage, request, taskPath, TASKS } from "../shared/api.js";
import { BAD_TASK_ID, macroTaskId } from "../shared/macro.js";
import { context, el, followTheme, showMessage } from "../shared/ui.js";

const results = document.getElementById("results");
const noResults = document.getElementById("no-results");
const save = document.getElementById("editor-save");
const searchBox = document.getElementById("editor-search");
let selected = null;
// The macro's current task: listed even when it is older than the first page of results.
let current = null;
let lastTasks = null;
let generation = 0;
let pageId = null;
let saving = false;

function select(id) {
  selected = id ? String(id) : null;
  Array.prototype.forEach.call(results.children, (li) => {
    const on = li.getAttribute("data-id") === selected;
    li.classList.toggle("selected", on);
    li.setAttribute("aria-selected", on ? "true" : "false");
  });
  save.disabled = !selected || saving;
}

function render(tasks) {
  lastTasks = tasks;
  results.textContent = "";
  const listed = tasks.some((task) => current && String(task.id) === String(current.id));
  if (current && !listed && !searchBox.value.trim()) { tasks = [current].concat(tasks); }
  tasks.forEach((task) => {
    const li = el("li", "", "#" + task.id + " " + task.title + (task.done ? " (done)" : ""));
    li.setAttribute("role", "option");
    li.setAttribute("data-id", String(task.id));
    results.appendChild(li);
  });
  noResults.classList.toggle("hidden", tasks.length > 0);
  select(selected);
}

async function find() {
  const mine = ++generation;
  try {
    const page = await fillPage({ limit: 20, q: searchBox.value.trim() });
    if (mine === generation) { render(page.tasks); }
  } catch (err) {
    showMessage(err.message);
  }
}

async function insert(id) {
  if (saving) { return; }
  saving = true;
  select(selected);
  try {
    await view.submit({ config: { id: String(id) } });
  } catch (err) {
    saving = false;
    select(selected);
    showMessage("The macro could not be saved. Please try again.");
  }
}

results.addEventListener("click", (event) => {
  const li = event.target.closest("li");
  if (li) { select(li.getAttribute("data-id")); }
});
results.addEventListener("dblclick", (event) => {
  const li = event.target.closest("li");
  if (li) { insert(li.getAttribute("data-id")); }
});
save.addEventListener("click", () => { if (selected) { insert(selected); } });
document.getElementById("editor-cancel").addEventListener("click", () => {
  Promise.resolve(view.close()).catch(() => {});
});

let timer = null;
searchBox.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(find, 250); });
document.getElementById("search-form").addEventListener("submit", (e) => { e.preventDefault(); find(); });

document.getElementById("create-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("editor-new-title");
  const title = input.value.trim();
  if (!title) { showMessage("Type a title for the new task."); return; }
  const body = { title };
  if (pageId) { body.page_id = pageId; }
  try {
    const task = await request("POST", TASKS, body);
    input.value = "";
    await insert(task.id);
  } catch (err) {
    showMessage(err.message);
  }
});

async function preselect(id) {
  select(id);
  try {
    current = await request("GET", taskPath(id));
    if (lastTasks) { render(lastTasks); }
  } catch (err) {
    if (selected === id) { select(null); }
    showMessage("The task this macro showed no longer exists. Choose or create another one.");
  }
}

async function main() {
  followTheme();
  const ctx = await context();
  const extension = ctx.extension || {};
  const content = extension.content || {};
  // The page being edited: a new task remembers where it was created, as in Connect.
  if (content.id !== undefined && /^[A-Za-z0-9_-]{1,64}$/.test(String(content.id))) { pageId = String(content.id); }
  const { id, problem } = macroTaskId(extension.config);
  if (id) {
    preselect(id);
  } else if (problem === BAD_TASK_ID) {
    showMessage(BAD_TASK_ID);
  }
  find();
}

main();
