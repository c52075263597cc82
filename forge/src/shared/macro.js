// The task a TODO macro names. Its config's `id` arrives as the Connect editor saved it (always
// a string, perhaps padded with spaces: the Forge macro took over the Connect macro's key) or as
// the Forge config saves it (a string; a number is taken too). Both views read it here, so the
// macro and its configuration never disagree about which task a page meant.

/** A task id the server can be asked about: what the task API's path accepts. */
const TASK_ID = /^[1-9][0-9]{0,17}$/;

/** Shown where a macro names no task at all (a fresh macro, or one whose config was lost). */
export const NO_TASK = "No task chosen yet. Edit this macro to pick or create one.";
/** Shown where the saved id cannot be a task's. */
export const BAD_TASK_ID = "This macro's saved task is not a valid task number. Edit this macro to pick a task.";

/**
 * `{ id }` (the id as a string) when `config` names a task, else `{ problem }`: the message to
 * show instead. Whether the task exists, and is this site's, only the server can say.
 */
export function macroTaskId(config) {
  const raw = config ? config.id : undefined;
  if (raw === undefined || raw === null) { return { problem: NO_TASK }; }
  if (typeof raw !== "string" && typeof raw !== "number") { return { problem: BAD_TASK_ID }; }
  const id = String(raw).trim();
  if (!id) { return { problem: NO_TASK }; }
  return TASK_ID.test(id) ? { id } : { problem: BAD_TASK_ID };
}
