/*
 * "Publish to Confluence", written once for both ways in: the Connect Todo page loads this file
 * as it is, the Forge global page bundles it (forge/src/shared/publish.js). It sets
 * `TodoPublish.start(ways)`, which wires the form (#publish-form, #publish-space,
 * #publish-title, #publish-button, #publish-result).
 *
 * The server says *what* is published: it answers the page (title, space, storage body of the
 * site's open tasks, every title escaped) and calls nobody. The page is then created here,
 * through the host's own API as the person looking at it, so their permissions apply and no
 * server response waits on Confluence.
 *
 * `ways`: request(method, path, body) → Promise of our server's JSON body (rejects with a
 * showable Error); path (where the page is asked for); createPage(page) → Promise of
 * { status, body } from Confluence's content API (rejects only when Confluence was not
 * reached); showMessage(text); linkTarget (the link's target); openLink(url) (optional: how a
 * click opens the page where a plain link cannot).
 *
 * Text always goes in through textContent, never innerHTML.
 */
(function (root) {
  "use strict";

  /** The created page's address: `_links.base` (http or https) and a path on it. */
  function pageUrl(created) {
    var links = created && created._links;
    var base = links && typeof links.base === "string" ? links.base.replace(/\/+$/, "") : "";
    var webui = links && typeof links.webui === "string" ? links.webui : "";
    var onSite = webui.charAt(0) === "/" && webui.charAt(1) !== "/";
    return /^https?:\/\/[^/]/.test(base) && onSite ? base + webui : null;
  }

  /** What the person reads when Confluence did not create the page: its own words if any. */
  function refusal(status, body) {
    var said = body && typeof body.message === "string" ? body.message.trim() : "";
    if (said) { return "Confluence did not create the page: " + said; }
    return "Confluence did not create the page (" + status + "): check the space key, that you " +
      "may add pages there, and that no page has this title yet.";
  }

  function start(ways) {
    var form = document.getElementById("publish-form");
    if (!form) { return; }
    var space = document.getElementById("publish-space");
    var title = document.getElementById("publish-title");
    var submit = document.getElementById("publish-button");
    var result = document.getElementById("publish-result");
    var busy = false;

    function show(pageTitle, url) {
      result.textContent = "Published \u201c" + pageTitle + "\u201d. ";
      if (url) {
        var link = document.createElement("a");
        link.href = url;
        link.target = ways.linkTarget || "_top";
        link.rel = "noopener";
        link.textContent = "Open the page";
        if (ways.openLink) {
          link.addEventListener("click", function (event) {
            event.preventDefault();
            ways.openLink(url);
          });
        }
        result.appendChild(link);
      }
      result.classList.remove("hidden");
    }

    function publish(body) {
      return ways.request("POST", ways.path, body).then(function (answer) {
        var page = answer && answer.page;
        if (!page || typeof page.title !== "string") {
          throw new Error("Something went wrong preparing the page. Please try again.");
        }
        return ways.createPage(page).then(function (created) {
          if (created.status < 200 || created.status >= 300) {
            throw new Error(refusal(created.status, created.body));
          }
          return { title: page.title, url: pageUrl(created.body) };
        }, function () {
          throw new Error("Confluence could not be reached to publish. Please try again.");
        });
      });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      // One page per click: a second submit while one is under way does nothing.
      if (busy) { return; }
      var key = space.value.trim();
      if (!key) { ways.showMessage("Type the key of the space to publish to."); return; }
      var body = { space_key: key };
      if (title.value.trim()) { body.title = title.value.trim(); }
      busy = true;
      submit.disabled = true;
      result.classList.add("hidden");
      publish(body).then(function (published) {
        ways.showMessage("");
        show(published.title, published.url);
      }).catch(function (err) {
        ways.showMessage(err && err.message ? err.message : "Publishing failed. Please try again.");
      }).then(function () {
        busy = false;
        submit.disabled = false;
      });
    });
  }

  root.TodoPublish = { start: start };
})(typeof window !== "undefined" ? window : globalThis);
