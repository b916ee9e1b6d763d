// The ways an operations command (status, emergency, backup, restore) ends other than with its
// result; each is one line for the user, and the console's map to an exit code.

/** What an operations command could not do; its message is one line for the user. */
export class OpsError extends Error {}

/** A wrong command line: nothing was read or changed (exit 2). */
export class UsageError extends OpsError {}

/** The stack's outputs or servers could not be reached (exit 3). */
export class StackUnreachable extends OpsError {}

/** A procedure that could not do what it was asked (exit 1); what it did is printed before. */
export class ProcedureFailed extends OpsError {}

export const EXIT = { ok: 0, warning: 1, failed: 1, critical: 2, usage: 2, unreachable: 3 } as const;

/** The first line of an error's message, for one-line reports. */
export function firstLine(error: unknown): string {
    const text = error instanceof Error ? error.message : String(error);
    return (text.split("\n").find((line) => line.trim() !== "") ?? text).trim();
}
