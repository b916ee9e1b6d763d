// pgbench processes, one per pool share, started together: arguments, environment (the password
// never on a command line), exit status and summary parsed, per-transaction logs read back.
import { spawn } from "child_process";
import * as path from "path";
import { PGBENCH } from "./machine";
import { latencySummary, readTransactionLog, TransactionLog } from "./latency";
import type { Protocol } from "./options";
import type { ShareResult, Workload } from "./results";
import { track } from "./servers";
import type { LibpqTarget } from "./targets";

export interface PgbenchSpec {
    label: string;
    alias: string;
    role: string;
    database: string;
    target: LibpqTarget;
    clients: number;
    workload: Workload;
    /** Custom script file for the "monitoring-query" workload. */
    scriptFile?: string;
    connectPerTransaction: boolean;
    /** pgbench -M. */
    protocol: Protocol;
    /** Total transactions per second to schedule (pgbench --rate); unthrottled when absent. */
    ratePerSecond?: number;
    durationSeconds: number;
    logPrefix: string;
}

export interface PgbenchOutcome {
    share: ShareResult;
    messages: Record<string, number>;
    log: TransactionLog;
    stdout: string;
    stderr: string;
}

export function pgbenchArgs(spec: PgbenchSpec): string[] {
    const args = [
        "--no-vacuum",
        // Simple for the sweep and -C runs (comparable with the figures measured on PgBouncer 1.18,
        // which had no prepared statements in transaction mode); prepared for the prepared phase.
        `--protocol=${spec.protocol}`,
        `--client=${spec.clients}`,
        "--jobs=1",
        `--time=${spec.durationSeconds}`,
        "--log",
        `--log-prefix=${spec.logPrefix}`,
    ];
    if (spec.workload === "select-only") {
        args.push("--builtin=select-only");
    } else if (spec.workload === "tpcb-like") {
        args.push("--builtin=tpcb-like");
    } else {
        if (!spec.scriptFile) {
            throw new Error(`${spec.label}: the monitoring workload needs its script file`);
        }
        args.push(`--file=${spec.scriptFile}`);
    }
    if (spec.connectPerTransaction) {
        args.push("--connect");
    }
    if (spec.ratePerSecond !== undefined) {
        args.push(`--rate=${spec.ratePerSecond}`);
    }
    args.push(spec.target.database);
    return args;
}

/** libpq's environment for one target: no password on the command line, none of the caller's PG* variables. */
export function libpqEnv(target: LibpqTarget): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
        PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
        LANG: "C.UTF-8",
        TZ: "UTC",
        PGHOST: target.host,
        PGPORT: String(target.port),
        PGUSER: target.user,
        PGPASSWORD: target.password,
        PGPASSFILE: "/dev/null",
        PGSERVICEFILE: "/dev/null",
    };
    const mapping: Record<string, string> = { sslmode: "PGSSLMODE", connect_timeout: "PGCONNECT_TIMEOUT", application_name: "PGAPPNAME" };
    for (const [key, value] of Object.entries(target.params)) {
        const variable = mapping[key];
        if (!variable) {
            throw new Error(`URL parameter ${key} has no libpq environment variable here`);
        }
        env[variable] = value;
    }
    return env;
}

/** An error line without what varies between clients: client and command numbers, ports, pids. */
export function normaliseMessage(line: string): string {
    return line
        .replace(/^pgbench: (error|fatal|warning): /, "")
        .replace(/\bclient \d+\b/g, "client N")
        .replace(/\bcommand \d+\b/g, "command N")
        .replace(/\bport \d+\b/g, "port P")
        .replace(/\bquery \d+\b/g, "query N")
        .replace(/\s+/g, " ")
        .trim();
}

function summaryNumber(stdout: string, pattern: RegExp): number | undefined {
    const match = pattern.exec(stdout);
    return match ? Number(match[1]) : undefined;
}

export function parseSummary(spec: PgbenchSpec, exitCode: number | null, stdout: string, stderr: string): { share: ShareResult; messages: Record<string, number> } {
    const messages: Record<string, number> = {};
    let abortedClients = 0;
    let refusedAtStart = false;
    for (const raw of stderr.split("\n")) {
        const line = raw.trim();
        if (!line.startsWith("pgbench: error") && !line.startsWith("pgbench: fatal")) {
            continue;
        }
        if (/client \d+ aborted/.test(line)) {
            abortedClients++;
        }
        if (/could not create connection for client \d+/.test(line)) {
            refusedAtStart = true;
        }
        if (/Run was aborted; the above results are incomplete/.test(line)) {
            continue;
        }
        const message = normaliseMessage(line);
        messages[message] = (messages[message] ?? 0) + 1;
    }
    const share: ShareResult = {
        alias: spec.alias,
        role: spec.role,
        database: spec.database,
        workload: spec.workload,
        clients: spec.clients,
        exitCode,
        transactions: summaryNumber(stdout, /number of transactions actually processed: (\d+)/) ?? 0,
        failedTransactions: summaryNumber(stdout, /number of failed transactions: (\d+)/) ?? 0,
        abortedClients,
        refusedAtStart,
        reportedTps: summaryNumber(stdout, /^tps = ([\d.]+)/m),
        initialConnectionMs: summaryNumber(stdout, /initial connection time = ([\d.]+) ms/),
        averageConnectionMs: summaryNumber(stdout, /average connection time = ([\d.]+) ms/),
        ratePerSecond: spec.ratePerSecond,
        latency: null,
    };
    return { share, messages };
}

/** Runs one pgbench process to its end (it stops itself after -T; the timeout is a safety net). */
export function runPgbench(spec: PgbenchSpec): Promise<PgbenchOutcome> {
    return new Promise((resolve, reject) => {
        const child = spawn(PGBENCH, pgbenchArgs(spec), { cwd: path.dirname(spec.logPrefix), env: libpqEnv(spec.target), stdio: ["ignore", "pipe", "pipe"] });
        track(child);
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk) => (stdout += chunk));
        child.stderr.on("data", (chunk) => {
            // Keep memory bounded when thousands of clients fail the same way.
            if (stderr.length < 4_000_000) {
                stderr += chunk;
            }
        });
        const timer = setTimeout(() => child.kill("SIGKILL"), (spec.durationSeconds + 120) * 1000);
        child.once("error", (error) => {
            clearTimeout(timer);
            reject(error);
        });
        child.once("close", (code, signal) => {
            clearTimeout(timer);
            const { share, messages } = parseSummary(spec, code ?? (signal ? -1 : null), stdout, stderr);
            readTransactionLog(spec.logPrefix).then(
                (log) => {
                    share.latency = latencySummary(Float64Array.from(log.latencyUs.filter((latency) => latency >= 0)));
                    resolve({ share, messages, log, stdout, stderr });
                },
                (error: Error) => reject(error),
            );
        });
    });
}
