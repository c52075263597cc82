/* todo-connect browser API client: every call carries a fresh Connect context token. */
(function () {
  "use strict";

  /** Resolves with the AP object once the Connect JavaScript has loaded (or a host provided it). */
  function whenAP() {
    return new Promise(function (resolve, reject) {
      var waited = 0;
      (function poll() {
        if (window.AP && window.AP.context) { resolve(window.AP); return; }
        waited += 50;
        if (waited > 10000) { reject(new Error("Confluence did not load this app. Reload the page.")); return; }
        setTimeout(poll, 50);
      })();
    });
  }

  function token(AP) {
    return new Promise(function (resolve, reject) {
      var result = AP.context.getToken(function (t) { resolve(t); });
      if (result && typeof result.then === "function") { result.then(resolve, reject); }
    });
  }

  function messageFor(status, body) {
    if (status === 401) { return "Your session expired. Reload the page to continue."; }
    if (status === 404) { return "That task no longer exists."; }
    if (status === 413) { return "That is too long."; }
    if (body && body.error) { return body.error; }
    return "Something went wrong (" + status + "). Please try again.";
  }

  /** Calls our JSON API; resolves with the parsed body (or null for 204). */
  function request(method, path, body) {
    return whenAP().then(token).then(function (jwt) {
      var init = { method: method, headers: { "Authorization": "JWT " + jwt, "Accept": "application/json" } };
      if (body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      return fetch(path, init);
    }).then(function (response) {
      if (response.status === 204) { return null; }
      return response.json().catch(function () { return null; }).then(function (data) {
        if (!response.ok) { throw new Error(messageFor(response.status, data)); }
        return data;
      });
    }, function (err) {
      throw new Error(err && err.message ? err.message : "The network is unavailable. Please try again.");
    });
  }

  /**
   * One page of a task list, filled: a search scans a bounded number of a site's tasks per
   * request and says where it stopped (`next_before`), so a page may come back short although
   * older tasks match; this goes on from there (at most MAX_FOLLOW_UPS more requests) until
   * the page holds `limit` tasks or the site's tasks are all searched. `pathFor(before, limit)`
   * gives the list path. Resolves with `{ tasks, next_before }` like one request.
   */
  var MAX_FOLLOW_UPS = 10;
  function fillPage(pathFor, limit, before) {
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

  var infoTimer = null;

  /** Shows a message; confirmations ("info") fade after a few seconds, errors stay. */
  function showMessage(text, kind) {
    var box = document.getElementById("message");
    if (!box) { return; }
    clearTimeout(infoTimer);
    box.textContent = text || "";
    box.className = "message " + (kind || "error") + (text ? "" : " hidden");
    if (text && kind === "info") {
      infoTimer = setTimeout(function () { showMessage(""); }, 4000);
    }
  }

  window.TodoApi = { request: request, fillPage: fillPage, whenAP: whenAP, showMessage: showMessage };
})();
