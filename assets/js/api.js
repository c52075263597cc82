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

  function parsed(text) {
    if (typeof text !== "string") { return text === undefined ? null : text; }
    try { return JSON.parse(text); } catch (e) { return null; }
  }

  /**
   * Calls the site's own REST API as the person using the page (`AP.request`: Confluence adds
   * their session, the app's scopes and their permissions apply). Resolves with
   * `{ status, body }` whatever the status; rejects only when Confluence was not reached.
   * Connect's all.js answers through the callbacks, newer versions also through a promise: the
   * first answer counts, and a promise's rejection is already answered by `error`.
   */
  function hostRequest(type, url, body) {
    return whenAP().then(function (AP) {
      return new Promise(function (resolve, reject) {
        var settled = false;
        function once(f, value) { if (!settled) { settled = true; f(value); } }
        var options = {
          url: url,
          type: type,
          success: function (text, statusText, xhr) {
            once(resolve, { status: (xhr && xhr.status) || 200, body: parsed(text) });
          },
          error: function (xhr) {
            var status = xhr && xhr.status;
            if (status) { once(resolve, { status: status, body: parsed(xhr.responseText) }); }
            else { once(reject, new Error("Confluence could not be reached.")); }
          }
        };
        if (body !== undefined) {
          options.contentType = "application/json";
          options.data = JSON.stringify(body);
        }
        var answer = AP.request(options);
        if (answer && typeof answer.then === "function") { answer.then(null, function () {}); }
      });
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
    request: request, hostRequest: hostRequest, fillPage: fillPage, whenAP: whenAP, showMessage: showMessage
  };
})();
