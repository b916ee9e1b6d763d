// `npm run status` and `npm run emergency` against the harness's servers: the stack outputs the
// program would export for them (its own summarize() and connectionStrings(), with the harness's
// ports and PgBouncer container), handed to the commands' main() in place of the Pulumi CLI's.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { summarize } from "../../../components/dataTier";
import { main as emergencyMain } from "../../../scripts/emergency";
import { parseStackOutputs, StackOutputs } from "../../../ops/console/outputs";
import { Report } from "../../../ops/console/report";
import { main as statusMain } from "../../../scripts/status";
import { Stack } from "./stack";

/** The stack name the commands are given. */
export const STACK_NAME = "integration";

/**
 * Stack config for these tests: no Qdrant (none can run here); idle transactions, and clients
 * waiting for a full pool (no reserve connection for them), held long enough for a slow machine:
 * neither the idle timeouts nor PgBouncer's query_timeout (which also ends a transaction left
 * idle) cut them off.
 */
export const OPERATIONS_CONFIG = {
    prefix: "zentoria",
    bindAddress: "127.0.0.1",
    qdrant: { enabled: false },
    timeouts: { idleSeconds: 900 },
    pgbouncer: { reservePoolTimeoutSeconds: 900, queryTimeoutGraceSeconds: 900 },
};

/** The outputs `pulumi stack output --json --show-secrets` would print for the harness's servers. */
export function harnessOutputJson(stack: Stack): Record<string, unknown> {
    const summary = summarize(stack.plan) as Record<string, any>;
    // PgBouncer's log is read from the harness's container (docker logs), as from the stack's.
    summary.pgbouncer.container = stack.server("pgbouncer").container;
    return { summary: JSON.parse(JSON.stringify(summary)), hostConnectionStrings: stack.connectionStrings(), connectionStrings: stack.connectionStrings() };
}

export function harnessOutputs(stack: Stack): StackOutputs {
    return parseStackOutputs(STACK_NAME, harnessOutputJson(stack));
}

export interface CommandRun {
    code: number;
    stdout: string;
    stderr: string;
}

/** A directory for the status command's last looks, one per test file. */
export function statusDir(): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), "zentoria-status-"));
}

export interface StatusTerminal {
    /** Pretend stdout is a terminal. */
    tty?: boolean;
    env?: NodeJS.ProcessEnv;
    /** --watch: stop once this many reports were printed. */
    rounds?: number;
}

export async function runStatus(outputs: StackOutputs | (() => Promise<StackOutputs>), args: string[], lookDir: string, terminal: StatusTerminal = {}): Promise<CommandRun & { writes: string[] }> {
    let stdout = "";
    let stderr = "";
    const writes: string[] = [];
    const stop = new AbortController();
    const code = await statusMain([STACK_NAME, ...args], {
        stdout: {
            isTTY: terminal.tty,
            write: (text: string) => {
                stdout += text;
                writes.push(text);
                if (terminal.rounds !== undefined && writes.length >= terminal.rounds) {
                    stop.abort();
                }
            },
        },
        stderr: { write: (text: string) => (stderr += text) },
        env: { ...process.env, ...terminal.env, ZENTORIA_STATUS_DIR: lookDir },
        projectDir: path.resolve(__dirname, "../../.."),
        loadOutputs: typeof outputs === "function" ? outputs : async () => outputs,
        stop: stop.signal,
    });
    return { code, stdout, stderr, writes };
}

/** `status --json`: the report and the exit status. */
export async function statusReport(outputs: StackOutputs, lookDir: string): Promise<{ code: number; report: Report; stderr: string }> {
    const run = await runStatus(outputs, ["--json"], lookDir);
    if (run.stdout.trim() === "") {
        throw new Error(`status printed no report (exit ${run.code}): ${run.stderr}`);
    }
    return { code: run.code, report: JSON.parse(run.stdout) as Report, stderr: run.stderr };
}

export async function runEmergency(outputs: StackOutputs, args: string[]): Promise<CommandRun> {
    let stdout = "";
    let stderr = "";
    const code = await emergencyMain([STACK_NAME, ...args], {
        stdout: { write: (text: string) => (stdout += text) },
        stderr: { write: (text: string) => (stderr += text) },
        env: process.env,
        projectDir: path.resolve(__dirname, "../../.."),
        loadOutputs: async () => outputs,
    });
    return { code, stdout, stderr };
}
