// Command-line options of `npm run bench`: the full run's defaults, the smoke run's, and overrides.

export type Script = "select-only" | "tpcb-like";
export const SCRIPTS: readonly Script[] = ["select-only", "tpcb-like"];
/** pgbench's query protocol (-M): the sweep and -C runs use simple, the prepared phase prepared. */
export type Protocol = "simple" | "prepared";
export type Phase = "sweep" | "connect" | "prepared" | "faults";
export const PHASES: readonly Phase[] = ["sweep", "connect", "prepared", "faults"];

export interface BenchOptions {
    smoke: boolean;
    /** Client levels of the direct-versus-pooled sweep. */
    clients: number[];
    scripts: Script[];
    /** Seconds per pgbench run (pgbench -T takes whole seconds). */
    durationSeconds: number;
    /** Seconds at the start of each run left out of throughput and latency. */
    warmupSeconds: number;
    /** Clients and seconds of the connection-per-transaction runs (pgbench -C). */
    connectClients: number;
    connectDurationSeconds: number;
    /** Clients of the extended-protocol runs (pgbench -M prepared), direct and pooled; --duration long. */
    preparedClients: number;
    /** pgbench scale factor per database. */
    scale: number;
    /** Node clients inserting numbered rows while PostgreSQL restarts. */
    restartClients: number;
    /** Seconds of load before and after the PostgreSQL restart. */
    restartLeadSeconds: number;
    restartTailSeconds: number;
    /** Longest wait for every client to succeed again after the restart. */
    restartMaxRecoverySeconds: number;
    /** Seconds of each RELOAD and PAUSE/RESUME run, and how long PAUSE holds. */
    faultDurationSeconds: number;
    pauseSeconds: number;
    /** Seconds the Redis writer runs before each restart. */
    redisWriteSeconds: number;
    /** Wait this long at most for Go compilers to finish before measuring (0: do not wait). */
    quietWaitMinutes: number;
    quietPollSeconds: number;
    /** Also wait until the 1-minute load average is below this (0: only wait for Go compilers). */
    quietLoad: number;
    phases: Phase[];
    /** Results JSON; full runs default to bench/results/full-<time>.json, smoke runs write none unless given. */
    out?: string;
    /** Regenerate BENCHMARKS.md from the results (full runs only). */
    report: boolean;
    /** Keep the servers' directory and pgbench logs (for debugging). */
    keep: boolean;
}

export const FULL_DEFAULTS: BenchOptions = {
    smoke: false,
    clients: [10, 50, 100, 250, 500],
    scripts: [...SCRIPTS],
    durationSeconds: 25,
    warmupSeconds: 5,
    connectClients: 50,
    connectDurationSeconds: 25,
    // Below every role's CONNECTION LIMIT, so that the direct run is complete too.
    preparedClients: 100,
    scale: 50,
    restartClients: 100,
    restartLeadSeconds: 5,
    restartTailSeconds: 5,
    restartMaxRecoverySeconds: 60,
    faultDurationSeconds: 24,
    pauseSeconds: 3,
    redisWriteSeconds: 5,
    quietWaitMinutes: 40,
    quietPollSeconds: 60,
    quietLoad: 1,
    phases: [...PHASES],
    report: true,
    keep: false,
};

/**
 * The smoke run: every code path of the full run (refused direct connections included, hence
 * one level above the role limits) with tiny durations, in well under a minute.
 */
export const SMOKE_DEFAULTS: BenchOptions = {
    ...FULL_DEFAULTS,
    smoke: true,
    // 200 clients: the application roles' shares exceed zentoria_app's CONNECTION LIMIT, so the
    // refused-connection path runs too. pgbench's -T includes connecting, hence 2 s rather than 1.
    clients: [200],
    scripts: ["tpcb-like"],
    durationSeconds: 2,
    warmupSeconds: 0,
    connectClients: 4,
    // Unlike the over-limit runs, the -C runs need no overlap between pgbench processes.
    connectDurationSeconds: 1,
    preparedClients: 10,
    scale: 1,
    restartClients: 6,
    restartLeadSeconds: 0.5,
    restartTailSeconds: 0.2,
    restartMaxRecoverySeconds: 40,
    faultDurationSeconds: 2,
    pauseSeconds: 0.5,
    redisWriteSeconds: 0.3,
    quietWaitMinutes: 0,
    report: false,
};

export const USAGE = `usage: npm run bench -- [options]

  --smoke                    every code path briefly (CI, under a minute): 200 clients, TPC-B-like,
                             2 s runs; prints the tables, writes no BENCHMARKS.md
  --clients 10,50,100        client levels of the direct/pooled sweep (default 10,50,100,250,500)
  --scripts select-only,tpcb-like
  --duration S               seconds per pgbench run (default 25; smoke 2)
  --warmup S                 seconds left out at the start of each run (default 5)
  --connect-clients N        clients of the pgbench -C runs (default 50)
  --connect-duration S       seconds per pgbench -C run (default: --duration; smoke 1)
  --prepared-clients N       clients of the pgbench -M prepared runs, direct and pooled (default 100; smoke 10)
  --scale N                  pgbench scale factor per database (default 50)
  --restart-clients N        clients inserting rows while PostgreSQL restarts (default 100)
  --fault-duration S         seconds of the RELOAD and PAUSE/RESUME runs (default 24)
  --pause S                  seconds PgBouncer stays paused (default 3)
  --quiet-wait M             minutes to wait for a quiet machine (default 40; 0: no wait)
  --quiet-load L             quiet also means a 1-minute load average below L (default 1; 0: Go compilers only)
  --phases sweep,connect,prepared,faults
  --out FILE                 results JSON (default bench/results/full-<time>.json; smoke: none)
  --no-report                do not regenerate BENCHMARKS.md
  --keep                     keep server files, logs and pgbench logs
  --help`;

function numberList(value: string, flag: string): number[] {
    const list = value.split(",").map((part) => Number(part.trim()));
    if (list.length === 0 || list.some((entry) => !Number.isInteger(entry) || entry <= 0)) {
        throw new Error(`${flag} takes positive integers separated by commas, got ${value}`);
    }
    return list;
}

function positive(value: string, flag: string, integer = false): number {
    const number = Number(value);
    if (!Number.isFinite(number) || number < 0 || (integer && !Number.isInteger(number))) {
        throw new Error(`${flag} takes a non-negative ${integer ? "integer" : "number"}, got ${value}`);
    }
    return number;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T[] {
    const list = value.split(",").map((part) => part.trim());
    for (const entry of list) {
        if (!allowed.includes(entry as T)) {
            throw new Error(`${flag}: unknown ${entry} (one of ${allowed.join(", ")})`);
        }
    }
    return list as T[];
}

const VALUE_FLAGS = [
    "--clients",
    "--scripts",
    "--duration",
    "--warmup",
    "--connect-clients",
    "--connect-duration",
    "--prepared-clients",
    "--scale",
    "--restart-clients",
    "--fault-duration",
    "--pause",
    "--quiet-wait",
    "--quiet-load",
    "--phases",
    "--out",
];

export function parseOptions(argv: readonly string[]): BenchOptions | "help" {
    if (argv.includes("--help") || argv.includes("-h")) {
        return "help";
    }
    const options: BenchOptions = argv.includes("--smoke") ? { ...SMOKE_DEFAULTS } : { ...FULL_DEFAULTS };
    for (let index = 0; index < argv.length; index++) {
        const flag = argv[index];
        if (flag === "--smoke") {
            continue;
        }
        if (flag === "--no-report") {
            options.report = false;
            continue;
        }
        if (flag === "--keep") {
            options.keep = true;
            continue;
        }
        if (!VALUE_FLAGS.includes(flag)) {
            throw new Error(`unknown option ${flag}\n${USAGE}`);
        }
        const value = argv[++index];
        if (value === undefined) {
            throw new Error(`${flag} needs a value\n${USAGE}`);
        }
        switch (flag) {
            case "--clients":
                options.clients = numberList(value, flag);
                break;
            case "--scripts":
                options.scripts = oneOf(value, SCRIPTS, flag);
                break;
            case "--duration":
                options.durationSeconds = Math.max(1, positive(value, flag, true));
                if (!argv.includes("--connect-duration")) {
                    options.connectDurationSeconds = options.durationSeconds;
                }
                break;
            case "--connect-duration":
                options.connectDurationSeconds = Math.max(1, positive(value, flag, true));
                break;
            case "--warmup":
                options.warmupSeconds = positive(value, flag);
                break;
            case "--connect-clients":
                options.connectClients = Math.max(1, positive(value, flag, true));
                break;
            case "--prepared-clients":
                options.preparedClients = Math.max(1, positive(value, flag, true));
                break;
            case "--scale":
                options.scale = Math.max(1, positive(value, flag, true));
                break;
            case "--restart-clients":
                options.restartClients = Math.max(1, positive(value, flag, true));
                break;
            case "--fault-duration":
                options.faultDurationSeconds = Math.max(2, positive(value, flag, true));
                break;
            case "--pause":
                options.pauseSeconds = positive(value, flag);
                break;
            case "--quiet-wait":
                options.quietWaitMinutes = positive(value, flag);
                break;
            case "--quiet-load":
                options.quietLoad = positive(value, flag);
                break;
            case "--phases":
                options.phases = oneOf(value, PHASES, flag);
                break;
            case "--out":
                options.out = value;
                break;
            default:
                throw new Error(`unknown option ${flag}\n${USAGE}`);
        }
    }
    if (options.warmupSeconds >= Math.min(options.durationSeconds, options.connectDurationSeconds) && options.warmupSeconds > 0) {
        throw new Error(`--warmup (${options.warmupSeconds}) must be shorter than --duration and --connect-duration`);
    }
    return options;
}
