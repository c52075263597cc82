// Checks manifest files with Atlassian's own validator, @forge/manifest, offline (no login):
// the schema, module keys, resources (folders relative to the manifest must exist), scopes,
// remotes and endpoints. Usage: node scripts/validate-manifest.mjs <manifest.yml>...
// Prints one JSON line per file, {"file", "success", "errors"}, and exits 1 when any file
// fails or reports anything (warnings included).
import { createRequire } from "node:module";
import { resolve } from "node:path";

const require = createRequire(import.meta.url);
const { validate } = require("@forge/manifest");

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node scripts/validate-manifest.mjs <manifest.yml>...");
  process.exit(2);
}
let clean = true;
for (const file of files) {
  const result = await validate(false, resolve(file));
  const errors = (result.errors || []).map(({ message, level, line, column }) => ({ message, level, line, column }));
  console.log(JSON.stringify({ file, success: result.success === true, errors }));
  clean = clean && result.success === true && errors.length === 0;
}
process.exit(clean ? 0 : 1);
