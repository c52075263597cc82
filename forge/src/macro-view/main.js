// The TODO macro: the task whose id the macro configuration saved (the Forge config, or the
// Connect editor before the move), inline in the page, as the Connect macro
// (templates/get_task.html) shows it: a badge with the title, Open or Done, and who created it.
// The id travels in the path and the server checks it against the site: a task of another site
// is as absent as a deleted one. Whatever goes wrong, the frame says so; it is never blank.
import { request, taskPath } from "../shared/api.js";
import { macroTaskId } from "../shared/macro.js";
import { fillConfluenceNames } from "../shared/names.js";
import { context, el, followTheme } from "../shared/ui.js";

const content = document.getElementById("content");

function show(...nodes) {
  content.textContent = "";
  nodes.forEach((n) => content.appendChild(n));
}

function note(text) {
  return el("span", "macro-note", text);
}

function render(task) {
  const macro = el("span", "task-macro");
  macro.setAttribute("data-task-id", String(task.id));
  const badge = el("span", "badge " + (task.done ? "badge-added" : "badge-primary"), task.title);
  badge.title = "Task #" + task.id;
  macro.appendChild(badge);
  macro.appendChild(task.done ? el("span", "state done", "Done") : el("span", "state open", "Open"));
  if (task.created_by) {
    // The name is filled in by shared/names.js, as the viewing user.
    const by = el("span", "by", "by ");
    const person = el("span", "person");
    person.setAttribute("data-account-id", String(task.created_by));
    by.appendChild(person);
    macro.appendChild(by);
  }
  return macro;
}

async function main() {
  followTheme();
  fillConfluenceNames(content);
  const ctx = await context();
  const { id, problem } = macroTaskId(ctx.extension && ctx.extension.config);
  if (problem) {
    show(note(problem));
    return;
  }
  try {
    show(render(await request("GET", taskPath(id))));
  } catch (err) {
    show(note(err.message));
  }
}

main().catch(() => show(note("The task cannot be shown. Reload the page to try again.")));
