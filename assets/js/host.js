/*
 * The one home of "ask Confluence, as the person using the page" on Connect pages: waiting for
 * all.js's AP, and AP.request as a promise. Defines window.TodoHost and does nothing on load,
 * so the macro page (which needs only names) loads it without the task API. Used by api.js
 * (the Todo page, the editor, publish) and names-connect.js (creators' names).
 */
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

  function parsed(text) {
    if (typeof text !== "string") { return text === undefined ? null : text; }
    try { return JSON.parse(text); } catch (e) { return null; }
  }

  /**
   * Calls the site's own REST API as the person using the page (`AP.request`: Confluence adds
   * their session, the app's scopes and their permissions apply). Resolves with
   * `{status, body}` (body parsed when it is JSON) for any answer, rejects when Confluence
   * could not be reached. Some AP versions also return a promise and call both callbacks: the
   * first answer counts, and a promise's rejection is already answered by `error`.
   */
  function request(type, url, body) {
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

  window.TodoHost = { whenAP: whenAP, request: request };
})();
