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

export function formatProblem(problem: Problem): string {
    return `${CONFIG_NAMESPACE}:${problem.key}: ${problem.message}`;
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
