// Faults under load: PostgreSQL restarted behind PgBouncer (clients that record every
// acknowledged commit, checked against the table afterwards), PgBouncer RELOAD and PAUSE/RESUME
// while pgbench runs, and Redis restarted with its rendered append-only persistence.
import * as fs from "fs";
import Redis from "ioredis";
import { Client } from "pg";
import { renderPgbouncerIni } from "../../render/pgbouncer";
import { connectPg, redisClient } from "../../tests/integration/support/clients";
import { devPlan, LOOPBACK } from "../../tests/integration/support/plan";
import type { Context } from "./context";
import { sleep } from "./context";
import type { PgbouncerCommandResult, PgRestartResult, RedisRestartResult } from "./results";
import { asOwner, COMMITS_TABLE, ownerTargets } from "./setup";
import { apportion } from "./targets";
import { runWorkload } from "./workload";

function count(messages: Record<string, number>, message: string): void {
    const key = message.replace(/\bport \d+\b/g, "port P").replace(/\s+/g, " ").trim();
    messages[key] = (messages[key] ?? 0) + 1;
}

interface WorkerLog {
    acknowledged: number[];
    successAt: number[];
    failureAt: number[];
}

/**
 * `restartClients` clients on zentoria_main's pools, each inserting (worker, seq) rows one
 * autocommitted INSERT at a time and reconnecting after an error, as an application with a retry
 * would; PostgreSQL gets `pg_ctl restart -m fast` in the middle. Afterwards every acknowledged row
 * must be in the table.
 */
export interface RestartVariant {
    label: string;
    /** A second PgBouncer (startPgbouncerVariant) and the settings it adds. */
    pgbouncer?: { port: number; settings: Record<string, string> };
    /** PAUSE before the restart and RESUME after it, on the stack's PgBouncer. */
    pauseAround?: boolean;
}

export async function postgresRestart(context: Context, options: RestartVariant = { label: "the rendered configuration" }): Promise<PgRestartResult> {
    const variant = options.pgbouncer;
    const { servers, observer } = context;
    const settings = context.options;
    const main = ownerTargets(context).get("zentoria_main");
    if (!main) {
        throw new Error("no owner of zentoria_main");
    }
    await asOwner(main, (client) => client.query(`TRUNCATE ${COMMITS_TABLE}`));
    await observer.settle();
    const shares = apportion(
        context.targets.filter((target) => target.pool.database === "zentoria_main"),
        settings.restartClients,
    );
    const console = variant ? await connectPg(servers.stack.adminConsoleConfig(variant.port)) : observer.console;
    const loginRetry = (await console.query("SHOW CONFIG")).rows.find((row) => row.key === "server_login_retry");
    if (variant) {
        await console.end();
    }
    const messages: Record<string, number> = {};
    let failed = 0;
    let failedConnects = 0;
    let attempts = 0;
    let stopping = false;
    const logs: WorkerLog[] = [];
    const workers: Array<Promise<void>> = [];
    let worker = 0;
    for (const share of shares) {
        for (let index = 0; index < share.clients; index++) {
            const id = worker++;
            const log: WorkerLog = { acknowledged: [], successAt: [], failureAt: [] };
            logs.push(log);
            const config = {
                ...share.target.pooled.node,
                ...(variant ? { port: variant.port } : {}),
                application_name: "bench-restart",
                connectionTimeoutMillis: 20_000,
                query_timeout: 60_000,
            };
            workers.push(
                (async () => {
                    let client: Client | undefined;
                    let seq = 0;
                    // Retries back off as section 3.1's retryStrategy does: min(times * 50, 2000) ms.
                    let times = 0;
                    const backoff = () => sleep(Math.min(++times * 50, 2000));
                    while (!stopping) {
                        if (!client) {
                            const fresh = new Client(config);
                            fresh.on("error", () => undefined);
                            try {
                                await fresh.connect();
                                client = fresh;
                            } catch (error) {
                                failedConnects++;
                                log.failureAt.push(Date.now());
                                count(messages, `connect: ${(error as Error).message}`);
                                await fresh.end().catch(() => undefined);
                                await backoff();
                                continue;
                            }
                        }
                        seq++;
                        attempts++;
                        try {
                            await client.query(`INSERT INTO ${COMMITS_TABLE} (worker, seq) VALUES ($1, $2)`, [id, seq]);
                            log.acknowledged.push(seq);
                            log.successAt.push(Date.now());
                            times = 0;
                        } catch (error) {
                            failed++;
                            log.failureAt.push(Date.now());
                            count(messages, (error as Error).message);
                            await client.end().catch(() => undefined);
                            client = undefined;
                            await backoff();
                        }
                    }
                    await client?.end().catch(() => undefined);
                })(),
            );
        }
    }
    const sampler = observer.sample(!variant);
    let restart: Awaited<ReturnType<typeof servers.restartPostgres>> | undefined;
    let restartStarted = 0;
    let restartDone = 0;
    let pauseMs: number | undefined;
    try {
        await sleep(settings.restartLeadSeconds * 1000);
        context.log(`pg_ctl restart -m fast under load: ${options.label}`);
        restartStarted = Date.now();
        if (options.pauseAround) {
            await observer.console.query("PAUSE");
            pauseMs = Date.now() - restartStarted;
        }
        try {
            restart = await servers.restartPostgres();
        } finally {
            if (options.pauseAround) {
                await observer.console.query("RESUME");
            }
        }
        restartDone = Date.now();
        // Until every client has had a commit acknowledged after the restart, then a little longer.
        const deadline = restartDone + settings.restartMaxRecoverySeconds * 1000;
        while (Date.now() < deadline && !logs.every((log) => log.successAt.some((at) => at > restartDone))) {
            await sleep(100);
        }
        await sleep(settings.restartTailSeconds * 1000);
    } finally {
        stopping = true;
        await Promise.all(workers);
        await sampler.stop();
    }
    const rows = await asOwner(main, async (client) => (await client.query<{ worker: number; seq: number }>(`SELECT worker, seq FROM ${COMMITS_TABLE}`)).rows);
    const present = new Set(rows.map((row) => `${row.worker}:${row.seq}`));
    let acknowledged = 0;
    let missing = 0;
    const acknowledgedKeys = new Set<string>();
    logs.forEach((log, id) => {
        for (const seq of log.acknowledged) {
            acknowledged++;
            acknowledgedKeys.add(`${id}:${seq}`);
            if (!present.has(`${id}:${seq}`)) {
                missing++;
            }
        }
    });
    const relative = (at: number) => at - restartStarted;
    const failures = logs.flatMap((log) => log.failureAt).filter((at) => at >= restartStarted);
    const successesAfter = logs.flatMap((log) => log.successAt).filter((at) => at > restartDone);
    // Per client: its first acknowledged commit after both the restart and its own last failure.
    const recovered = logs.map((log) => {
        const since = Math.max(restartDone, ...log.failureAt);
        return log.successAt.find((at) => at > since);
    });
    const allSuccesses = logs
        .flatMap((log) => log.successAt)
        .filter((at) => at >= restartStarted - 1000)
        .sort((a, b) => a - b);
    let longestGap = 0;
    let previous = restartStarted;
    for (const at of allSuccesses) {
        if (at >= previous) {
            longestGap = Math.max(longestGap, at - previous);
            previous = at;
        }
    }
    return {
        label: options.label,
        pgbouncerSettings: variant?.settings ?? {},
        pausedAround: options.pauseAround ?? false,
        pauseMs,
        clients: logs.length,
        clientsWithFailures: logs.filter((log) => log.failureAt.some((at) => at >= restartStarted)).length,
        aliases: Object.fromEntries(shares.map((share) => [share.target.pool.alias, share.clients])),
        restartCommandMs: restart ? restart.ms : -1,
        restartExitCode: restart ? restart.code : null,
        attempts,
        acknowledged,
        failed,
        failedConnects,
        messages,
        firstFailureMs: failures.length ? relative(Math.min(...failures)) : null,
        lastFailureMs: failures.length ? relative(Math.max(...failures)) : null,
        firstSuccessAfterRestartMs: successesAfter.length ? relative(Math.min(...successesAfter)) : null,
        allClientsSucceededAgainMs: recovered.every((at) => at !== undefined) ? relative(Math.max(...(recovered as number[]))) : null,
        longestGapMs: Math.round(longestGap),
        rowsInTable: rows.length,
        acknowledgedMissing: missing,
        committedUnacknowledged: rows.filter((row) => !acknowledgedKeys.has(`${row.worker}:${row.seq}`)).length,
        serverLoginRetrySeconds: Number(loginRetry?.value ?? NaN),
    };
}

/** Waits until every pool answers through PgBouncer again (after a restart its pools may be in server_login_retry). */
export async function waitPooledHealthy(context: Context, timeoutMs = 60_000): Promise<number> {
    const started = Date.now();
    for (const target of context.targets) {
        for (;;) {
            try {
                const client = await connectPg({ ...target.pooled.node, application_name: "bench-health" });
                try {
                    await client.query("select 1");
                } finally {
                    await client.end().catch(() => undefined);
                }
                break;
            } catch (error) {
                if (Date.now() - started > timeoutMs) {
                    throw new Error(`${target.pool.alias} still failing through PgBouncer after ${timeoutMs} ms: ${(error as Error).message}`);
                }
                await sleep(250);
            }
        }
    }
    return Date.now() - started;
}

/** TPC-B-like at the top client level through PgBouncer while RELOAD or PAUSE/RESUME is issued on the admin console. */
export async function pgbouncerCommand(context: Context, command: "RELOAD" | "PAUSE/RESUME"): Promise<PgbouncerCommandResult> {
    const { options, servers, observer } = context;
    const level = Math.max(...options.clients);
    const duration = options.faultDurationSeconds;
    const { stack } = servers;
    const at = async (startedMs: number, fraction: number) => sleep(Math.max(0, startedMs + fraction * duration * 1000 - Date.now()));
    const timed = async (name: string, startedMs: number, body: () => Promise<unknown>) => {
        const started = Date.now();
        await body();
        return { name, atMs: started - startedMs, durationMs: Date.now() - started };
    };
    const during =
        command === "RELOAD"
            ? async (startedMs: number) => {
                  // The program's rendering unchanged; then a pool size changed and rendered again (as in
                  // tests/integration/reload.test.ts); then the original back.
                  const original = renderPgbouncerIni(servers.plan, stack.layout);
                  const backend = servers.plan.pools.find((pool) => pool.alias === "zentoria_main");
                  if (!backend) {
                      throw new Error("no zentoria_main pool");
                  }
                  const resized = devPlan(stack.ports, { services: { [backend.service]: { pools: { [backend.database]: { poolSize: Math.max(1, Math.floor(backend.poolSize / 2)) } } } } }).plan;
                  const steps: Array<[string, string]> = [
                      ["RELOAD (pgbouncer.ini unchanged)", original],
                      [`RELOAD (zentoria_main pool_size ${backend.poolSize} -> ${Math.max(1, Math.floor(backend.poolSize / 2))})`, renderPgbouncerIni(resized, stack.layout)],
                      [`RELOAD (pool_size ${backend.poolSize} again)`, original],
                  ];
                  const events = [];
                  for (const [index, [name, ini]] of steps.entries()) {
                      await at(startedMs, (index + 1) / (steps.length + 1));
                      fs.writeFileSync(stack.layout.pgbouncer.configFile, ini);
                      events.push(await timed(name, startedMs, () => observer.console.query("RELOAD")));
                  }
                  return events;
              }
            : async (startedMs: number) => {
                  await at(startedMs, 1 / 3);
                  const pause = await timed("PAUSE (returns once every server connection is released)", startedMs, () => observer.console.query("PAUSE"));
                  await sleep(options.pauseSeconds * 1000);
                  const resume = await timed("RESUME", startedMs, () => observer.console.query("RESUME"));
                  return [pause, { name: "paused", atMs: pause.atMs, durationMs: resume.atMs - pause.atMs }, resume];
              };
    const { result, events } = await runWorkload(context, {
        id: command === "RELOAD" ? "fault-reload" : "fault-pause-resume",
        target: "pooled",
        script: "tpcb-like",
        level,
        connectPerTransaction: false,
        durationSeconds: duration,
        warmupSeconds: 0,
        window: "whole",
        timelineBinMs: 250,
        during,
    });
    return { command, events, run: result };
}

interface RedisWriter {
    name: string;
    database: number;
    client: Redis;
    acknowledged: Array<{ key: string; at: number }>;
    failed: number;
}

/**
 * Each of the plan's Redis clients (its ACL user and logical database) writes numbered keys in
 * pipelines and records which SETs were acknowledged, until the server is stopped (SIGTERM:
 * orderly; SIGKILL: a crash); Redis then starts again on the same files, and every acknowledged
 * key is read back.
 */
export async function redisRestart(context: Context, mode: "graceful" | "crash"): Promise<RedisRestartResult> {
    const { servers, options } = context;
    const { plan, stack } = servers;
    const writers: RedisWriter[] = [];
    for (const spec of plan.redis.clients) {
        const client = redisClient({ host: LOOPBACK, port: plan.redis.port, username: spec.user, password: stack.credentials.redis[spec.user], db: spec.database });
        await client.connect();
        writers.push({ name: spec.name, database: spec.database, client, acknowledged: [], failed: 0 });
    }
    let writing = true;
    const loops = writers.map(async (writer) => {
        let n = 0;
        while (writing) {
            const batch: string[] = [];
            const pipeline = writer.client.pipeline();
            for (let index = 0; index < 20; index++) {
                const key = `bench:${mode}:${writer.name}:${n++}`;
                batch.push(key);
                pipeline.set(key, key);
            }
            try {
                const replies = (await pipeline.exec()) ?? [];
                const now = Date.now();
                let ok = 0;
                replies.forEach(([error, reply], index) => {
                    if (!error && reply === "OK") {
                        writer.acknowledged.push({ key: batch[index], at: now });
                        ok++;
                    } else {
                        writer.failed++;
                    }
                });
                if (ok === 0) {
                    return;
                }
            } catch {
                writer.failed += batch.length;
                // The server is gone: this writer is done.
                return;
            }
        }
    });
    await sleep(options.redisWriteSeconds * 1000);
    const stopAt = Date.now();
    const restart = await servers.restartRedis(mode === "graceful" ? "SIGTERM" : "SIGKILL");
    writing = false;
    await Promise.all(loops);
    for (const writer of writers) {
        writer.client.disconnect();
    }
    let acknowledged = 0;
    let present = 0;
    const lostAges: number[] = [];
    const admin = redisClient({ host: LOOPBACK, port: plan.redis.port, username: "admin", password: stack.credentials.redis.admin });
    await admin.connect();
    try {
        for (const writer of writers) {
            await admin.select(writer.database);
            for (let offset = 0; offset < writer.acknowledged.length; offset += 1000) {
                const chunk = writer.acknowledged.slice(offset, offset + 1000);
                const values = await admin.mget(...chunk.map((entry) => entry.key));
                chunk.forEach((entry, index) => {
                    acknowledged++;
                    if (values[index] === entry.key) {
                        present++;
                    } else {
                        lostAges.push(stopAt - entry.at);
                    }
                });
            }
        }
    } finally {
        admin.disconnect();
    }
    const logText = fs.existsSync(restart.log) ? fs.readFileSync(restart.log, "utf8") : "";
    const loadLine = /DB loaded from append only file: [\d.]+ seconds/.exec(logText)?.[0] ?? /DB loaded from [^\n]*/.exec(logText)?.[0] ?? "(no load line in the log)";
    return {
        mode,
        signal: mode === "graceful" ? "SIGTERM" : "SIGKILL",
        acknowledged,
        failedWrites: writers.reduce((sum, writer) => sum + writer.failed, 0),
        present,
        lost: acknowledged - present,
        lostNewestBeforeStopMs: lostAges.length ? Math.min(...lostAges) : null,
        lostOldestBeforeStopMs: lostAges.length ? Math.max(...lostAges) : null,
        stopMs: restart.stopMs,
        readyMs: restart.readyMs,
        loadLine,
    };
}
