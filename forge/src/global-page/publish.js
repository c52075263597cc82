// "Publish to Confluence" on the global page: the Connect Todo page's own flow
// (assets/js/publish.js, through shared/publish.js). The server renders the page and calls
// nobody; the page is created here with requestConfluence, as the person using the page
// (scope write:confluence-content; their Confluence permissions apply).
import { requestConfluence, router } from "@forge/bridge";
import { PUBLISH, request } from "../shared/api.js";
import { TodoPublish } from "../shared/publish.js";
import { showMessage } from "../shared/ui.js";

/** Confluence's content API (v1, which takes the space by key). */
const CONTENT = "/wiki/rest/api/content";

/** POSTs `page`; answers `{ status, body }` whatever the status (throws when not reached). */
async function createPage(page) {
  const response = await requestConfluence(CONTENT, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(page),
  });
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
  return { status: response.status, body };
}

/** Wires the publish form. */
export function startPublishing() {
  TodoPublish.start({
    request,
    path: PUBLISH,
    createPage,
    showMessage,
    linkTarget: "_blank",
    // Custom UI lives in a sandboxed frame: Forge's router opens the page in Confluence.
    openLink: (url) => { Promise.resolve(router.open(url)).catch(() => {}); },
  });
}
