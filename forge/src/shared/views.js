// The task views the Connect Todo page uses, the same file (assets/js/task-views.js): bundled
// here, loaded as it is by the Connect page. It sets `TodoViews` on the global object.
import "../../../assets/js/task-views.js";

export const TodoViews = globalThis.TodoViews;
