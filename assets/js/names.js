/*
 * Creators' display names, filled in by the page as the viewing user. The server writes an
 * account id only (an element with `data-account-id`, class "person"); this file, written once,
 * is the rule every view follows: the Connect pages load it as it is (no build step) and the
 * Forge views bundle it (forge/src/shared/names.js). Only the transport differs: AP.request in
 * Connect (assets/js/names-connect.js), requestConfluence / requestJira in Forge.
 *
 * TodoNames.start(root, lookup, options) fills every `[data-account-id]` under `root`, now and
 * whenever rows are added later (a MutationObserver):
 *   - each slot shows a placeholder at once: a reserved-width block (CSS `.person`, so nothing
 *     moves when the name arrives) marked `aria-busy="true"`, whose text for screen readers is
 *     "loading the name";
 *   - account ids are de-duplicated and looked up at most `options.cap` (50) per page life, in
 *     batches of `options.batch` ids: `lookup(ids)` → Promise of { accountId: name or null };
 *   - answers are remembered for the page's life: a row rendered again is filled at once;
 *   - the name goes in through textContent (never markup) and into `title` (the block clips a
 *     long name with an ellipsis);
 *   - without a name (the host refused — the viewer may not see that user —, failed, or the
 *     cap was reached) the slot says FALLBACK, a neutral word: an account id means nothing to a
 *     person and is long enough to break the line.
 * TodoNames.nameOf(user) is the name of a Confluence or Jira user object (displayName, else
 * publicName; trimmed, at most 255 characters), or null.
 * TodoNames.oneByOne(fetchOne) turns a per-account lookup (fetchOne(id) → Promise of a name or
 * null) into a batch `lookup`.
 */
(function (root) {
  "use strict";

  var FALLBACK = "someone";
  var LOADING = "loading the name";
  var CAP = 50;
  var BATCH = 10;
  var MAX_CHARS = 255;

  function nameOf(user) {
    if (!user || typeof user !== "object") { return null; }
    var candidates = [user.displayName, user.publicName];
    for (var i = 0; i < candidates.length; i++) {
      var name = typeof candidates[i] === "string" ? candidates[i].trim() : "";
      if (name) { return Array.from(name).slice(0, MAX_CHARS).join(""); }
    }
    return null;
  }

  function oneByOne(fetchOne) {
    return function (ids) {
      var answers = {};
      return Promise.all(ids.map(function (id) {
        return Promise.resolve().then(function () { return fetchOne(id); }).then(
          function (name) { answers[id] = typeof name === "string" && name ? name : null; },
          function () { answers[id] = null; }
        );
      })).then(function () { return answers; });
    };
  }

  function pending(slot) {
    slot.setAttribute("aria-busy", "true");
    slot.removeAttribute("title");
    slot.textContent = "";
    var hint = document.createElement("span");
    hint.className = "sr-only";
    hint.textContent = LOADING;
    slot.appendChild(hint);
  }

  function settle(slot, name) {
    slot.textContent = name || FALLBACK;
    slot.setAttribute("title", name || FALLBACK);
    slot.classList.toggle("unknown", !name);
    slot.removeAttribute("aria-busy");
  }

  function start(scope, lookup, options) {
    var cap = (options && options.cap) || CAP;
    var batch = (options && options.batch) || BATCH;
    var known = Object.create(null);   // id → name, or null for no name
    var asked = Object.create(null);   // id → true once a lookup was started
    var askedCount = 0;
    var queue = [];
    var flushing = false;

    function slotsOf(id) {
      return Array.prototype.filter.call(scope.querySelectorAll("[data-account-id]"), function (el) {
        return el.getAttribute("data-account-id") === id;
      });
    }

    function answer(id, name) {
      known[id] = name;
      slotsOf(id).forEach(function (slot) { settle(slot, name); });
    }

    function flush() {
      flushing = false;
      var ids = queue;
      queue = [];
      for (var i = 0; i < ids.length; i += batch) {
        (function (part) {
          Promise.resolve().then(function () { return lookup(part); }).then(function (answers) {
            part.forEach(function (id) {
              var name = answers && typeof answers[id] === "string" && answers[id] ? answers[id] : null;
              answer(id, name);
            });
          }, function () {
            part.forEach(function (id) { answer(id, null); });
          });
        })(ids.slice(i, i + batch));
      }
    }

    function fill(slot) {
      var id = slot.getAttribute("data-account-id");
      if (!id) { settle(slot, null); return; }
      if (id in known) { settle(slot, known[id]); return; }
      if (slot.getAttribute("aria-busy") !== "true") { pending(slot); }
      if (asked[id]) { return; }
      if (askedCount >= cap) { answer(id, null); return; }
      asked[id] = true;
      askedCount += 1;
      queue.push(id);
      if (!flushing) {
        flushing = true;
        setTimeout(flush, 0);
      }
    }

    function scan(node) {
      if (!node || node.nodeType !== 1) { return; }
      if (node.hasAttribute("data-account-id")) { fill(node); }
      Array.prototype.forEach.call(node.querySelectorAll("[data-account-id]"), fill);
    }

    scan(scope);
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        Array.prototype.forEach.call(change.addedNodes, scan);
      });
    }).observe(scope, { childList: true, subtree: true });
  }

  root.TodoNames = { start: start, nameOf: nameOf, oneByOne: oneByOne, FALLBACK: FALLBACK };
})(typeof window !== "undefined" ? window : globalThis);
