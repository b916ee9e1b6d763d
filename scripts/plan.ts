// npm run plan -- <stack config file>
// Validates a stack config file without the Pulumi CLI, with the program's own code, and
// prints the connection budget. Exit status: 0 when the plan is valid, 1 on any error.
import * as fs from "fs";
import { formatProblem, RawStackConfig, rawConfigFromStackFile, StackFileError, tryPlan } from "../config";
import { budgetTables } from "../render/budgetTables";

const TITLES: Record<string, string> = {
    pools: "Pools (server connections per PgBouncer database)",
    databases: "Per PostgreSQL database",
    roles: "Per role (against CONNECTION LIMIT)",
    postgres: "PostgreSQL totals and headroom",
    clients: "PgBouncer clients and file descriptors",
    redis: "Redis (sections 3.2, 3.3, 5.3)",
    qdrant: "Qdrant client limits (section 4.2)",
};

function main(argv: readonly string[]): number {
    const file = argv[0];
    if (!file || argv.length > 1) {
        process.stderr.write("usage: npm run plan -- <stack config file, e.g. Pulumi.dev.yaml>\n");
        return 2;
    }
    if (!fs.existsSync(file)) {
        process.stderr.write(`${file}: no such file\n`);
        return 2;
    }
    let raw: RawStackConfig;
    try {
        raw = rawConfigFromStackFile(file);
    } catch (error) {
        if (!(error instanceof StackFileError)) {
            throw error;
        }
        process.stderr.write(`${error.lines.length} problem(s) reading the stack file:\n${error.lines.map((line) => `  error: ${line}`).join("\n")}\n`);
        return 1;
    }
    const attempt = tryPlan(raw);
    if (attempt.budget) {
        for (const [name, table] of Object.entries(budgetTables(attempt.budget))) {
            process.stdout.write(`\n${TITLES[name] ?? name}\n\n${table}`);
        }
    }
    const errors = attempt.problems.filter((problem) => problem.severity === "error");
    const warnings = attempt.problems.filter((problem) => problem.severity === "warning");
    for (const warning of warnings) {
        process.stdout.write(`\nwarning: ${formatProblem(warning)}`);
    }
    if (errors.length > 0) {
        process.stderr.write(`\n${file}: ${errors.length} problem(s):\n${errors.map((error) => `  error: ${formatProblem(error)}`).join("\n")}\n`);
        return 1;
    }
    process.stdout.write(`\n\n${file}: the plan is valid (${warnings.length} warning(s)).\n`);
    return 0;
}

// `npm run plan -- x | head` closes the pipe early; that is not an error of the plan.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") {
        throw error;
    }
});
process.exitCode = main(process.argv.slice(2));
