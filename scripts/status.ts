// npm run status -- <stack> [--json] [--watch [seconds]]
//
// Is the pooling healthy right now? Reads the stack's outputs (ops/console/outputs.ts), looks at
// PgBouncer, PostgreSQL, Redis and Qdrant through their published ports as the monitoring users,
// and judges section 5's metrics against the stack's own levels (monitoring.thresholds.*,
// redis.warningClients / criticalClients); with backups on, each backed-up service's last backup
// from the backup store (ops/backups.ts: a failed last run is critical, none for two intervals a
// warning). A table on a terminal (coloured only on a TTY), one
// JSON document with --json, refreshed in place with --watch (every 5 s unless given).
// Exit status: 0 ok, 1 warning, 2 critical, 3 could not reach the stack (no such stack, not
// deployed, no server answering); 2 also for a wrong command line, with its usage.
import * as path from "path";
import { checkStackName, parseArgs } from "../ops/console/args";
import { collectReport, Look } from "../ops/console/collect";
import { EXIT, firstLine, StackUnreachable, UsageError } from "../ops/errors";
import { lastLookFile, LastLook, readLastLook, writeLastLook } from "../ops/console/lastLook";
import { readStackOutputs, StackOutputs } from "../ops/console/outputs";
import { stateBackend } from "../ops/pulumiCli";
import { renderReport } from "../ops/console/render";
import { exitCodeOf } from "../ops/console/report";

const USAGE = "usage: npm run status -- <stack> [--json] [--watch [seconds]]";
const DEFAULT_WATCH_SECONDS = 5;

export interface StatusIo {
    stdout: { write(text: string): unknown; isTTY?: boolean };
    stderr: { write(text: string): unknown };
    env: NodeJS.ProcessEnv;
    projectDir: string;
    /** The stack's outputs; by default read with the Pulumi CLI. */
    loadOutputs?: (stack: string) => Promise<StackOutputs>;
    /** Seconds between the two samples of one look (1). */
    sampleSeconds?: number;
    /** Stops --watch (SIGINT in the command); without it --watch runs until the process ends. */
    stop?: AbortSignal;
}

interface StatusOptions {
    stack: string;
    json: boolean;
    watchSeconds?: number;
}

export function parseStatusArgs(argv: readonly string[]): StatusOptions {
    const args = parseArgs(argv, { flags: ["--json"], valued: [], optionalValue: ["--watch"] });
    if (args.positional.length > 1) {
        throw new UsageError(`one stack at a time, not ${args.positional.join(" ")}\n${USAGE}`);
    }
    const stack = checkStackName(args.positional[0], USAGE);
    let watchSeconds: number | undefined;
    if (args.flags.has("--watch")) {
        watchSeconds = DEFAULT_WATCH_SECONDS;
    } else if (args.values.has("--watch")) {
        watchSeconds = Number(args.values.get("--watch"));
        if (!(watchSeconds >= 1 && watchSeconds <= 3600)) {
            throw new UsageError(`--watch takes seconds between 1 and 3600, not ${args.values.get("--watch")}`);
        }
    }
    return { stack, json: args.flags.has("--json"), watchSeconds };
}

function colourWanted(io: StatusIo): boolean {
    return io.stdout.isTTY === true && io.env.NO_COLOR === undefined && io.env.TERM !== "dumb";
}

/** What a look prints and the exit status it stands for. */
function show(look: Look, options: StatusOptions, io: StatusIo, watching: boolean): number {
    if (look.nothingReached) {
        const sections = [look.report.pgbouncer, look.report.postgres, look.report.redis, look.report.qdrant].filter((section) => section !== undefined);
        const reasons = sections.map((section) => (section.reachable ? "" : `${section.endpoint}: ${section.error}`)).join("; ");
        io.stderr.write(`status: could not reach stack ${options.stack}: no server answered (${reasons})\n`);
        if (options.json) {
            io.stdout.write(`${JSON.stringify({ stack: options.stack, verdict: "unreachable", report: look.report })}\n`);
        }
        return EXIT.unreachable;
    }
    if (options.json) {
        io.stdout.write(`${JSON.stringify(look.report)}\n`);
    } else {
        // Like top: the screen is redrawn in place on a terminal; a pipe gets one report after another.
        const clear = watching && io.stdout.isTTY ? "\x1b[H\x1b[2J" : "";
        io.stdout.write(`${clear}${renderReport(look.report, { colour: colourWanted(io) })}${watching && !clear ? "\n" : ""}`);
    }
    return exitCodeOf(look.report.verdict);
}

function pause(seconds: number, stop?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
        const timer = setTimeout(resolve, seconds * 1000);
        stop?.addEventListener("abort", () => {
            clearTimeout(timer);
            resolve();
        });
    });
}

async function run(options: StatusOptions, io: StatusIo): Promise<number> {
    const outputs = await (io.loadOutputs ?? ((stack) => readStackOutputs(stack, io.projectDir, io.env)))(options.stack);
    const lookFile = lastLookFile(options.stack, stateBackend(io.env), io.env);
    let previous: LastLook | undefined = readLastLook(lookFile);
    let code: number = EXIT.unreachable;
    do {
        const look = await collectReport(outputs, { sampleSeconds: io.sampleSeconds ?? 1, previous, env: io.env });
        code = show(look, options, io, options.watchSeconds !== undefined);
        if (!look.nothingReached) {
            previous = look.look;
            writeLastLook(lookFile, look.look);
        }
        if (options.watchSeconds !== undefined) {
            await pause(options.watchSeconds, io.stop);
        }
    } while (options.watchSeconds !== undefined && !io.stop?.aborted);
    return code;
}

/** The whole command; resolves to its exit status. */
export async function main(argv: readonly string[], io: StatusIo): Promise<number> {
    try {
        return await run(parseStatusArgs(argv), io);
    } catch (error) {
        if (error instanceof UsageError) {
            io.stderr.write(`status: ${error.message}\n`);
            return EXIT.usage;
        }
        if (error instanceof StackUnreachable) {
            io.stderr.write(`status: ${firstLine(error)}\n`);
            return EXIT.unreachable;
        }
        throw error;
    }
}

if (require.main === module) {
    const stop = new AbortController();
    process.once("SIGINT", () => stop.abort());
    process.stdout.on("error", (error: NodeJS.ErrnoException) => {
        if (error.code !== "EPIPE") {
            throw error;
        }
    });
    main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, projectDir: path.resolve(__dirname, ".."), stop: stop.signal }).then(
        (code) => process.exit(code),
        (error) => {
            process.stderr.write(`status: ${(error as Error).stack ?? error}\n`);
            process.exit(EXIT.unreachable);
        },
    );
}
