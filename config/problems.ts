// Problems found in a stack's config or connection budget. Each names the config key it is
// about, so the message can be acted on without reading the code.
export type Severity = "error" | "warning";

export interface Problem {
    severity: Severity;
    /** Config key path, as written after `zentoria:` (e.g. `pgbouncer.maxClientConn`). */
    key: string;
    message: string;
}

export const CONFIG_NAMESPACE = "zentoria";

const PLAIN_TEXT = /^[A-Za-z0-9_.-]+$/;

/** Every character outside printable ASCII as a JSON-style escape: one line, nothing a terminal interprets. */
function escapeNonPrintable(text: string): string {
    return text.replace(/[^\x20-\x7e]/g, (character) => {
        const json = JSON.stringify(character).slice(1, -1);
        return json !== character ? json : `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`;
    });
}

/**
 * A key or value from the stack file, safe to print: as it is when it is made of
 * [A-Za-z0-9_.-] only, otherwise JSON-quoted with every non-printable or non-ASCII
 * character escaped.
 */
export function shown(value: string | number | boolean): string {
    if (typeof value !== "string") {
        return String(value);
    }
    return PLAIN_TEXT.test(value) ? value : escapeNonPrintable(JSON.stringify(value));
}

/** `zentoria:<key>: <message>` on one line, whatever the key and message hold. */
export function formatProblem(problem: Problem): string {
    return `${CONFIG_NAMESPACE}:${shown(problem.key)}: ${escapeNonPrintable(problem.message)}`;
}

/** Thrown before any resource is registered; lists every error at once. */
export class StackConfigError extends Error {
    readonly problems: readonly Problem[];

    constructor(source: string, problems: readonly Problem[]) {
        const errors = problems.filter((problem) => problem.severity === "error");
        super(
            `Invalid Zentoria stack config (${source}): ${errors.length} problem(s)\n` +
                errors.map((problem) => `  - ${formatProblem(problem)}`).join("\n"),
        );
        this.name = "StackConfigError";
        this.problems = errors;
    }
}

export function errorsIn(problems: readonly Problem[]): Problem[] {
    return problems.filter((problem) => problem.severity === "error");
}

export function warningsIn(problems: readonly Problem[]): Problem[] {
    return problems.filter((problem) => problem.severity === "warning");
}
