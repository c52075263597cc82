/* The macro editor: find or create a task, then save it into the macro. */
(function () {
  "use strict";
  var api = window.TodoApi;
  var section = document.getElementById("content");
  var pageId = section.getAttribute("data-page-id") || null;
  var results = document.getElementById("results");
  var noResults = document.getElementById("no-results");
  var save = document.getElementById("editor-save");
  var searchBox = document.getElementById("editor-search");
  var selected = null;
  // The macro's current task: listed even when it is older than the first page of results.
  var current = null;
  var lastTasks = null;
  var generation = 0;

  function select(id) {
    selected = id ? String(id) : null;
    Array.prototype.forEach.call(results.children, function (li) {
      var on = li.getAttribute("data-id") === selected;
      li.classList.toggle("selected", on);
      li.setAttribute("aria-selected", on ? "true" : "false");
    });
    save.disabled = !selected;
  }

  function render(tasks) {
    lastTasks = tasks;
    results.textContent = "";
    var listed = tasks.some(function (task) { return current && String(task.id) === String(current.id); });
    if (current && !listed && !searchBox.value.trim()) { tasks = [current].concat(tasks); }
    tasks.forEach(function (task) {
      var li = document.createElement("li");
      li.setAttribute("role", "option");
      li.setAttribute("data-id", task.id);
      li.textContent = "#" + task.id + " " + task.title + (task.done ? " (done)" : "");
      results.appendChild(li);
    });
    noResults.classList.toggle("hidden", tasks.length > 0);
    select(selected);
  }

  function find() {
    var mine = ++generation;
    var q = searchBox.value.trim();
    function path(before, limit) {
      return "/api/tasks?limit=" + limit + (q ? "&q=" + encodeURIComponent(q) : "") +
        (before ? "&before=" + before : "");
    }
    return api.fillPage(path, 20).then(function (page) {
      if (mine === generation) { render(page.tasks); }
    }).catch(function (err) { api.showMessage(err.message); });
  }

  function insert(id) {
    return api.whenAP().then(function (AP) {
      AP.confluence.saveMacro({ id: String(id) });
      AP.confluence.closeMacroEditor();
    });
  }

  results.addEventListener("click", function (event) {
    var li = event.target.closest("li");
    if (li) { select(li.getAttribute("data-id")); }
  });
  results.addEventListener("dblclick", function (event) {
    var li = event.target.closest("li");
    if (li) { insert(li.getAttribute("data-id")); }
  });
  save.addEventListener("click", function () { if (selected) { insert(selected); } });

  var timer = null;
  searchBox.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(find, 250); });
  document.getElementById("search-form").addEventListener("submit", function (e) { e.preventDefault(); find(); });

  document.getElementById("create-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var input = document.getElementById("editor-new-title");
    var title = input.value.trim();
    if (!title) { api.showMessage("Type a title for the new task."); return; }
    var body = { title: title };
    if (pageId) { body.page_id = pageId; }
    api.request("POST", "/api/tasks", body).then(function (task) {
      input.value = "";
      return insert(task.id);
    }).catch(function (err) { api.showMessage(err.message); });
  });

  function preselect(id) {
    select(id);
    api.request("GET", "/api/tasks/" + encodeURIComponent(id)).then(function (task) {
      current = task;
      if (lastTasks) { render(lastTasks); }
    }).catch(function () {
      if (selected === id) { select(null); }
      api.showMessage("The task this macro showed no longer exists. Choose or create another one.");
    });
  }

  // Editing an existing macro: preselect its task.
  api.whenAP().then(function (AP) {
    if (AP.confluence && AP.confluence.getMacroData) {
      AP.confluence.getMacroData(function (data) {
        if (data && data.id) { preselect(String(data.id)); }
      });
    }
  });
  find();
})();
