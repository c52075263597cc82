/*
 * The task views both ways in show, written once: the Connect Todo page loads this file as it
 * is (no build step), and the Forge Custom UI bundles it (forge/src/shared/views.js). Each
 * caller brings its transport and its look; this file only builds rows and reacts to clicks.
 *
 * TodoViews.fillPage(request, pathFor, limit, before) fills one page of a list or a search.
 * TodoViews.taskList(list, ways) wires a <ul>: a row per task (checkbox, title, the key of its
 * Jira issue, creator — an account id in `data-account-id`, whose name names.js fills in —,
 * Rename, Delete) and what a click does (complete or reopen, rename in
 * place, delete). TodoViews.taskPage(ways) runs the Todo page around such a list: add, search
 * (debounced), the done filter, "Load more" and the empty state.
 *
 * `ways`: request(method, path, body) → Promise of the JSON body; taskPath(id); showMessage(text,
 * kind); button(label, action) → a <button data-action>; formClass (the rename form's class);
 * issueLink(issue) → an element or null; changed() after a row is replaced or removed; for the
 * page also page({ q, done, before, limit }) → Promise of { tasks, next_before } and tasksPath
 * (where a new task is posted).
 *
 * Text always goes in through textContent, never innerHTML: a title shows as its characters.
 */
(function (root) {
  "use strict";

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function taskList(list, ways) {
    var changed = ways.changed || function () {};

    function row(task) {
      var li = element("li", task.done ? "done" : "");
      li.setAttribute("data-id", String(task.id));
      var box = document.createElement("input");
      box.type = "checkbox";
      box.checked = Boolean(task.done);
      box.setAttribute("data-action", "toggle");
      box.setAttribute("aria-label", "Done");
      li.appendChild(box);
      li.appendChild(element("span", "title", task.title));
      var link = task.issue && ways.issueLink ? ways.issueLink(task.issue) : null;
      if (link) { li.appendChild(link); }
      var meta = element("span", "meta", "#" + task.id);
      if (task.created_by) {
        // The creator's name is filled in by names.js, as the viewing user.
        meta.appendChild(document.createTextNode(" · by "));
        var person = element("span", "person");
        person.setAttribute("data-account-id", String(task.created_by));
        meta.appendChild(person);
      }
      li.appendChild(meta);
      li.appendChild(ways.button("Rename", "rename"));
      li.appendChild(ways.button("Delete", "delete"));
      return li;
    }

    function replace(li, task) {
      var fresh = row(task);
      list.replaceChild(fresh, li);
      changed();
      return fresh;
    }

    function startRename(li, id) {
      var open = li.querySelector(".rename-form input");
      if (open) { open.focus(); return; }
      var title = li.querySelector(".title");
      var form = element("form", ways.formClass || "rename-form");
      var input = document.createElement("input");
      input.className = "text";
      input.type = "text";
      input.maxLength = 500;
      input.value = title.textContent;
      input.setAttribute("aria-label", "New title");
      var save = ways.button("Save", "save");
      save.type = "submit";
      form.appendChild(input);
      form.appendChild(save);
      li.replaceChild(form, title);
      input.focus();
      input.addEventListener("keydown", function (event) {
        if (event.key === "Escape") { li.replaceChild(title, form); }
      });
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        ways.request("PATCH", ways.taskPath(id), { title: input.value }).then(function (task) {
          replace(li, task);
          ways.showMessage("Task renamed.", "info");
        }).catch(function (err) { ways.showMessage(err.message); });
      });
    }

    list.addEventListener("click", function (event) {
      var target = event.target;
      var action = target.getAttribute("data-action");
      var li = target.closest("li");
      if (!action || !li) { return; }
      var id = li.getAttribute("data-id");
      if (action === "toggle") {
        ways.request("PATCH", ways.taskPath(id), { done: target.checked }).then(function (task) {
          replace(li, task);
          ways.showMessage(task.done ? "Task completed." : "Task reopened.", "info");
        }).catch(function (err) {
          target.checked = !target.checked;
          ways.showMessage(err.message);
        });
      } else if (action === "rename") {
        startRename(li, id);
      } else if (action === "delete") {
        ways.request("DELETE", ways.taskPath(id)).then(function () {
          list.removeChild(li);
          changed();
          ways.showMessage("Task deleted.", "info");
        }).catch(function (err) { ways.showMessage(err.message); });
      }
    });

    return { row: row, replace: replace };
  }

  /*
   * One page of a task list, filled: a search scans a bounded number of a site's tasks per
   * request and says where it stopped (`next_before`), so a page may come back short although
   * older tasks match; this goes on from there (at most MAX_FOLLOW_UPS more requests) until the
   * page holds `limit` tasks or the site's tasks are all searched. `pathFor(before, limit)`
   * gives the list path. Resolves with `{ tasks, next_before }` like one request.
   */
  var MAX_FOLLOW_UPS = 10;
  function fillPage(request, pathFor, limit, before) {
    var tasks = [];
    function step(from, followUps) {
      return request("GET", pathFor(from, limit - tasks.length)).then(function (page) {
        tasks = tasks.concat(page.tasks);
        if (tasks.length < limit && page.next_before && followUps < MAX_FOLLOW_UPS) {
          return step(page.next_before, followUps + 1);
        }
        return { tasks: tasks, next_before: page.next_before };
      });
    }
    return step(before || null, 0);
  }

  var PAGE = 50;

  function taskPage(ways) {
    var list = document.getElementById("task-list");
    var empty = document.getElementById("empty-state");
    var more = document.getElementById("more");
    var search = document.getElementById("search");
    var filter = document.getElementById("filter");
    var nextBefore = null;
    var generation = 0;

    function filtered() { return Boolean(search.value.trim() || filter.value); }

    function updateEmpty() {
      empty.textContent = filtered() ? "No task matches." : "No tasks yet. Add the first one above.";
      empty.classList.toggle("hidden", list.children.length > 0);
    }

    var rows = taskList(list, Object.assign({}, ways, { changed: updateEmpty }));

    function load(append) {
      var mine = ++generation;
      var query = {
        q: search.value.trim(),
        done: filter.value,
        before: append ? nextBefore : null,
        limit: PAGE,
      };
      return ways.page(query).then(function (page) {
        if (mine !== generation) { return; }
        if (!append) { list.textContent = ""; }
        page.tasks.forEach(function (task) { list.appendChild(rows.row(task)); });
        nextBefore = page.next_before;
        more.classList.toggle("hidden", !nextBefore);
        updateEmpty();
        ways.showMessage("");
      }).catch(function (err) { ways.showMessage(err.message); });
    }

    document.getElementById("add-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var input = document.getElementById("new-title");
      var title = input.value.trim();
      if (!title) { ways.showMessage("Type a title first."); return; }
      ways.request("POST", ways.tasksPath, { title: title }).then(function (task) {
        input.value = "";
        var shown = Promise.resolve();
        if (filtered()) {
          // A filtered view may not include the new task: show what the server says matches.
          shown = load(false);
        } else {
          list.insertBefore(rows.row(task), list.firstChild);
          updateEmpty();
        }
        return shown.then(function () { ways.showMessage("Task added.", "info"); });
      }).catch(function (err) { ways.showMessage(err.message); });
    });

    var searchTimer = null;
    search.addEventListener("input", function () {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(function () { load(false); }, 250);
    });
    filter.addEventListener("change", function () { load(false); });
    more.addEventListener("click", function () { load(true); });

    return { load: load };
  }

  root.TodoViews = { fillPage: fillPage, taskList: taskList, taskPage: taskPage };
})(typeof window !== "undefined" ? window : globalThis);
