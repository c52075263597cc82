/* The Todo page: list, add, rename, complete, reopen, delete and search tasks without reloading. */
(function () {
  "use strict";
  var api = window.TodoApi;
  var list = document.getElementById("task-list");
  var empty = document.getElementById("empty-state");
  var more = document.getElementById("more");
  var search = document.getElementById("search");
  var filter = document.getElementById("filter");
  var nextBefore = null;
  var generation = 0;
  var PAGE = 50;

  function query(before, limit) {
    var params = ["limit=" + limit];
    if (search.value.trim()) { params.push("q=" + encodeURIComponent(search.value.trim())); }
    if (filter.value) { params.push("done=" + filter.value); }
    if (before) { params.push("before=" + before); }
    return "/api/tasks?" + params.join("&");
  }

  function load(append) {
    var mine = ++generation;
    return api.fillPage(query, PAGE, append ? nextBefore : null).then(function (page) {
      if (mine !== generation) { return; }
      if (!append) { list.textContent = ""; }
      page.tasks.forEach(function (task) { list.appendChild(row(task)); });
      nextBefore = page.next_before;
      more.classList.toggle("hidden", !nextBefore);
      updateEmpty();
      api.showMessage("");
    }).catch(function (err) { api.showMessage(err.message); });
  }

  function updateEmpty() {
    var filtered = search.value.trim() || filter.value;
    empty.textContent = filtered ? "No task matches." : "No tasks yet. Add the first one above.";
    empty.classList.toggle("hidden", list.children.length > 0);
  }

  function button(label, action, extra) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "aui-button aui-button-subtle " + (extra || "");
    b.textContent = label;
    b.setAttribute("data-action", action);
    return b;
  }

  /* A task on a Jira issue shows the issue's key, linked to the issue on the site. */
  function issueLink(issue) {
    var site = document.getElementById("content").getAttribute("data-site") || "";
    var link = document.createElement("a");
    link.className = "issue-key";
    link.textContent = issue.key;
    if (/^https?:\/\//.test(site)) {
      link.href = site + "/browse/" + encodeURIComponent(issue.key);
      link.target = "_blank";
      link.rel = "noopener noreferrer";
    }
    return link;
  }

  function row(task) {
    var li = document.createElement("li");
    li.setAttribute("data-id", task.id);
    li.className = task.done ? "done" : "";
    var box = document.createElement("input");
    box.type = "checkbox";
    box.checked = task.done;
    box.setAttribute("data-action", "toggle");
    box.setAttribute("aria-label", "Done");
    var title = document.createElement("span");
    title.className = "title";
    title.textContent = task.title;
    var meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = "#" + task.id + (task.created_by_name ? " · " + task.created_by_name : "");
    li.appendChild(box);
    li.appendChild(title);
    if (task.issue) { li.appendChild(issueLink(task.issue)); }
    li.appendChild(meta);
    li.appendChild(button("Rename", "rename"));
    li.appendChild(button("Delete", "delete"));
    return li;
  }

  function replace(li, task) {
    var fresh = row(task);
    list.replaceChild(fresh, li);
    return fresh;
  }

  document.getElementById("add-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var input = document.getElementById("new-title");
    var title = input.value.trim();
    if (!title) { api.showMessage("Type a title first."); return; }
    api.request("POST", "/api/tasks", { title: title }).then(function (task) {
      input.value = "";
      var shown = Promise.resolve();
      if (search.value.trim() || filter.value) {
        // A filtered view may not include the new task: show what the server says matches.
        shown = load(false);
      } else {
        list.insertBefore(row(task), list.firstChild);
        updateEmpty();
      }
      return shown.then(function () { api.showMessage("Task added.", "info"); });
    }).catch(function (err) { api.showMessage(err.message); });
  });

  list.addEventListener("click", function (event) {
    var target = event.target;
    var action = target.getAttribute("data-action");
    var li = target.closest("li");
    if (!action || !li) { return; }
    var id = li.getAttribute("data-id");
    if (action === "toggle") {
      api.request("PATCH", "/api/tasks/" + id, { done: target.checked }).then(function (task) {
        replace(li, task);
        api.showMessage(task.done ? "Task completed." : "Task reopened.", "info");
      }).catch(function (err) { target.checked = !target.checked; api.showMessage(err.message); });
    } else if (action === "rename") {
      startRename(li, id);
    } else if (action === "delete") {
      api.request("DELETE", "/api/tasks/" + id).then(function () {
        list.removeChild(li);
        updateEmpty();
        api.showMessage("Task deleted.", "info");
      }).catch(function (err) { api.showMessage(err.message); });
    }
  });

  function startRename(li, id) {
    var open = li.querySelector(".rename-form input");
    if (open) { open.focus(); return; }
    var title = li.querySelector(".title");
    var form = document.createElement("form");
    form.className = "aui rename-form";
    var input = document.createElement("input");
    input.className = "text";
    input.type = "text";
    input.maxLength = 500;
    input.value = title.textContent;
    input.setAttribute("aria-label", "New title");
    form.appendChild(input);
    form.appendChild(button("Save", "save"));
    form.lastChild.type = "submit";
    li.replaceChild(form, title);
    input.focus();
    input.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { li.replaceChild(title, form); }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      api.request("PATCH", "/api/tasks/" + id, { title: input.value }).then(function (task) {
        replace(li, task);
        api.showMessage("Task renamed.", "info");
      }).catch(function (err) { api.showMessage(err.message); });
    });
  }

  var searchTimer = null;
  search.addEventListener("input", function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () { load(false); }, 250);
  });
  filter.addEventListener("change", function () { load(false); });
  more.addEventListener("click", function () { load(true); });

  load(false);
})();
