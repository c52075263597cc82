// "Publish to Confluence" on the global page: the open tasks become a new page in the space
// the person names, created by the server as the app (its system token), as the Connect Todo
// page does (assets/js/publish.js): same element ids, same messages.
import { router } from "@forge/bridge";
import { PUBLISH, request } from "../shared/api.js";
import { showMessage } from "../shared/ui.js";

/** Shows what was published, with a link to the page when the server knows its address. */
function show(result, page) {
  result.textContent = "Published \u201c" + page.title + "\u201d. ";
  if (page.url && /^https?:\/\//.test(page.url)) {
    const link = document.createElement("a");
    link.href = page.url;
    link.target = "_blank";
    link.rel = "noopener";
    link.textContent = "Open the page";
    // Custom UI lives in a sandboxed frame: Forge's router opens the page in Confluence.
    link.addEventListener("click", (event) => {
      event.preventDefault();
      Promise.resolve(router.open(page.url)).catch(() => {});
    });
    result.appendChild(link);
  }
  result.classList.remove("hidden");
}

/** Wires the publish form. */
export function startPublishing() {
  const form = document.getElementById("publish-form");
  if (!form) { return; }
  const space = document.getElementById("publish-space");
  const title = document.getElementById("publish-title");
  const submit = document.getElementById("publish-button");
  const result = document.getElementById("publish-result");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = space.value.trim();
    if (!key) { showMessage("Type the key of the space to publish to."); return; }
    const body = { space_key: key };
    if (title.value.trim()) { body.title = title.value.trim(); }
    submit.disabled = true;
    result.classList.add("hidden");
    try {
      const page = await request("POST", PUBLISH, body);
      showMessage("");
      show(result, page);
    } catch (err) {
      showMessage(err.message);
    } finally {
      submit.disabled = false;
    }
  });
}
