/*
 * The Todo page in Connect: the shared task page (task-views.js) and "Publish to Confluence"
 * (publish.js) over the Connect API client; the page is created with AP.request, as the user.
 */
(function () {
  "use strict";
  var api = window.TodoApi;

  function button(label, action) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "aui-button aui-button-subtle";
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
      link.href = site.replace(/\/+$/, "") + "/browse/" + encodeURIComponent(issue.key);
      link.target = "_blank";
      link.rel = "noopener noreferrer";
    }
    return link;
  }

  function path(query) {
    var params = ["limit=" + query.limit];
    if (query.q) { params.push("q=" + encodeURIComponent(query.q)); }
    if (query.done) { params.push("done=" + query.done); }
    if (query.before) { params.push("before=" + query.before); }
    return "/api/tasks?" + params.join("&");
  }

  window.TodoViews.taskPage({
    request: api.request,
    showMessage: api.showMessage,
    taskPath: function (id) { return "/api/tasks/" + id; },
    tasksPath: "/api/tasks",
    page: function (query) {
      return api.fillPage(function (before, limit) {
        return path({ q: query.q, done: query.done, before: before, limit: limit });
      }, query.limit, query.before);
    },
    button: button,
    formClass: "aui rename-form",
    issueLink: issueLink,
  }).load(false);

  window.TodoPublish.start({
    request: api.request,
    path: "/api/publish",
    createPage: function (page) { return api.hostRequest("POST", "/rest/api/content", page); },
    showMessage: api.showMessage,
    linkTarget: "_top",
  });
})();
