// The shape of a results file (bench/results/*.json): what run.ts writes and report.ts reads.
import type { BenchOptions, Protocol, Script } from "./options";

export type Target = "direct" | "pooled";
export type Workload = Script | "monitoring-query";

export interface MachineInfo {
    cpuModel: string;
    cores: number;
    memoryGiB: number;
    kernel: string;
    os: string;
    versions: { postgres: string; pgbouncer: string; redis: string; pgbench: string; node: string };
    loadAverageAtStart: number[];
    loadAverageAtEnd?: number[];
    /** Go compilers (another engineer's builds) before and during the run. */
    quiet: {
        waitedFor: boolean;
        /** No Go compiler and (when required) the load average below `maxLoad` when measuring began. */
        achieved: boolean;
        maxLoad: number;
        /** Go compilers still running when measuring began. */
        goCompilersAtMeasuring: number;
        waitedSeconds: number;
        goProcessesAtStart: string[];
        /** Runs during which a Go compiler was seen. */
        runsWithGoCompiler: string[];
    };
    /** Other processes busier than this (% of one core) before a run mark it as disturbed. */
    otherCpuThresholdPercent?: number;
    /** The busiest other processes when the run started and when it ended (CPU %, command). */
    busiestProcessesAtStart: string[];
    busiestProcessesAtEnd?: string[];
}

export interface PoolInfo {
    alias: string;
    service: string;
    role: string;
    database: string;
    poolSize: number;
    maxClientConnections: number;
}

export interface PlanInfo {
    maxConnections: number;
    superuserReservedConnections: number;
    maxClientConn: number;
    consoleClients: number;
    defaultPoolSize: number;
    minPoolSize: number;
    reservePoolSize: number;
    maxDbConnections: number;
    /** max_prepared_statements as rendered (unset: not rendered). */
    maxPreparedStatements?: number;
    poolMode: string;
    roleLimits: Record<string, number>;
    pgbouncerUserCaps: Record<string, number>;
    pools: PoolInfo[];
}

/** One pgbench process: one pool's share of a run's clients. */
export interface ShareResult {
    alias: string;
    role: string;
    database: string;
    workload: Workload;
    clients: number;
    exitCode: number | null;
    /** "number of transactions actually processed" (0 when pgbench did not get that far). */
    transactions: number;
    failedTransactions: number;
    abortedClients: number;
    /** pgbench could not connect all its clients and exited before running (exit 1). */
    refusedAtStart: boolean;
    reportedTps?: number;
    initialConnectionMs?: number;
    averageConnectionMs?: number;
    /** Scheduled rate (pgbench --rate) of a throttled share: the monitoring service polls. */
    ratePerSecond?: number;
    /** This share's transactions over the whole run (its own log). */
    latency: LatencySummary | null;
}

export interface LatencySummary {
    count: number;
    meanMs: number;
    p50Ms: number;
    p90Ms: number;
    p99Ms: number;
    maxMs: number;
}

export interface PgbouncerObservation {
    /** Largest sums over pools while the run went on (SHOW POOLS, every second). */
    maxClientsWaiting: number;
    maxServerActive: number;
    maxServerConnections: number;
    maxWaitMs: number;
    /** SHOW STATS totals over the run: transactions, time clients waited for a server. */
    transactions: number;
    waitUs: number;
    /**
     * Server assignments over the run (delta total_server_assignment_count; PgBouncer 1.23+).
     * Absent in results from PgBouncer 1.18, which has no such counter.
     */
    serverAssignments?: number;
    /**
     * Mean wait per server assignment = delta total_wait_time / delta total_server_assignment_count:
     * what PgBouncer 1.23+ shows as avg_wait_time (over its stats_period), and what section 5.1's
     * thresholds are read against. Absent for PgBouncer 1.18.
     */
    meanWaitPerAssignmentMs?: number;
    /** Mean wait per transaction = delta total_wait_time / delta total_xact_count (in transaction mode about one assignment each). */
    meanWaitPerTransactionMs: number;
    /** Worst pool's mean wait per server assignment (1.18: per transaction). */
    worstPoolMeanWaitMs: number;
    worstPool: string;
    /**
     * Largest avg_wait_time PgBouncer showed during the run, as shown (microseconds): with 1.23+ the
     * mean wait per server assignment over stats_period (60 s); with 1.18 microseconds waited per
     * second of wall time.
     */
    avgWaitTimeShownMaxUs: number;
    /** Prepared statements over the run (delta SHOW STATS totals; PgBouncer 1.21+), when any were seen. */
    preparedStatements?: {
        /** Parse messages clients sent. */
        clientParses: number;
        /** Statements PgBouncer prepared on server connections (a client's statement once per server connection). */
        serverParses: number;
        binds: number;
    };
    /** Clients connected to PgBouncer when the run started (the admin console). */
    consoleClients: number;
}

export interface RunResult {
    id: string;
    target: Target;
    script: Script;
    /** pgbench -M; absent in older results, where every run was simple. */
    protocol?: Protocol;
    connectPerTransaction: boolean;
    /** The client level (PgBouncer clients including the console when it takes a slot). */
    level: number;
    pgbenchClients: number;
    durationSeconds: number;
    warmupSeconds: number;
    /** Seconds of the measured window (all pgbench processes running, warm-up left out). */
    windowSeconds: number;
    /** Application transactions per second completed in the window, every application share together (the monitoring share's polls left out). */
    tps: number;
    /** Sum of the tps each application share's pgbench printed (for comparison). */
    reportedTps: number;
    transactionsInWindow: number;
    transactionsTotal: number;
    latency: LatencySummary | null;
    errors: {
        /** Clients of pgbench processes that could not connect and exited before running. */
        refusedClients: number;
        abortedClients: number;
        failedTransactions: number;
        /** pgbench error messages, client numbers and ports replaced, with counts. */
        messages: Record<string, number>;
    };
    shares: ShareResult[];
    /** Most PostgreSQL client backends of the application roles seen during the run, by role. */
    postgresBackends: { max: number; byRole: Record<string, number> };
    pgbouncer?: PgbouncerObservation;
    /** Transactions completed (and failed) per 250 ms since the run started, for fault runs. */
    timeline?: { binMs: number; ok: number[]; failed: number[] };
    /** Longest stretch without a completed transaction inside the run, ms. */
    longestStallMs: number;
    loadAverage: number;
    goCompilerRunning: boolean;
    /** Other processes' CPU (% of one core) just before the run, the benchmark's own servers idle, and the busiest of them. */
    otherProcesses: { cpuPercent: number; busiest: string[] };
    /** Machinery problems (no numbers); runs with these fail the bench. */
    problems: string[];
}

export interface AdmissionResult {
    target: Target;
    level: number;
    attempted: number;
    admitted: number;
    refused: number;
    messages: Record<string, number>;
    byRole: Record<string, { attempted: number; admitted: number }>;
}

export interface MaxConnectionsProbe {
    attempted: number;
    admitted: number;
    /** Client backends already open (the observer's superuser session). */
    othersOpen: number;
    messages: Record<string, number>;
}

export interface PgRestartResult {
    label: string;
    /** PgBouncer settings added to the rendered pgbouncer.ini for this run (empty: the rendering as it is). */
    pgbouncerSettings: Record<string, string>;
    /** PAUSE on PgBouncer's console before pg_ctl restart, RESUME after it (PgBouncer's documented procedure). */
    pausedAround: boolean;
    /** How long PAUSE took to return (in-flight transactions finishing), when paused around. */
    pauseMs?: number;
    clients: number;
    /** Clients that saw at least one failure. */
    clientsWithFailures: number;
    aliases: Record<string, number>;
    restartCommandMs: number;
    restartExitCode: number | null;
    attempts: number;
    acknowledged: number;
    failed: number;
    failedConnects: number;
    messages: Record<string, number>;
    /** Measured from the moment pg_ctl restart was started. */
    firstFailureMs: number | null;
    lastFailureMs: number | null;
    /** First acknowledged commit after the restart command returned. */
    firstSuccessAfterRestartMs: number | null;
    /** Every client has had an acknowledged commit after its last failure. */
    allClientsSucceededAgainMs: number | null;
    /** Longest time no client got a commit acknowledged. */
    longestGapMs: number;
    rowsInTable: number;
    acknowledgedMissing: number;
    /** Rows committed whose acknowledgement the client never got (in doubt, not lost). */
    committedUnacknowledged: number;
    serverLoginRetrySeconds: number;
}

export interface PgbouncerCommandResult {
    command: "RELOAD" | "PAUSE/RESUME";
    events: Array<{ name: string; atMs: number; durationMs: number }>;
    run: RunResult;
}

export interface RedisRestartResult {
    mode: "graceful" | "crash";
    signal: string;
    acknowledged: number;
    failedWrites: number;
    present: number;
    lost: number;
    /** Lost keys were acknowledged at most this long before the server was stopped. */
    lostNewestBeforeStopMs: number | null;
    lostOldestBeforeStopMs: number | null;
    stopMs: number;
    /** From the restarted process' start until it answered PING. */
    readyMs: number;
    loadLine: string;
}

export interface BenchResults {
    kind: "full" | "smoke";
    command: string;
    options: BenchOptions;
    startedAt: string;
    finishedAt: string;
    elapsedSeconds: number;
    machine: MachineInfo;
    plan: PlanInfo;
    setup: { scale: number; databases: string[]; initSeconds: number; workloadByAlias: Record<string, Workload> };
    /** Client-side SCRAM-SHA-256 key derivation (PBKDF2, the verifier's iterations) on this machine. */
    scramClientMs: number;
    scramIterations: number;
    maxConnectionsProbe?: MaxConnectionsProbe;
    admission: AdmissionResult[];
    sweep: RunResult[];
    connect: RunResult[];
    /** pgbench -M prepared, direct and pooled (absent in results from before the phase existed). */
    prepared?: RunResult[];
    faults: {
        postgresRestart?: PgRestartResult;
        /**
         * The same restart done differently (experiments): through a PgBouncer rendered identically
         * plus settings that shorten recovery, or with PAUSE/RESUME around it.
         */
        postgresRestartVariants: PgRestartResult[];
        reload?: PgbouncerCommandResult;
        pauseResume?: PgbouncerCommandResult;
        redis: RedisRestartResult[];
    };
    problems: string[];
}
