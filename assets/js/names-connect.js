/*
 * Connect's transport for creators' names (the rule is assets/js/names.js): AP.request, which
 * Confluence runs as the person viewing the page, so they see only the names they may see and
 * our server asks nobody. One request per account: GET /rest/api/user?accountId=…, whose answer
 * (text JSON) carries displayName / publicName. Loaded by the macro and the Todo page, after
 * all.js, host.js (AP.request as a promise) and names.js; fills everything under #content.
 */
(function () {
  "use strict";

  /* The viewer's name for `id`, or null when Confluence does not say (or cannot be reached). */
  function displayName(id) {
    var url = "/rest/api/user?accountId=" + encodeURIComponent(id);
    return window.TodoHost.request("GET", url).then(function (answer) {
      return answer.status === 200 ? window.TodoNames.nameOf(answer.body) : null;
    }, function () { return null; });
  }

  var content = document.getElementById("content");
  if (content && window.TodoNames) {
    window.TodoNames.start(content, window.TodoNames.oneByOne(displayName));
  }
})();
