/*
 * Connect's transport for creators' names (the rule is assets/js/names.js): AP.request, which
 * Confluence runs as the person viewing the page, so they see only the names they may see and
 * our server asks nobody. One request per account: GET /rest/api/user?accountId=…, whose answer
 * (text JSON) carries displayName / publicName. Loaded by the macro and the Todo page, after
 * all.js and names.js; fills everything under #content.
 */
(function () {
  "use strict";

  /* AP once all.js has set it up (or a host provided it); null after 10 s without one. */
  function whenAP() {
    return new Promise(function (resolve) {
      var waited = 0;
      (function poll() {
        if (window.AP && typeof window.AP.request === "function") { resolve(window.AP); return; }
        waited += 50;
        if (waited > 10000) { resolve(null); return; }
        setTimeout(poll, 50);
      })();
    });
  }

  function displayName(id) {
    return whenAP().then(function (AP) {
      if (!AP) { return null; }
      return new Promise(function (resolve) {
        AP.request({
          url: "/rest/api/user?accountId=" + encodeURIComponent(id),
          type: "GET",
          success: function (text) {
            var user = null;
            try { user = typeof text === "string" ? JSON.parse(text) : text; } catch (e) { user = null; }
            resolve(window.TodoNames.nameOf(user));
          },
          error: function () { resolve(null); }
        });
      });
    });
  }

  var content = document.getElementById("content");
  if (content && window.TodoNames) {
    window.TodoNames.start(content, window.TodoNames.oneByOne(displayName));
  }
})();
