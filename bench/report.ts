// BENCHMARKS.md's figures, generated from a results file so that the document and the data agree.
//   npx ts-node --transpile-only bench/report.ts [bench/results/full-<time>.json]
// rewrites the part of BENCHMARKS.md between the GENERATED markers (default: the newest full run).
import * as fs from "fs";
import * as path from "path";
import type { Script } from "./lib/options";
import type { AdmissionResult, BenchResults, PgRestartResult, RunResult } from "./lib/results";

export const REPO_ROOT = path.resolve(__dirname, "..");
export const BENCHMARKS_MD = path.join(REPO_ROOT, "BENCHMARKS.md");
const BEGIN = "<!-- GENERATED: bench/report.ts from the results file named below; do not edit by hand -->";
const END = "<!-- END GENERATED -->";

/** Section 5.1's avg_wait_time levels (PgBouncer 1.23+: mean wait per server assignment). */
export const WAIT_WARNING_MS = 100;
export const WAIT_CRITICAL_MS = 500;
/** The issue's targets. */
export const TARGET_THROUGHPUT_SHARE = 0.9;
export const TARGET_CONNECT_RATIO = 5;

const integer = (value: number) => Math.round(value).toLocaleString("en-US");
const fixed = (value: number | null | undefined, digits = 1) => (value === null || value === undefined || !Number.isFinite(value) ? "-" : value.toFixed(digits));
const percent = (value: number) => `${Math.round(value * 100)} %`;
const yes = (met: boolean) => (met ? "**met**" : "**missed**");

function table(header: string[], rows: string[][]): string {
    const escape = (cell: string) => cell.replace(/\|/g, "\\|").replace(/\n/g, " ");
    return [`| ${header.join(" | ")} |`, `| ${header.map(() => "---").join(" | ")} |`, ...rows.map((row) => `| ${row.map(escape).join(" | ")} |`)].join("\n");
}

export function errorCount(run: RunResult): number {
    return run.errors.refusedClients + run.errors.abortedClients + run.errors.failedTransactions;
}

function errorCell(run: RunResult | undefined): string {
    if (!run) {
        return "-";
    }
    const parts: string[] = [];
    if (run.errors.refusedClients) {
        const refused = run.shares.filter((share) => share.refusedAtStart);
        parts.push(`${run.errors.refusedClients} clients refused at connect (${refused.length} of ${run.shares.length} pgbench aborted)`);
    }
    if (run.errors.abortedClients) {
        parts.push(`${run.errors.abortedClients} clients aborted`);
    }
    if (run.errors.failedTransactions) {
        parts.push(`${run.errors.failedTransactions} failed transactions`);
    }
    return parts.length ? parts.join(", ") : "0";
}

function latencyCell(run: RunResult | undefined): string {
    return run?.latency ? `${fixed(run.latency.p50Ms, 2)} / ${fixed(run.latency.p99Ms, 2)}` : "-";
}

function levelCell(run: RunResult): string {
    return run.target === "pooled" && run.pgbenchClients < run.level ? `${run.level} (${run.pgbenchClients} + console)` : String(run.level);
}

function find(runs: readonly RunResult[], target: string, script: Script, level?: number): RunResult | undefined {
    return runs.find((run) => run.target === target && run.script === script && (level === undefined || run.level === level));
}

function scriptsOf(results: BenchResults): Script[] {
    return results.options.scripts;
}

/** PgBouncer's [major, minor] from the machine's version line ("PgBouncer 1.24.1 ..."), if it parses. */
export function pgbouncerVersion(results: Pick<BenchResults, "machine">): [number, number] | undefined {
    const match = /PgBouncer (\d+)\.(\d+)/.exec(results.machine.versions.pgbouncer);
    return match ? [Number(match[1]), Number(match[2])] : undefined;
}

/**
 * PgBouncer 1.23+ shows avg_wait_time as the mean wait per server assignment (over stats_period);
 * 1.18 showed microseconds waited per second of wall time.
 */
export function avgWaitIsPerAssignment(results: Pick<BenchResults, "machine">): boolean {
    const version = pgbouncerVersion(results);
    return version !== undefined && (version[0] > 1 || version[1] >= 23);
}

function preparedRuns(results: BenchResults): RunResult[] {
    return results.prepared ?? [];
}

function topLevel(results: BenchResults): number {
    return Math.max(...results.options.clients);
}

/**
 * The best direct run: the highest throughput among direct runs in which every client was admitted
 * and none failed. A run whose clients were mostly refused measures the few surviving shares alone
 * (a different, smaller workload), so it is reported beside it but not used as the yardstick.
 */
export function bestDirect(results: BenchResults, script: Script): { best?: RunResult; bestWithErrors?: RunResult } {
    const direct = results.sweep.filter((run) => run.target === "direct" && run.script === script);
    const highest = (runs: RunResult[]) => runs.reduce<RunResult | undefined>((max, run) => (!max || run.tps > max.tps ? run : max), undefined);
    const best = highest(direct.filter((run) => errorCount(run) === 0));
    const overall = highest(direct);
    return { best, bestWithErrors: overall && best && overall.tps > best.tps && overall !== best ? overall : undefined };
}

export interface TargetCheck {
    name: string;
    figure: string;
    met: boolean;
}

export function targetChecks(results: BenchResults): TargetCheck[] {
    const checks: TargetCheck[] = [];
    const top = topLevel(results);
    if (results.sweep.length) {
        for (const script of scriptsOf(results)) {
            const pooled = find(results.sweep, "pooled", script, top);
            const admission = results.admission.find((entry) => entry.target === "pooled" && entry.level === top);
            if (pooled) {
                const errors = errorCount(pooled) + (admission?.refused ?? 0);
                checks.push({
                    name: `0 errors at ${top} clients through PgBouncer (${script})`,
                    figure: `${errors} errors (pgbench: ${errorCell(pooled)}; admission probe: ${admission ? `${admission.refused} of ${admission.attempted} refused` : "not run"})`,
                    met: errors === 0,
                });
            }
            const { best, bestWithErrors } = bestDirect(results, script);
            if (pooled && best) {
                const share = best.tps > 0 ? pooled.tps / best.tps : 0;
                const caveat = bestWithErrors
                    ? `; a direct run with refused clients completed ${integer(bestWithErrors.tps)} tps at ${bestWithErrors.level} clients (${errorCell(bestWithErrors)}: only the surviving shares ran), not counted`
                    : "";
                checks.push({
                    name: `pooled throughput at ${top} clients >= ${percent(TARGET_THROUGHPUT_SHARE)} of the best error-free direct (${script})`,
                    figure: `${percent(share)}: ${integer(pooled.tps)} tps pooled vs ${integer(best.tps)} tps direct at ${best.level} clients${caveat}`,
                    met: share >= TARGET_THROUGHPUT_SHARE,
                });
            }
        }
    }
    for (const script of scriptsOf(results)) {
        const direct = find(results.connect, "direct", script);
        const pooled = find(results.connect, "pooled", script);
        if (direct && pooled) {
            const ratio = direct.tps > 0 ? pooled.tps / direct.tps : 0;
            checks.push({
                name: `connection per transaction: pooled >= ${TARGET_CONNECT_RATIO}x direct (${script}, ${pooled.level} clients)`,
                figure: `${fixed(ratio, 2)}x: ${integer(pooled.tps)} vs ${integer(direct.tps)} tps`,
                met: ratio >= TARGET_CONNECT_RATIO,
            });
        }
    }
    for (const script of scriptsOf(results)) {
        const pooled = find(preparedRuns(results), "pooled", script);
        if (pooled) {
            checks.push({
                name: `prepared statements (pgbench -M prepared) through PgBouncer in ${results.plan.poolMode} mode: 0 errors (${script}, ${pooled.level} clients)`,
                figure: `${errorCell(pooled)}; ${integer(pooled.transactionsTotal)} transactions`,
                met: errorCount(pooled) === 0 && pooled.transactionsTotal > 0,
            });
        }
    }
    const { reload, pauseResume, postgresRestart, redis } = results.faults;
    if (reload || pauseResume) {
        const runs = [reload, pauseResume].filter((fault) => fault !== undefined);
        const failed = runs.reduce((sum, fault) => sum + errorCount(fault.run), 0);
        checks.push({
            name: "0 failed transactions across RELOAD and PAUSE/RESUME",
            figure: runs.map((fault) => `${fault.command}: ${errorCell(fault.run)}`).join("; "),
            met: failed === 0,
        });
    }
    if (postgresRestart) {
        checks.push({
            name: "PostgreSQL restart under load: no acknowledged commit lost",
            figure: `${postgresRestart.acknowledgedMissing} of ${integer(postgresRestart.acknowledged)} acknowledged rows missing`,
            met: postgresRestart.acknowledgedMissing === 0 && postgresRestart.acknowledged > 0,
        });
    }
    const graceful = redis.find((entry) => entry.mode === "graceful");
    if (graceful) {
        checks.push({
            name: "Redis restart (appendonly as rendered): keys written before it survive",
            figure: `${graceful.lost} of ${integer(graceful.acknowledged)} acknowledged keys lost`,
            met: graceful.lost === 0 && graceful.acknowledged > 0,
        });
    }
    return checks;
}

/** The figures as ratios: what carries over to another machine. */
function ratiosSection(results: BenchResults): string {
    const lines: string[] = [];
    const top = topLevel(results);
    const pooledAdmission = results.admission.find((entry) => entry.target === "pooled" && entry.level === top);
    const directAdmission = results.admission.find((entry) => entry.target === "direct" && entry.level === top);
    const pooledTop = scriptsOf(results)
        .map((script) => find(results.sweep, "pooled", script, top))
        .filter((run): run is RunResult => run !== undefined);
    if (pooledAdmission && directAdmission) {
        lines.push(
            `Clients served at ${top}: through PgBouncer ${pooledAdmission.admitted} of ${pooledAdmission.attempted} (${percent(pooledAdmission.admitted / pooledAdmission.attempted)}), ` +
                `directly ${directAdmission.admitted} of ${directAdmission.attempted} (${percent(directAdmission.admitted / directAdmission.attempted)}).`,
        );
    }
    if (pooledTop.length) {
        const servers = Math.max(...pooledTop.map((run) => run.postgresBackends.max));
        const clients = pooledTop[0].pgbenchClients + (pooledTop[0].pgbouncer?.consoleClients ?? 0);
        lines.push(`PostgreSQL connections behind ${clients} PgBouncer clients: at most ${servers}, ${fixed(clients / servers, 1)} clients per server connection.`);
    }
    for (const script of scriptsOf(results)) {
        const pooled = find(results.sweep, "pooled", script, top);
        const { best } = bestDirect(results, script);
        const equal = results.options.clients
            .map((level) => [find(results.sweep, "direct", script, level), find(results.sweep, "pooled", script, level)] as const)
            .filter(([direct, run]) => direct && run && errorCount(direct) === 0 && direct.tps > 0)
            .map(([direct, run]) => `${fixed(run!.tps / direct!.tps, 2)}x at ${direct!.level}`);
        if (pooled && best) {
            lines.push(
                `${script}: pooled at ${top} clients = ${percent(pooled.tps / best.tps)} of the best error-free direct run (${best.level} clients); ` +
                    `pooled / direct at equal client counts: ${equal.join(", ")}; p99 latency pooled at ${top} / direct at ${best.level}: ${pooled.latency && best.latency ? `${fixed(pooled.latency.p99Ms / best.latency.p99Ms, 0)}x` : "-"}.`,
            );
        }
        const bouncer = pooled?.pgbouncer;
        if (pooled?.latency && bouncer) {
            lines.push(
                `${script} at ${top}: clients spend ${percent(bouncer.meanWaitPerTransactionMs / pooled.latency.meanMs)} of their mean latency queued in PgBouncer ` +
                    `(${fixed(bouncer.meanWaitPerTransactionMs, 1)} of ${fixed(pooled.latency.meanMs, 1)} ms; section 5.1 warns above ${WAIT_WARNING_MS} ms).`,
            );
        }
        const connectDirect = find(results.connect, "direct", script);
        const connectPooled = find(results.connect, "pooled", script);
        if (connectDirect && connectPooled && connectDirect.tps > 0) {
            lines.push(`${script}, a connection per transaction: pooled ${fixed(connectPooled.tps / connectDirect.tps, 2)}x direct.`);
        }
        const preparedDirect = find(preparedRuns(results), "direct", script);
        const preparedPooled = find(preparedRuns(results), "pooled", script);
        if (preparedDirect && preparedPooled && preparedDirect.tps > 0) {
            lines.push(`${script}, prepared statements (pgbench -M prepared) at ${preparedPooled.level} clients: pooled ${fixed(preparedPooled.tps / preparedDirect.tps, 2)}x direct.`);
        }
    }
    const restart = results.faults.postgresRestart;
    if (restart && restart.allClientsSucceededAgainMs !== null && restart.restartCommandMs > 0) {
        const fixedRetry = (results.faults.postgresRestartVariants ?? []).find((entry) => Object.keys(entry.pgbouncerSettings).length > 0);
        const paused = (results.faults.postgresRestartVariants ?? []).find((entry) => entry.pausedAround);
        lines.push(
            `PostgreSQL restart: clients back ${fixed(restart.allClientsSucceededAgainMs / restart.restartCommandMs, 0)}x later than PostgreSQL itself ` +
                `(${fixed(restart.allClientsSucceededAgainMs / 1000, 1)} s vs ${fixed(restart.restartCommandMs / 1000, 1)} s)` +
                (fixedRetry?.allClientsSucceededAgainMs ? `; with server_login_retry = 1: ${fixed(fixedRetry.allClientsSucceededAgainMs / 1000, 1)} s` : "") +
                (paused?.allClientsSucceededAgainMs ? `; inside PAUSE/RESUME: ${fixed(paused.allClientsSucceededAgainMs / 1000, 1)} s and ${paused.failed + paused.failedConnects} failures` : "") +
                `. Acknowledged commits lost: ${[restart, ...(results.faults.postgresRestartVariants ?? [])].reduce((sum, entry) => sum + entry.acknowledgedMissing, 0)}.`,
        );
    }
    return lines.length ? `### In ratios\n\n${lines.map((line) => `- ${line}`).join("\n")}\n` : "";
}

/** Other processes busier than this (% of one core) just before a run: the run shared the cores. */
export const OTHER_CPU_THRESHOLD = 20;

function disturbedRuns(results: BenchResults): string {
    const runs = [...results.sweep, ...results.connect, ...preparedRuns(results), ...[results.faults.reload, results.faults.pauseResume].flatMap((fault) => (fault ? [fault.run] : []))];
    const measured = runs.filter((run) => run.otherProcesses !== undefined);
    if (measured.length === 0) {
        return "not measured";
    }
    const disturbed = measured.filter((run) => run.otherProcesses.cpuPercent > OTHER_CPU_THRESHOLD);
    const worst = measured.reduce((max, run) => Math.max(max, run.otherProcesses.cpuPercent), 0);
    return disturbed.length
        ? disturbed.map((run) => `${run.id} (${run.otherProcesses.cpuPercent} %: ${run.otherProcesses.busiest[0] ?? ""})`).join("; ")
        : `none (at most ${worst} % before any of the ${measured.length} runs)`;
}

function machineSection(results: BenchResults, source: string): string {
    const { machine, options } = results;
    const quiet = machine.quiet;
    const condition = quiet.maxLoad > 0 ? `no Go compiler and a 1-minute load average below ${quiet.maxLoad}` : "no Go compiler";
    const quietText = quiet.waitedFor
        ? quiet.achieved
            ? `yes: ${condition} when measuring began (waited ${quiet.waitedSeconds} s)`
            : `**no**: waited ${quiet.waitedSeconds} s for ${condition}; measured anyway with ${quiet.goCompilersAtMeasuring} Go compiler process(es) running and the load average above`
        : quiet.achieved
          ? "not waited for; no Go compiler running at the start"
          : "**no**: not waited for, Go compilers running at the start";
    const rows = [
        ["CPU", `${machine.cpuModel}, ${machine.cores} cores`],
        ["memory", `${machine.memoryGiB} GiB`],
        ["OS, kernel", `${machine.os}, ${machine.kernel}`],
        ["PostgreSQL", machine.versions.postgres],
        ["PgBouncer", machine.versions.pgbouncer],
        ["Redis", machine.versions.redis],
        ["pgbench, Node.js", `${machine.versions.pgbench}, ${machine.versions.node}`],
        ["load average at start (1, 5, 15 min)", machine.loadAverageAtStart.join(", ")],
        ["load average at end", (machine.loadAverageAtEnd ?? []).join(", ")],
        ["quiet machine", quietText],
        ["runs during which a Go compiler ran", quiet.runsWithGoCompiler.length ? quiet.runsWithGoCompiler.join(", ") : "none"],
        ["runs that began with other processes using more than " + `${OTHER_CPU_THRESHOLD} % of a core`, disturbedRuns(results)],
        ["busiest processes at start (CPU %)", machine.busiestProcessesAtStart.join("; ")],
        ["busiest processes at end (CPU %)", (machine.busiestProcessesAtEnd ?? []).join("; ")],
        ["command", `\`${results.command}\``],
        ["results file", `\`${source}\``],
        ["started, elapsed", `${results.startedAt}, ${results.elapsedSeconds} s`],
        [
            "run settings",
            `${options.durationSeconds} s per run, first ${options.warmupSeconds} s left out; pgbench scale ${results.setup.scale} in ${results.setup.databases.join(", ")}; ` +
                `-C runs at ${options.connectClients} clients for ${options.connectDurationSeconds ?? options.durationSeconds} s; ` +
                (preparedRuns(results).length ? `-M prepared runs at ${options.preparedClients} clients; ` : "") +
                `faults: ${options.restartClients} restart clients, ${options.faultDurationSeconds} s RELOAD and PAUSE runs, PAUSE held ${options.pauseSeconds} s`,
        ],
    ];
    return `### Machine and run\n\n${table(["", ""], rows)}\n`;
}

function mixSection(results: BenchResults): string {
    const top = topLevel(results);
    const run = find(results.sweep, "pooled", scriptsOf(results)[0], top);
    const rows = results.plan.pools.map((pool) => {
        const share = run?.shares.find((entry) => entry.alias === pool.alias);
        return [
            pool.alias,
            pool.service,
            pool.role,
            pool.database,
            String(pool.poolSize),
            String(pool.maxClientConnections),
            share ? String(share.clients) : "-",
            results.setup.workloadByAlias[pool.alias] === "monitoring-query"
                ? "section 5.2's connection-usage query, once a second per client (pgbench --rate; not counted in tps or latency)"
                : "the run's pgbench script",
        ];
    });
    return (
        `### Who the clients are\n\nEvery run spreads its clients over the plan's pools by their share of section 2.2's max connections ` +
        `(largest remainder). Direct runs use each pool's direct URL (same role, same PostgreSQL database), pooled runs its pooled URL.\n\n` +
        table(["PgBouncer database", "service", "role", "database", "pool_size", "2.2 max connections", `clients at ${top}`, "workload"], rows) +
        "\n"
    );
}

function targetsSection(results: BenchResults): string {
    const checks = targetChecks(results);
    return `### Targets\n\n${table(["target", "measured", "result"], checks.map((check) => [check.name, check.figure, yes(check.met)]))}\n`;
}

function sweepSection(results: BenchResults): string {
    const parts: string[] = ["### Direct to PostgreSQL vs through PgBouncer\n"];
    for (const script of scriptsOf(results)) {
        const rows = results.options.clients.map((level) => {
            const direct = find(results.sweep, "direct", script, level);
            const pooled = find(results.sweep, "pooled", script, level);
            const ratio = direct && pooled && direct.tps > 0 ? `${fixed(pooled.tps / direct.tps, 2)}x` : direct && pooled ? "direct ran nothing" : "-";
            return [
                pooled ? levelCell(pooled) : String(level),
                direct ? integer(direct.tps) : "-",
                latencyCell(direct),
                errorCell(direct),
                direct ? String(direct.postgresBackends.max) : "-",
                pooled ? integer(pooled.tps) : "-",
                latencyCell(pooled),
                errorCell(pooled),
                pooled ? String(pooled.postgresBackends.max) : "-",
                ratio,
            ];
        });
        parts.push(
            `#### ${script === "select-only" ? "Select-only (`-S`)" : "TPC-B-like (default script)"}\n\n` +
                table(
                    ["clients", "direct tps", "direct p50 / p99 ms", "direct errors", "direct backends", "pooled tps", "pooled p50 / p99 ms", "pooled errors", "pooled server conns", "pooled / direct"],
                    rows,
                ) +
                "\n",
        );
    }
    parts.push(
        "tps: transactions completed per second in the window where every pgbench process ran, warm-up left out; p50 / p99: from pgbench's per-transaction logs of that window. " +
            "backends / server conns: most PostgreSQL backends of the application roles seen during the run (sampled every second).\n",
    );
    return parts.join("\n");
}

function admissionSection(results: BenchResults): string {
    const describe = (entry: AdmissionResult | undefined) => {
        if (!entry) {
            return "-";
        }
        const messages = Object.entries(entry.messages)
            .map(([message, count]) => `${count} x "${message}"`)
            .join("; ");
        return `${entry.admitted} of ${entry.attempted}${messages ? `; ${messages}` : ""}`;
    };
    const rows = results.options.clients.map((level) => [
        String(level),
        describe(results.admission.find((entry) => entry.target === "direct" && entry.level === level)),
        describe(results.admission.find((entry) => entry.target === "pooled" && entry.level === level)),
    ]);
    const probe = results.maxConnectionsProbe;
    const probeText = probe
        ? `\nmax_connections (${results.plan.maxConnections}): superuser sessions, which no CONNECTION LIMIT binds, got ${probe.admitted} connections with ${probe.othersOpen} already open ` +
          `(${probe.admitted + probe.othersOpen} in all); then ${Object.entries(probe.messages)
              .map(([message, count]) => `${count} x "${message}"`)
              .join("; ")}. ` +
          `The application roles' CONNECTION LIMITs add up to ${Object.entries(results.plan.roleLimits)
              .filter(([role]) => role !== "postgres")
              .reduce((sum, [, limit]) => sum + limit, 0)}, below the ${results.plan.maxConnections - results.plan.superuserReservedConnections} non-reserved slots, so for them the role limits bind first.\n`
        : "";
    return (
        "### Who gets connected at all\n\nEach level's connections opened at once (16 at a time), held, each running `select 1`; refusals by message.\n\n" +
        table(["clients", "direct: connected", "through PgBouncer: connected"], rows) +
        "\n" +
        probeText
    );
}

function headlineSection(results: BenchResults): string {
    const top = topLevel(results);
    const runs = scriptsOf(results)
        .map((script) => find(results.sweep, "pooled", script, top))
        .filter((run): run is RunResult => run !== undefined);
    if (runs.length === 0) {
        return "";
    }
    const waitStatus = (ms: number) => (ms > WAIT_CRITICAL_MS ? "critical" : ms > WAIT_WARNING_MS ? "warning" : "ok");
    // PgBouncer 1.23+ counts server assignments: the wait per assignment is what its avg_wait_time
    // shows and what section 5.1's thresholds mean; results from 1.18 have the wait per transaction.
    const perAssignment = runs.some((run) => run.pgbouncer?.meanWaitPerAssignmentMs !== undefined);
    const shownPerAssignment = avgWaitIsPerAssignment(results);
    const meanWait = (bouncer: NonNullable<RunResult["pgbouncer"]>) => (perAssignment ? (bouncer.meanWaitPerAssignmentMs ?? 0) : bouncer.meanWaitPerTransactionMs);
    const rows = runs.map((run) => {
        const bouncer = run.pgbouncer;
        return [
            run.script,
            levelCell(run),
            integer(run.tps),
            run.latency ? `${fixed(run.latency.p50Ms, 2)} / ${fixed(run.latency.p99Ms, 2)} / ${fixed(run.latency.maxMs, 0)}` : "-",
            errorCell(run),
            String(run.postgresBackends.max),
            bouncer ? String(bouncer.maxClientsWaiting) : "-",
            bouncer ? fixed(bouncer.maxWaitMs, 0) : "-",
            bouncer ? `${fixed(meanWait(bouncer), 2)} (${waitStatus(meanWait(bouncer))}); worst pool ${bouncer.worstPool} ${fixed(bouncer.worstPoolMeanWaitMs, 2)}` : "-",
            bouncer ? (shownPerAssignment ? fixed(bouncer.avgWaitTimeShownMaxUs / 1000, 2) : integer(bouncer.avgWaitTimeShownMaxUs)) : "-",
        ];
    });
    const perPool = runs.map((run) =>
        table(
            ["PgBouncer database", "role", "clients", "workload", "pool_size", "tps (pgbench)", "p50 / p99 ms", "transactions", "errors"],
            run.shares.map((share) => {
                const pool = results.plan.pools.find((candidate) => candidate.alias === share.alias);
                return [
                    share.alias,
                    share.role,
                    String(share.clients),
                    share.ratePerSecond !== undefined ? `${share.workload} (${share.ratePerSecond}/s)` : share.workload,
                    pool ? String(pool.poolSize) : "-",
                    fixed(share.reportedTps, 0),
                    share.latency ? `${fixed(share.latency.p50Ms, 2)} / ${fixed(share.latency.p99Ms, 2)}` : "-",
                    integer(share.transactions),
                    String(share.failedTransactions + share.abortedClients + (share.refusedAtStart ? share.clients : 0)),
                ];
            }),
        ),
    );
    return (
        `### ${top} clients on the plan's pools\n\n` +
        table(
            [
                "script",
                "PgBouncer clients",
                "tps",
                "latency p50 / p99 / max ms",
                "errors",
                "server conns used",
                "most clients waiting",
                "longest wait (maxwait) ms",
                `mean wait per ${perAssignment ? "server assignment" : "transaction"} ms (5.1: warning > ${WAIT_WARNING_MS}, critical > ${WAIT_CRITICAL_MS})`,
                shownPerAssignment ? "largest avg_wait_time shown ms (per server assignment, over stats_period)" : "avg_wait_time shown by 1.18 (us per s)",
            ],
            rows,
        ) +
        "\n\n" +
        runs.map((run, index) => `Per pool, ${run.script}:\n\n${perPool[index]}\n`).join("\n")
    );
}

function connectSection(results: BenchResults): string {
    if (results.connect.length === 0) {
        return "";
    }
    const rows = scriptsOf(results).map((script) => {
        const direct = find(results.connect, "direct", script);
        const pooled = find(results.connect, "pooled", script);
        const connectMs = (run: RunResult | undefined) => {
            const values = (run?.shares ?? []).map((share) => share.averageConnectionMs).filter((value): value is number => value !== undefined);
            return values.length ? fixed(values.reduce((a, b) => a + b, 0) / values.length, 2) : "-";
        };
        return [
            script,
            String(direct?.level ?? pooled?.level ?? "-"),
            direct ? integer(direct.tps) : "-",
            connectMs(direct),
            errorCell(direct),
            pooled ? integer(pooled.tps) : "-",
            connectMs(pooled),
            errorCell(pooled),
            direct && pooled && direct.tps > 0 ? `${fixed(pooled.tps / direct.tps, 2)}x` : "-",
        ];
    });
    return (
        "### A connection per transaction (`pgbench -C`)\n\n" +
        table(["script", "clients", "direct tps", "direct avg connect ms", "direct errors", "pooled tps", "pooled avg connect ms", "pooled errors", "pooled / direct"], rows) +
        `\n\nClient-side SCRAM-SHA-256 key derivation (PBKDF2, ${results.scramIterations} iterations, what libpq computes for every connection to either server) took ` +
        `${fixed(results.scramClientMs, 2)} ms on one core of this machine (measured with Node's OpenSSL).\n`
    );
}

function preparedSection(results: BenchResults): string {
    const runs = preparedRuns(results);
    if (runs.length === 0) {
        return "";
    }
    const rows = scriptsOf(results).map((script) => {
        const direct = find(runs, "direct", script);
        const pooled = find(runs, "pooled", script);
        const level = direct?.level ?? pooled?.level;
        const simple = (target: string) => (level === undefined ? undefined : find(results.sweep, target, script, level));
        const statements = pooled?.pgbouncer?.preparedStatements;
        return [
            script,
            level === undefined ? "-" : String(level),
            direct ? integer(direct.tps) : "-",
            latencyCell(direct),
            errorCell(direct),
            simple("direct") ? integer(simple("direct")!.tps) : "-",
            pooled ? integer(pooled.tps) : "-",
            latencyCell(pooled),
            errorCell(pooled),
            simple("pooled") ? integer(simple("pooled")!.tps) : "-",
            direct && pooled && direct.tps > 0 ? `${fixed(pooled.tps / direct.tps, 2)}x` : "-",
            statements ? `${integer(statements.clientParses)} / ${integer(statements.serverParses)} / ${integer(statements.binds)}` : "-",
        ];
    });
    return (
        "### Prepared statements (`pgbench -M prepared`)\n\n" +
        table(
            [
                "script",
                "clients",
                "direct tps",
                "direct p50 / p99 ms",
                "direct errors",
                "direct tps, simple protocol",
                "pooled tps",
                "pooled p50 / p99 ms",
                "pooled errors",
                "pooled tps, simple protocol",
                "pooled / direct",
                "PgBouncer: client Parse / server Parse / Bind",
            ],
            rows,
        ) +
        "\n\nThe extended protocol with named prepared statements: each client prepares its script's statements once per connection, then only binds and " +
        "executes them. Through PgBouncer in transaction mode that works only because PgBouncer (1.21 or later, with `max_prepared_statements` above 0: " +
        `the rendered pgbouncer.ini says ${results.plan.maxPreparedStatements ?? "nothing, so PgBouncer's own default applies"}) keeps each client's statements and prepares them on whichever server connection serves the transaction; ` +
        "server Parse counts how often it had to. Simple protocol: the sweep's run at the same client count, where there is one.\n"
    );
}

function faultsSection(results: BenchResults): string {
    const parts: string[] = [];
    const restarts = [results.faults.postgresRestart, ...(results.faults.postgresRestartVariants ?? [])].filter((entry): entry is PgRestartResult => entry !== undefined);
    if (restarts.length) {
        const column = (entry: PgRestartResult) => entry.label;
        const ms = (value: number | null) => (value === null ? "**not within the wait**" : `${integer(value)} ms`);
        const messages = (entry: PgRestartResult) =>
            Object.entries(entry.messages)
                .sort((a, b) => b[1] - a[1])
                .map(([message, count]) => `${count} x "${message}"`)
                .join("; ") || "none";
        const rows: Array<[string, (entry: PgRestartResult) => string]> = [
            ["clients (one autocommitted INSERT of a numbered row at a time; after an error: reconnect, back off min(times x 50, 2000) ms as section 3.1)", (entry) => `${entry.clients} (${Object.entries(entry.aliases).map(([alias, n]) => `${alias} ${n}`).join(", ")})`],
            ["pg_ctl restart -m fast took", (entry) => `${integer(entry.restartCommandMs)} ms (exit ${entry.restartExitCode})${entry.pauseMs !== undefined ? `; PAUSE before it took ${integer(entry.pauseMs)} ms` : ""}`],
            ["first commit acknowledged after the restart returned (from the restart's start)", (entry) => ms(entry.firstSuccessAfterRestartMs)],
            ["every client committing again (from the restart's start)", (entry) => ms(entry.allClientsSucceededAgainMs)],
            ["longest time without any acknowledged commit", (entry) => ms(entry.longestGapMs)],
            ["clients that saw a failure", (entry) => `${entry.clientsWithFailures} of ${entry.clients}`],
            ["failed INSERTs / failed connects (retries included)", (entry) => `${entry.failed} / ${entry.failedConnects} (of ${integer(entry.attempts)} INSERTs)`],
            ["error messages", messages],
            ["acknowledged commits / **missing afterwards**", (entry) => `${integer(entry.acknowledged)} / **${entry.acknowledgedMissing}**`],
            ["committed without an acknowledgement (in doubt, not lost)", (entry) => String(entry.committedUnacknowledged)],
            ["PgBouncer server_login_retry", (entry) => `${entry.serverLoginRetrySeconds} s`],
        ];
        parts.push(
            "#### PostgreSQL restarted (`pg_ctl restart -m fast`) under load through PgBouncer\n\n" +
                table(["figure", ...restarts.map(column)], rows.map(([name, cell]) => [name, ...restarts.map(cell)])) +
                "\n",
        );
    }
    for (const fault of [results.faults.reload, results.faults.pauseResume]) {
        if (!fault) {
            continue;
        }
        const { run } = fault;
        const events = fault.events.map((event) => `${event.name} at ${fixed(event.atMs / 1000, 1)} s took ${integer(event.durationMs)} ms`).join("; ");
        parts.push(
            `#### PgBouncer ${fault.command} under load (TPC-B-like, ${levelCell(run)} clients, ${run.durationSeconds} s)\n\n` +
                table(
                    ["events", "tps (whole run)", "latency p50 / p99 / max ms", "longest stall ms", "errors"],
                    [[events, integer(run.tps), run.latency ? `${fixed(run.latency.p50Ms, 2)} / ${fixed(run.latency.p99Ms, 2)} / ${fixed(run.latency.maxMs, 0)}` : "-", integer(run.longestStallMs), errorCell(run)]],
                ) +
                "\n",
        );
    }
    if (results.faults.redis.length) {
        parts.push(
            "#### Redis restarted with the rendered persistence (appendonly yes, appendfsync everysec)\n\n" +
                table(
                    ["stop", "keys acknowledged before the stop", "present afterwards", "lost", "stop took ms", "ready after start ms", "Redis log"],
                    results.faults.redis.map((entry) => [
                        entry.mode === "graceful" ? "SIGTERM (orderly shutdown)" : "SIGKILL (process crash)",
                        integer(entry.acknowledged),
                        integer(entry.present),
                        `**${entry.lost}**${entry.lost ? ` (acknowledged ${entry.lostNewestBeforeStopMs}-${entry.lostOldestBeforeStopMs} ms before the stop)` : ""}`,
                        integer(entry.stopMs),
                        integer(entry.readyMs),
                        entry.loadLine,
                    ]),
                ) +
                "\n",
        );
    }
    return parts.length ? `### Faults under load\n\n${parts.join("\n")}` : "";
}

function problemsSection(results: BenchResults): string {
    if (results.problems.length === 0) {
        return "";
    }
    return `### Problems\n\n${results.problems.map((problem) => `- ${problem.split("\n")[0]}`).join("\n")}\n`;
}

/** The generated part of BENCHMARKS.md (also printed by smoke runs). */
export function renderReport(results: BenchResults, source: string): string {
    return (
        [
            targetsSection(results),
            ratiosSection(results),
            sweepSection(results),
            headlineSection(results),
            connectSection(results),
            preparedSection(results),
            admissionSection(results),
            faultsSection(results),
            mixSection(results),
            machineSection(results, source),
            problemsSection(results),
        ]
            .filter((section) => section !== "")
            .join("\n") + "\n"
    );
}

export function updateBenchmarksMd(results: BenchResults, resultsFile: string, file = BENCHMARKS_MD): void {
    const source = path.relative(REPO_ROOT, path.resolve(resultsFile));
    const generated = `${BEGIN}\n\n${renderReport(results, source)}\n${END}`;
    const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : `# Benchmarks\n\n${BEGIN}\n${END}\n`;
    const begin = current.indexOf(BEGIN);
    const end = current.indexOf(END);
    if (begin < 0 || end < begin) {
        throw new Error(`${file} has no generated section (the markers ${BEGIN} and ${END})`);
    }
    fs.writeFileSync(file, current.slice(0, begin) + generated + current.slice(end + END.length));
}

/** Runs that produced no numbers: what makes `npm run bench` (and the smoke run) fail. */
export function validate(results: BenchResults): string[] {
    const problems: string[] = [];
    const { options } = results;
    for (const run of [...results.sweep, ...results.connect, ...preparedRuns(results)]) {
        for (const problem of run.problems) {
            problems.push(`${run.id}: ${problem}`);
        }
    }
    if (options.phases.includes("sweep")) {
        for (const target of ["direct", "pooled"] as const) {
            for (const level of options.clients) {
                const admission = results.admission.find((entry) => entry.target === target && entry.level === level);
                if (!admission) {
                    problems.push(`admission ${target} ${level}: no result`);
                }
                for (const script of options.scripts) {
                    const run = find(results.sweep, target, script, level);
                    if (!run) {
                        problems.push(`${target} ${script} ${level}: no result`);
                    } else if (admission && admission.refused === 0 && (run.transactionsInWindow === 0 || !run.latency)) {
                        problems.push(`${run.id}: every client was admitted but no transaction was measured`);
                    }
                }
            }
        }
        if (!results.maxConnectionsProbe || results.maxConnectionsProbe.admitted === 0) {
            problems.push("max_connections probe: no result");
        }
    }
    if (options.phases.includes("connect")) {
        for (const target of ["direct", "pooled"] as const) {
            for (const script of options.scripts) {
                const run = find(results.connect, target, script);
                if (!run || run.transactionsInWindow === 0) {
                    problems.push(`${target} ${script} -C: no transactions measured`);
                }
            }
        }
    }
    if (options.phases.includes("prepared")) {
        for (const target of ["direct", "pooled"] as const) {
            for (const script of options.scripts) {
                const run = find(preparedRuns(results), target, script);
                if (!run || run.transactionsInWindow === 0) {
                    problems.push(`${target} ${script} -M prepared: no transactions measured`);
                    continue;
                }
                // The point of the phase: a PgBouncer that cannot carry prepared statements in
                // transaction mode answers "prepared statement ... does not exist / already exists".
                const broken = Object.keys(run.errors.messages).filter((message) => /prepared statement/i.test(message));
                if (broken.length) {
                    problems.push(`${run.id}: prepared statements failed: ${broken.join("; ")}`);
                }
            }
        }
    }
    if (options.phases.includes("faults")) {
        const variants = results.faults.postgresRestartVariants ?? [];
        if (variants.length !== 2) {
            problems.push(`PostgreSQL restart experiments: ${variants.length} of 2 ran`);
        }
        for (const [name, restart] of [["PostgreSQL restart", results.faults.postgresRestart] as const, ...variants.map((variant) => [variant.label, variant] as const)]) {
            if (!restart || restart.acknowledged === 0 || restart.restartExitCode !== 0) {
                problems.push(`${name}: no figures`);
            } else if (restart.firstSuccessAfterRestartMs === null) {
                problems.push(`${name}: no commit succeeded after the restart`);
            }
        }
        for (const [command, fault] of [
            ["RELOAD", results.faults.reload],
            ["PAUSE/RESUME", results.faults.pauseResume],
        ] as const) {
            if (!fault || fault.run.transactionsTotal === 0) {
                problems.push(`${command} under load: no transactions measured`);
            } else {
                problems.push(...fault.run.problems.map((problem) => `${fault.run.id}: ${problem}`));
            }
        }
        for (const mode of ["graceful", "crash"]) {
            const entry = results.faults.redis.find((candidate) => candidate.mode === mode);
            if (!entry || entry.acknowledged === 0) {
                problems.push(`Redis ${mode} restart: no figures`);
            }
        }
    }
    return problems;
}

function newestFullResults(): string {
    const dir = path.join(REPO_ROOT, "bench", "results");
    const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((name) => /^full-.*\.json$/.test(name)) : [];
    if (files.length === 0) {
        throw new Error(`no full results in ${dir}: run npm run bench first`);
    }
    return path.join(dir, files.sort().pop()!);
}

if (require.main === module) {
    const file = path.resolve(process.argv[2] ?? newestFullResults());
    const results = JSON.parse(fs.readFileSync(file, "utf8")) as BenchResults;
    if (results.kind !== "full") {
        process.stderr.write(`${file} is a ${results.kind} run: BENCHMARKS.md is written from full runs only\n`);
        process.exit(1);
    }
    updateBenchmarksMd(results, file);
    process.stdout.write(`BENCHMARKS.md regenerated from ${path.relative(REPO_ROOT, file)}\n`);
}
