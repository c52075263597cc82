// The Todo global page: list, add, rename, complete, reopen, delete and search the site's tasks
// without reloading, and publish the open ones to a Confluence page, as the Connect Todo page does.
import { fillPage, request, TASKS } from "../shared/api.js";
import { taskList } from "../shared/task-list.js";
import { context, followTheme, showMessage } from "../shared/ui.js";
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

const { row } = taskList(list, { changed: updateEmpty, showIssue: true, siteUrl: () => siteUrl });

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
