// "Publish to Confluence" as the Connect Todo page runs it, the same file
// (assets/js/publish.js): bundled here, loaded as it is by the Connect page. It sets
// `TodoPublish` on the global object.
import "../../../assets/js/publish.js";

export const TodoPublish = globalThis.TodoPublish;
