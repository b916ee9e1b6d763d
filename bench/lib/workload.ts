// One measured run: pgbench processes for every pool share of a client level, against PostgreSQL
// or PgBouncer, with both servers observed; and the admission probes (who gets connected at all).
import * as os from "os";
import * as path from "path";
import { Client, ClientConfig } from "pg";
import type { Context } from "./context";
import { removeDir, runDir } from "./context";
import { summariseWindow } from "./latency";
import { goCompilers, otherProcesses } from "./machine";
import type { Protocol, Script } from "./options";
import { pgbouncerObservation } from "./observe";
import { PgbenchSpec, runPgbench } from "./pgbench";
import type { AdmissionResult, MaxConnectionsProbe, RunResult, Target } from "./results";
import { maintenance } from "./setup";
import { apportion, pick } from "./targets";

export interface RunSpec {
    id: string;
    target: Target;
    script: Script;
    level: number;
    connectPerTransaction: boolean;
    /** pgbench -M (default simple). */
    protocol?: Protocol;
    durationSeconds: number;
    warmupSeconds: number;
    /** "common": steady-state window; "whole": everything (fault runs). */
    window: "common" | "whole";
    timelineBinMs?: number;
    /** Runs while pgbench does (fault injection); returns the events it caused. */
    during?: (startedMs: number) => Promise<Array<{ name: string; atMs: number; durationMs: number }>>;
}

/**
 * Each monitoring client runs section 5.2's query once a second: the monitoring service polls.
 * Unthrottled, its few clients would spend more CPU on pg_settings than the application shares
 * on their transactions, in direct and pooled runs alike.
 */
export const MONITORING_POLLS_PER_SECOND = 1;

/** pgbench clients for a level: through PgBouncer the admin console holds one of max_client_conn's slots. */
export function pgbenchClients(context: Context, target: Target, level: number): number {
    if (target === "direct") {
        return level;
    }
    return Math.min(level, context.servers.plan.pgbouncer.maxClientConn - 1);
}

export async function runWorkload(context: Context, spec: RunSpec): Promise<{ result: RunResult; events: Array<{ name: string; atMs: number; durationMs: number }> }> {
    const problems: string[] = [];
    const settled = await context.observer.settle();
    if (!settled.settled) {
        problems.push(
            `previous connections still open before the run: ${settled.backends} application backends for ${settled.pgbouncerServers} PgBouncer server connections, ${settled.pgbouncerClients} PgBouncer clients`,
        );
    }
    await maintenance(context);
    const pooled = spec.target === "pooled";
    const clients = pgbenchClients(context, spec.target, spec.level);
    const shares = apportion(context.targets, clients);
    const dir = runDir(context, spec.id);
    const specs: PgbenchSpec[] = shares.map((share) => {
        const { pool } = share.target;
        const workload = context.workloadByAlias[pool.alias] === "monitoring-query" ? "monitoring-query" : spec.script;
        return {
            label: `${spec.id}/${pool.alias}`,
            alias: pool.alias,
            role: pool.role,
            database: pool.database,
            target: pick(share.target, spec.target).libpq,
            clients: share.clients,
            workload,
            scriptFile: context.monitoringScript,
            connectPerTransaction: spec.connectPerTransaction,
            protocol: spec.protocol ?? "simple",
            ratePerSecond: workload === "monitoring-query" ? share.clients * MONITORING_POLLS_PER_SECOND : undefined,
            durationSeconds: spec.durationSeconds,
            logPrefix: path.join(dir, pool.alias),
        };
    });
    const goBefore = goCompilers().length > 0;
    const loadAverage = Math.round(os.loadavg()[0] * 100) / 100;
    const others = otherProcesses(context.options.smoke ? 0.2 : 1, context.servers.detachedRoots);
    const consoleClients = pooled ? await context.observer.pgbouncerClients() : 0;
    const statsBefore = pooled ? await context.observer.stats() : {};
    const sampler = context.observer.sample(pooled);
    const startedMs = Date.now();
    const running = specs.map(runPgbench);
    let events: Array<{ name: string; atMs: number; durationMs: number }> = [];
    try {
        if (spec.during) {
            events = await spec.during(startedMs);
        }
    } finally {
        // pgbench ends on its own after -T; wait for every process whatever `during` did.
        await Promise.allSettled(running);
        await sampler.stop();
    }
    const outcomes = await Promise.all(running);
    const statsAfter = pooled ? await context.observer.stats() : {};
    const goAfter = goCompilers().length > 0;
    // Throughput and latency of the application shares; the monitoring share only polls.
    const application = outcomes.filter((outcome) => outcome.share.workload !== "monitoring-query");
    const window = summariseWindow(
        application.map((outcome) => outcome.log),
        { mode: spec.window, warmupMs: spec.warmupSeconds * 1000, startedMs, timelineBinMs: spec.timelineBinMs },
    );
    const messages: Record<string, number> = {};
    for (const outcome of outcomes) {
        for (const [message, count] of Object.entries(outcome.messages)) {
            messages[message] = (messages[message] ?? 0) + count;
        }
        const { share } = outcome;
        const printedSummary = /number of transactions actually processed/.test(outcome.stdout);
        if (share.exitCode === null || share.exitCode < 0 || share.exitCode > 2) {
            problems.push(`${share.alias}: pgbench ended abnormally (exit ${share.exitCode}): ${outcome.stderr.trim().slice(-400)}`);
        } else if (!printedSummary && !share.refusedAtStart) {
            problems.push(`${share.alias}: pgbench printed no results (exit ${share.exitCode}): ${outcome.stderr.trim().slice(-400)}`);
        }
    }
    const shareResults = outcomes.map((outcome) => outcome.share);
    const refusedClients = shareResults.filter((share) => share.refusedAtStart).reduce((sum, share) => sum + share.clients, 0);
    if (window.transactionsTotal === 0 && refusedClients === 0) {
        problems.push("no transaction completed and no connection was refused");
    }
    if (!Number.isFinite(window.tps)) {
        problems.push("throughput is not a number");
    }
    removeDir(context, dir);
    const result: RunResult = {
        id: spec.id,
        target: spec.target,
        script: spec.script,
        protocol: spec.protocol ?? "simple",
        connectPerTransaction: spec.connectPerTransaction,
        level: spec.level,
        pgbenchClients: clients,
        durationSeconds: spec.durationSeconds,
        warmupSeconds: spec.warmupSeconds,
        windowSeconds: window.windowSeconds,
        tps: window.tps,
        reportedTps: Math.round(application.reduce((sum, outcome) => sum + (outcome.share.reportedTps ?? 0), 0) * 10) / 10,
        transactionsInWindow: window.transactionsInWindow,
        transactionsTotal: window.transactionsTotal,
        latency: window.latency,
        errors: {
            refusedClients,
            abortedClients: shareResults.reduce((sum, share) => sum + share.abortedClients, 0),
            failedTransactions: shareResults.reduce((sum, share) => sum + share.failedTransactions, 0),
            messages,
        },
        shares: shareResults,
        postgresBackends: sampler.backends,
        pgbouncer: pooled ? pgbouncerObservation(statsBefore, statsAfter, sampler, consoleClients) : undefined,
        timeline: window.timeline,
        longestStallMs: window.longestStallMs,
        loadAverage,
        goCompilerRunning: goBefore || goAfter,
        otherProcesses: {
            cpuPercent: Math.round(others.reduce((sum, entry) => sum + entry.cpu, 0)),
            busiest: others.slice(0, 3).map((entry) => `${entry.cpu} ${entry.command}`),
        },
        problems,
    };
    return { result, events };
}

function normalise(message: string): string {
    return message.replace(/\bport \d+\b/g, "port P").replace(/\s+/g, " ").trim();
}

/**
 * Opens `level` connections spread like the runs' clients (pooled: one slot left for the
 * console), each running `select 1`, holds them all, and counts who was refused and why.
 */
export async function admissionProbe(context: Context, target: Target, level: number): Promise<AdmissionResult> {
    await context.observer.settle();
    const count = pgbenchClients(context, target, level);
    const shares = apportion(context.targets, count);
    const queue: Array<{ role: string; config: ClientConfig }> = [];
    // Interleaved, as services connecting at once would.
    for (let round = 0; queue.length < count; round++) {
        for (const share of shares) {
            if (round < share.clients) {
                queue.push({ role: share.target.pool.role, config: { ...pick(share.target, target).node, application_name: "bench-admission" } });
            }
        }
    }
    const result: AdmissionResult = { target, level, attempted: count, admitted: 0, refused: 0, messages: {}, byRole: {} };
    const open: Client[] = [];
    let next = 0;
    const worker = async () => {
        while (next < queue.length) {
            const attempt = queue[next++];
            const role = (result.byRole[attempt.role] ??= { attempted: 0, admitted: 0 });
            role.attempted++;
            const client = new Client({ connectionTimeoutMillis: 15_000, ...attempt.config });
            client.on("error", () => undefined);
            try {
                await client.connect();
                open.push(client);
                await client.query("select 1");
                result.admitted++;
                role.admitted++;
            } catch (error) {
                result.refused++;
                const message = normalise((error as Error).message);
                result.messages[message] = (result.messages[message] ?? 0) + 1;
            }
        }
    };
    try {
        await Promise.all(Array.from({ length: 16 }, worker));
    } finally {
        await Promise.all(open.map((client) => client.end().catch(() => undefined)));
    }
    return result;
}

/** Superuser connections (no CONNECTION LIMIT applies) until PostgreSQL refuses: where max_connections binds. */
export async function maxConnectionsProbe(context: Context): Promise<MaxConnectionsProbe> {
    await context.observer.settle();
    const othersOpen = await context.observer.allClientBackends();
    const attempts = context.servers.plan.postgres.maxConnections + 10;
    const open: Client[] = [];
    const result: MaxConnectionsProbe = { attempted: attempts, admitted: 0, othersOpen, messages: {} };
    try {
        for (let index = 0; index < attempts; index++) {
            try {
                open.push(await context.servers.superuser());
                result.admitted++;
            } catch (error) {
                const message = normalise((error as Error).message);
                result.messages[message] = (result.messages[message] ?? 0) + 1;
            }
        }
    } finally {
        await Promise.all(open.map((client) => client.end().catch(() => undefined)));
    }
    return result;
}
