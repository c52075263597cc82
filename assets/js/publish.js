/* "Publish to Confluence": the open tasks become a new page, created as the signed-in user. */
(function () {
  "use strict";
  var api = window.TodoApi;
  var form = document.getElementById("publish-form");
  if (!api || !form) { return; }
  var space = document.getElementById("publish-space");
  var title = document.getElementById("publish-title");
  var submit = document.getElementById("publish-button");
  var result = document.getElementById("publish-result");

  function show(page) {
    result.textContent = "Published \u201c" + page.title + "\u201d. ";
    if (page.url && /^https?:\/\//.test(page.url)) {
      var link = document.createElement("a");
      link.href = page.url;
      link.target = "_top";
      link.rel = "noopener";
      link.textContent = "Open the page";
      result.appendChild(link);
    }
    result.classList.remove("hidden");
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var key = space.value.trim();
    if (!key) { api.showMessage("Type the key of the space to publish to."); return; }
    var body = { space_key: key };
    if (title.value.trim()) { body.title = title.value.trim(); }
    submit.disabled = true;
    result.classList.add("hidden");
    api.request("POST", "/api/publish", body).then(function (page) {
      api.showMessage("");
      show(page);
    }).catch(function (err) {
      api.showMessage(err.message);
    }).then(function () { submit.disabled = false; });
  });
})();
