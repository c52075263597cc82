/* todo-connect browser API client: every call carries a fresh Connect context token. */
(function () {
  "use strict";

  /* Waiting for AP and calling the host as the user live in host.js (loaded first). */
  var whenAP = window.TodoHost.whenAP;

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

  /** One page of a task list, filled (TodoViews.fillPage in task-views.js, loaded by the page). */
  function fillPage(pathFor, limit, before) {
    return window.TodoViews.fillPage(request, pathFor, limit, before);
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

  window.TodoApi = {
    request: request, hostRequest: window.TodoHost.request, fillPage: fillPage, whenAP: whenAP, showMessage: showMessage
  };
})();
