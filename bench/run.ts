// npm run bench [-- options]: pgbench and fault figures for the dev stack's rendered configuration
// on real PostgreSQL 15, PgBouncer and Redis servers (the integration tests' harness). The full run
// writes bench/results/full-<time>.json and regenerates BENCHMARKS.md's tables from it;
// `--smoke` runs every code path briefly, prints the tables and fails when a run produced no numbers.
import { pbkdf2Sync, randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { Context } from "./lib/context";
import { pgbouncerCommand, postgresRestart, redisRestart, waitPooledHealthy } from "./lib/faults";
import { busiestProcesses, goCompilers, loadAverage, machineInfo, waitForQuiet } from "./lib/machine";
import { Observer } from "./lib/observe";
import { BenchOptions, parseOptions, USAGE } from "./lib/options";
import type { BenchResults, MachineInfo, PgRestartResult, PlanInfo, RunResult } from "./lib/results";
import { BenchServers, killChildren } from "./lib/servers";
import { monitoringScriptPath, setup } from "./lib/setup";
import { poolTargets } from "./lib/targets";
import { admissionProbe, maxConnectionsProbe, runWorkload } from "./lib/workload";
import { REPO_ROOT, renderReport, updateBenchmarksMd, validate } from "./report";

const started = Date.now();
const log = (line: string) => process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);

function planInfo(servers: BenchServers): PlanInfo {
    const { plan } = servers;
    return {
        maxConnections: plan.postgres.maxConnections,
        superuserReservedConnections: plan.postgres.superuserReservedConnections,
        maxClientConn: plan.pgbouncer.maxClientConn,
        consoleClients: plan.pgbouncer.consoleClients,
        defaultPoolSize: plan.pgbouncer.defaultPoolSize,
        minPoolSize: plan.pgbouncer.minPoolSize,
        reservePoolSize: plan.pgbouncer.reservePoolSize,
        maxDbConnections: plan.pgbouncer.maxDbConnections,
        maxPreparedStatements: plan.pgbouncer.maxPreparedStatements,
        poolMode: plan.pgbouncer.poolMode,
        roleLimits: Object.fromEntries(plan.roles.map((role) => [role.name, role.connectionLimit])),
        pgbouncerUserCaps: Object.fromEntries(plan.pgbouncer.users.map((user) => [user.role, user.maxUserConnections])),
        pools: plan.pools.map((pool) => ({
            alias: pool.alias,
            service: pool.service,
            role: pool.role,
            database: pool.database,
            poolSize: pool.poolSize,
            maxClientConnections: pool.maxClientConnections,
        })),
    };
}

/** Client-side SCRAM-SHA-256: PBKDF2 over the verifier's iteration count, as libpq computes it per connection. */
function scramCost(verifier: string): { iterations: number; ms: number } {
    const iterations = Number(/^SCRAM-SHA-256\$(\d+):/.exec(verifier)?.[1] ?? 4096);
    const salt = randomBytes(16);
    const rounds = 50;
    pbkdf2Sync("warm-up", salt, iterations, 32, "sha256");
    const begin = process.hrtime.bigint();
    for (let index = 0; index < rounds; index++) {
        pbkdf2Sync(`password-${index}`, salt, iterations, 32, "sha256");
    }
    return { iterations, ms: Math.round((Number(process.hrtime.bigint() - begin) / 1e6 / rounds) * 1000) / 1000 };
}

/** Indented JSON with arrays of numbers (timelines) on one line each. */
function resultsJson(results: BenchResults): string {
    return JSON.stringify(results, null, 2).replace(/\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]/g, (_match, body: string) => `[${body.split(/,\s*/).join(", ")}]`);
}

function defaultOut(options: BenchOptions): string | undefined {
    if (options.out) {
        return path.resolve(options.out);
    }
    if (options.smoke) {
        return undefined;
    }
    const stamp = new Date(started).toISOString().replace(/[:]/g, "").replace(/\..+$/, "Z");
    return path.join(REPO_ROOT, "bench", "results", `full-${stamp}.json`);
}

async function main(): Promise<number> {
    let parsed: ReturnType<typeof parseOptions>;
    try {
        parsed = parseOptions(process.argv.slice(2));
    } catch (error) {
        process.stderr.write(`${(error as Error).message}\n`);
        return 2;
    }
    if (parsed === "help") {
        process.stdout.write(`${USAGE}\n`);
        return 0;
    }
    const options = parsed;
    const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`;
    log(`${options.smoke ? "smoke" : "full"} run: ${command}`);

    let quiet: MachineInfo["quiet"];
    if (options.quietWaitMinutes > 0) {
        const waited = await waitForQuiet(options.quietWaitMinutes, options.quietPollSeconds, options.quietLoad, log);
        quiet = {
            waitedFor: true,
            achieved: waited.achieved,
            maxLoad: options.quietLoad,
            goCompilersAtMeasuring: waited.goCompilersAtEnd,
            waitedSeconds: waited.waitedSeconds,
            goProcessesAtStart: waited.atStart,
            runsWithGoCompiler: [],
        };
        if (!waited.achieved) {
            log(`no quiet machine after ${options.quietWaitMinutes} min: measuring anyway (recorded in the results)`);
        }
    } else {
        const now = goCompilers();
        quiet = { waitedFor: false, achieved: now.length === 0, maxLoad: 0, goCompilersAtMeasuring: now.length, waitedSeconds: 0, goProcessesAtStart: now, runsWithGoCompiler: [] };
    }
    const machine = machineInfo(quiet);
    log(`machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, load ${machine.loadAverageAtStart.join(" ")}`);

    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "zentoria-bench-"));
    let servers: BenchServers | undefined;
    let observer: Observer | undefined;
    let cleaned: Promise<void> | undefined;
    const cleanup = () =>
        (cleaned ??= (async () => {
            killChildren();
            await observer?.close().catch(() => undefined);
            await servers?.stop(options.keep).catch((error: Error) => log(`stopping the servers: ${error.message}`));
            if (options.keep) {
                log(`pgbench logs kept in ${workDir}`);
            } else {
                fs.rmSync(workDir, { recursive: true, force: true });
            }
        })());
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
        process.once(signal, () => {
            log(`${signal}: stopping`);
            void cleanup().finally(() => process.exit(130));
        });
    }

    const results: BenchResults = {
        kind: options.smoke ? "smoke" : "full",
        command,
        options,
        startedAt: new Date(started).toISOString(),
        finishedAt: "",
        elapsedSeconds: 0,
        machine,
        // Filled in once the servers run; empty if they never start.
        plan: {
            maxConnections: 0,
            superuserReservedConnections: 0,
            maxClientConn: 0,
            consoleClients: 0,
            defaultPoolSize: 0,
            minPoolSize: 0,
            reservePoolSize: 0,
            maxDbConnections: 0,
            poolMode: "",
            roleLimits: {},
            pgbouncerUserCaps: {},
            pools: [],
        },
        setup: { scale: options.scale, databases: [], initSeconds: 0, workloadByAlias: {} },
        scramClientMs: 0,
        scramIterations: 0,
        admission: [],
        sweep: [],
        connect: [],
        prepared: [],
        faults: { postgresRestartVariants: [], redis: [] },
        problems: [],
    };
    const attempt = async (what: string, body: () => Promise<void>) => {
        try {
            await body();
        } catch (error) {
            const message = `${what}: ${(error as Error).stack ?? String(error)}`;
            results.problems.push(message);
            log(`FAILED ${message}`);
        }
    };
    const note = (run: RunResult) => {
        if (run.goCompilerRunning) {
            quiet.runsWithGoCompiler.push(run.id);
        }
        const latency = run.latency ? `p50 ${run.latency.p50Ms} ms, p99 ${run.latency.p99Ms} ms` : "no latency";
        const errors = run.errors.refusedClients + run.errors.abortedClients + run.errors.failedTransactions;
        log(`  ${run.id}: ${run.tps} tps, ${latency}, ${errors} errors${run.problems.length ? `, PROBLEMS: ${run.problems.join("; ")}` : ""}`);
    };

    try {
        log("starting PostgreSQL, PgBouncer and Redis on the dev plan's rendered files");
        const bench = await BenchServers.start();
        servers = bench;
        observer = await Observer.open(bench);
        results.plan = planInfo(bench);
        const context: Context = {
            options,
            servers: bench,
            observer,
            targets: poolTargets(bench.plan, bench.stack.credentials),
            workDir,
            initialisedDatabases: [],
            workloadByAlias: {},
            monitoringScript: monitoringScriptPath(workDir),
            log,
        };
        const { initSeconds } = await setup(context);
        results.setup = { scale: options.scale, databases: [...context.initialisedDatabases], initSeconds, workloadByAlias: { ...context.workloadByAlias } };
        const scram = scramCost(bench.stack.secrets.verifiers[bench.plan.pools[0].role]);
        results.scramClientMs = scram.ms;
        results.scramIterations = scram.iterations;

        const sweep = options.phases.includes("sweep");
        const connect = options.phases.includes("connect");
        const prepared = options.phases.includes("prepared");
        if (prepared) {
            await attempt("max_prepared_statements", async () => {
                // The pooled -M prepared runs measure the rendered setting, not PgBouncer's own default.
                const running = (await observer!.console.query("SHOW CONFIG")).rows.find((row) => row.key === "max_prepared_statements")?.value;
                if (bench.plan.pgbouncer.maxPreparedStatements === undefined || running !== String(bench.plan.pgbouncer.maxPreparedStatements)) {
                    throw new Error(`PgBouncer runs with max_prepared_statements ${running}, the rendered pgbouncer.ini says ${bench.plan.pgbouncer.maxPreparedStatements ?? "nothing"}`);
                }
                log(`max_prepared_statements ${running}, as rendered`);
            });
        }
        // Direct runs first: PgBouncer has opened no server connection yet (min_pool_size would
        // otherwise keep 5 per pool open, and they count against the same role limits).
        for (const target of ["direct", "pooled"] as const) {
            if (sweep) {
                if (target === "direct") {
                    await attempt("max_connections probe", async () => {
                        results.maxConnectionsProbe = await maxConnectionsProbe(context);
                    });
                }
                for (const level of options.clients) {
                    await attempt(`admission ${target} ${level}`, async () => {
                        const admission = await admissionProbe(context, target, level);
                        results.admission.push(admission);
                        log(`admission ${target} ${level}: ${admission.admitted} of ${admission.attempted} connected${admission.refused ? ` (${Object.keys(admission.messages).join("; ")})` : ""}`);
                    });
                    for (const script of options.scripts) {
                        await attempt(`sweep ${target} ${level} ${script}`, async () => {
                            log(`${target} ${level} clients, ${script}`);
                            const { result } = await runWorkload(context, {
                                id: `${target}-${script}-${level}`,
                                target,
                                script,
                                level,
                                connectPerTransaction: false,
                                durationSeconds: options.durationSeconds,
                                warmupSeconds: options.warmupSeconds,
                                window: "common",
                            });
                            results.sweep.push(result);
                            note(result);
                        });
                    }
                }
            }
            if (connect) {
                for (const script of options.scripts) {
                    await attempt(`connect ${target} ${script}`, async () => {
                        log(`${target} ${options.connectClients} clients, ${script}, a connection per transaction (-C)`);
                        const { result } = await runWorkload(context, {
                            id: `${target}-${script}-connect-${options.connectClients}`,
                            target,
                            script,
                            level: options.connectClients,
                            connectPerTransaction: true,
                            durationSeconds: options.connectDurationSeconds,
                            warmupSeconds: options.warmupSeconds,
                            window: "common",
                        });
                        results.connect.push(result);
                        note(result);
                    });
                }
            }
            if (prepared) {
                // The extended protocol with named prepared statements: through PgBouncer 1.21+ in
                // transaction mode only with max_prepared_statements > 0 (1.24's default: 200).
                for (const script of options.scripts) {
                    await attempt(`prepared ${target} ${script}`, async () => {
                        log(`${target} ${options.preparedClients} clients, ${script}, pgbench -M prepared`);
                        const { result } = await runWorkload(context, {
                            id: `${target}-${script}-prepared-${options.preparedClients}`,
                            target,
                            script,
                            level: options.preparedClients,
                            connectPerTransaction: false,
                            protocol: "prepared",
                            durationSeconds: options.durationSeconds,
                            warmupSeconds: options.warmupSeconds,
                            window: "common",
                        });
                        results.prepared!.push(result);
                        note(result);
                    });
                }
            }
        }
        if (options.phases.includes("faults")) {
            const describe = (restart: PgRestartResult) =>
                `  restart: pg_ctl ${restart.restartCommandMs} ms; every client committing again after ${restart.allClientsSucceededAgainMs} ms; ` +
                `${restart.failed + restart.failedConnects} failures; ${restart.acknowledgedMissing} acknowledged rows missing of ${restart.acknowledged}`;
            await attempt("PostgreSQL restart", async () => {
                results.faults.postgresRestart = await postgresRestart(context);
                log(describe(results.faults.postgresRestart));
                log(`  the stack's PgBouncer answering on every pool again after ${await waitPooledHealthy(context)} ms`);
            });
            await attempt("PostgreSQL restart, PgBouncer with server_login_retry = 1 (experiment)", async () => {
                const settings = { server_login_retry: "1" };
                const variant = await bench.startPgbouncerVariant("pgbouncer-login-retry-1", settings);
                try {
                    const restart = await postgresRestart(context, { label: "experiment: rendered pgbouncer.ini + server_login_retry = 1", pgbouncer: { port: variant.port, settings } });
                    results.faults.postgresRestartVariants.push(restart);
                    log(describe(restart));
                } finally {
                    // SIGINT: PgBouncer 1.23+ waits for every client on SIGTERM.
                    await variant.server.stop("SIGINT");
                }
                log(`  the stack's PgBouncer answering on every pool again after ${await waitPooledHealthy(context)} ms`);
            });
            await attempt("PostgreSQL restart inside PAUSE/RESUME (experiment)", async () => {
                const restart = await postgresRestart(context, { label: "procedure: PAUSE; pg_ctl restart -m fast; RESUME (rendered configuration)", pauseAround: true });
                results.faults.postgresRestartVariants.push(restart);
                log(describe(restart));
                log(`  the stack's PgBouncer answering on every pool again after ${await waitPooledHealthy(context)} ms`);
            });
            for (const command of ["RELOAD", "PAUSE/RESUME"] as const) {
                await attempt(command, async () => {
                    log(`${command} under load`);
                    const fault = await pgbouncerCommand(context, command);
                    if (command === "RELOAD") {
                        results.faults.reload = fault;
                    } else {
                        results.faults.pauseResume = fault;
                    }
                    note(fault.run);
                });
            }
            for (const mode of ["graceful", "crash"] as const) {
                await attempt(`Redis ${mode} restart`, async () => {
                    const redis = await redisRestart(context, mode);
                    results.faults.redis.push(redis);
                    log(`  Redis ${mode}: ${redis.present} of ${redis.acknowledged} acknowledged keys present after the restart, ready in ${redis.readyMs} ms`);
                });
            }
        }
    } catch (error) {
        results.problems.push(`bench: ${(error as Error).stack ?? String(error)}`);
        log(`FAILED ${(error as Error).message}`);
    } finally {
        await cleanup();
    }

    results.machine.loadAverageAtEnd = loadAverage();
    results.machine.busiestProcessesAtEnd = busiestProcesses();
    results.finishedAt = new Date().toISOString();
    results.elapsedSeconds = Math.round((Date.now() - started) / 1000);
    results.problems.push(...validate(results));

    const out = defaultOut(options);
    if (out) {
        fs.mkdirSync(path.dirname(out), { recursive: true });
        fs.writeFileSync(out, `${resultsJson(results)}\n`);
        log(`results: ${path.relative(process.cwd(), out) || out}`);
    }
    if (!options.smoke && options.report && out && results.plan.pools.length > 0) {
        updateBenchmarksMd(results, out);
        log("BENCHMARKS.md regenerated from the results");
    } else {
        process.stdout.write(renderReport(results, out ?? "(smoke run: not written)"));
    }
    log(`finished in ${results.elapsedSeconds} s${results.problems.length ? ` with ${results.problems.length} problem(s)` : ""}`);
    for (const problem of results.problems) {
        log(`PROBLEM ${problem.split("\n")[0]}`);
    }
    return results.problems.length > 0 ? 1 : 0;
}

main().then(
    (code) => process.exit(code),
    (error: Error) => {
        log(`FAILED ${error.stack ?? error.message}`);
        process.exit(1);
    },
);
