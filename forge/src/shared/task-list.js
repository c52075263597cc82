// One task list, as the global page and the Jira issue panel show it: a row per task (checkbox,
// title, its issue key when asked, creator, Rename, Delete) and what a click in the list does
// (complete or reopen, rename in place, delete). Each view owns the list element and says what
// follows a change (its empty state, its progress line) through `changed`.
import { request, taskPath } from "./api.js";
import { button, el, issueKey, showMessage } from "./ui.js";

/**
 * Wires `list` (a `<ul>`); answers `row(task)` to build a row and `replace(li, task)`.
 * Options: `changed()` after a row is replaced or removed; `showIssue` to show an issue task's
 * key, linked to `siteUrl()` when that is known.
 */
export function taskList(list, { changed = () => {}, showIssue = false, siteUrl = () => null } = {}) {
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
    if (showIssue && task.issue) { li.appendChild(issueKey(task.issue, siteUrl())); }
    const creator = task.created_by_name || task.created_by;
    li.appendChild(el("span", "meta", "#" + task.id + (creator ? " · " + creator : "")));
    li.appendChild(button("Rename", "subtle", "rename"));
    li.appendChild(button("Delete", "subtle", "delete"));
    return li;
  }

  function replace(li, task) {
    const fresh = row(task);
    list.replaceChild(fresh, li);
    changed();
    return fresh;
  }

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
        changed();
        showMessage("Task deleted.", "info");
      } catch (err) {
        showMessage(err.message);
      }
    }
  });

  return { row, replace };
}
