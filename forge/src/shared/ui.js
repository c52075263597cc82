// DOM helpers shared by the three views. Text always goes in through textContent, never
// innerHTML, so a task title is shown as the characters it is.
import { router, view } from "@forge/bridge";

/** An element with a class and text. */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) { node.className = className; }
  if (text !== undefined && text !== null) { node.textContent = String(text); }
  return node;
}

/** A button; `kind` is "primary", "subtle" or "" (default look). */
export function button(label, kind, action) {
  const b = el("button", "button" + (kind ? " button-" + kind : ""), label);
  b.type = "button";
  if (action) { b.setAttribute("data-action", action); }
  return b;
}

let infoTimer = null;

/** Shows a message in #message; confirmations ("info") fade after a few seconds, errors stay. */
export function showMessage(text, kind) {
  const box = document.getElementById("message");
  if (!box) { return; }
  clearTimeout(infoTimer);
  box.textContent = text || "";
  box.className = "message " + (kind || "error") + (text ? "" : " hidden");
  if (text && kind === "info") {
    infoTimer = setTimeout(() => showMessage(""), 4000);
  }
}

/** Follows Confluence's theme (light or dark) through Atlassian's design tokens. */
export function followTheme() {
  try {
    Promise.resolve(view.theme.enable()).catch(() => {});
  } catch (e) {
    // Outside Confluence there is no theme to follow; the CSS fallbacks apply.
  }
}

/** The context Forge gives this view (site, module, macro config, page); {} when unavailable. */
export async function context() {
  try {
    return (await view.getContext()) || {};
  } catch (e) {
    return {};
  }
}

/**
 * The key of a task's Jira issue, linked to the issue on the site when `siteUrl` (from the
 * view's context) is known; opened through Forge's router, as Custom UI must.
 */
export function issueKey(issue, siteUrl) {
  const link = el("a", "issue-key", issue.key);
  if (typeof siteUrl === "string" && /^https?:\/\//.test(siteUrl)) {
    const url = siteUrl.replace(/\/+$/, "") + "/browse/" + encodeURIComponent(issue.key);
    link.href = url;
    link.addEventListener("click", (event) => {
      event.preventDefault();
      try {
        Promise.resolve(router.open(url)).catch(() => {});
      } catch (e) {
        // Outside Forge there is no router; the link stays a plain link.
      }
    });
  }
  return link;
}
