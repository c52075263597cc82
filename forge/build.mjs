// Builds the Custom UI into the resource folders the generated manifest names
// (build/macro-view, build/macro-config, build/global-page, build/issue-panel): each gets index.html, app.js
// (its script bundled with @forge/bridge) and app.css. Nothing is loaded from elsewhere at run
// time: Forge's content security policy allows only the resource's own files.
import { cp, mkdir, rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = fileURLToPath(new URL(".", import.meta.url));
/** One folder per Custom UI resource; must match RESOURCES in src/app/manifest.rs. */
export const VIEWS = ["macro-view", "macro-config", "global-page", "issue-panel"];

await rm(`${here}build`, { recursive: true, force: true });
for (const view of VIEWS) {
  const out = `${here}build/${view}`;
  await mkdir(out, { recursive: true });
  await esbuild.build({
    entryPoints: { app: `${here}src/${view}/main.js` },
    bundle: true,
    minify: true,
    format: "iife",
    platform: "browser",
    target: ["es2020"],
    outdir: out,
    logLevel: "warning",
  });
  await esbuild.build({
    entryPoints: { app: `${here}src/shared/app.css` },
    bundle: true,
    minify: true,
    outdir: out,
    logLevel: "warning",
  });
  await cp(`${here}src/${view}/index.html`, `${out}/index.html`);
}
console.log(`forge ui: built ${VIEWS.map((v) => `build/${v}`).join(", ")}`);
