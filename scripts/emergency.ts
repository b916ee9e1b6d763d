// npm run emergency -- <stack> <procedure> [arguments] [--yes]
//
// Section 6.3's procedures against a deployed stack, safe by default: without --yes each only
// shows what it would do. Procedures (ops/console/procedures.ts says how each works):
//   pgbouncer-kill-idle [pool] [--idle-longer-than 0s]
//   postgres-terminate-idle [--older-than 30m] [--include-superuser] [--include-monitoring] [--include-pgbouncer]
//   redis-kill-clients [--idle-longer-than 0s]
//   pgbouncer-pause [pool] | pgbouncer-resume [pool] | pgbouncer-reload
// Exit status: 0 done (or nothing to do, or shown), 1 the procedure failed, 2 a wrong command
// line (nothing was read or changed), 3 could not reach the stack.
import * as path from "path";
import { checkStackName, parseArgs, parseDuration } from "../ops/console/args";
import { EXIT, firstLine, ProcedureFailed, StackUnreachable, UsageError } from "../ops/errors";
import { readStackOutputs, StackOutputs } from "../ops/console/outputs";
import { pgbouncerKillIdle, pgbouncerPauseOrResume, pgbouncerReload, postgresTerminateIdle, ProcedureIo, redisKillClients } from "../ops/console/procedures";

const USAGE = `usage: npm run emergency -- <stack> <procedure> [arguments] [--yes]
procedures:
  pgbouncer-kill-idle [pool] [--idle-longer-than <duration>]   close idle clients (KILL_CLIENT), never a running transaction
  postgres-terminate-idle [--older-than 30m] [--include-superuser] [--include-monitoring] [--include-pgbouncer]
  redis-kill-clients [--idle-longer-than <duration>]           CLIENT KILL the services' clients, never the monitor's or the healthcheck's
  pgbouncer-pause [pool] | pgbouncer-resume [pool] | pgbouncer-reload
without --yes a procedure only shows what it would do`;

export interface EmergencyIo {
    stdout: { write(text: string): unknown };
    stderr: { write(text: string): unknown };
    env: NodeJS.ProcessEnv;
    projectDir: string;
    /** The stack's outputs; by default read with the Pulumi CLI. */
    loadOutputs?: (stack: string) => Promise<StackOutputs>;
}

type Run = (outputs: StackOutputs, io: ProcedureIo) => Promise<number>;

/** A procedure's arguments, checked before anything is read: a wrong one changes nothing. */
const PROCEDURES: Record<string, (args: string[]) => Run> = {
    "pgbouncer-kill-idle": (args) => {
        const parsed = parseArgs(args, { flags: [], valued: ["--idle-longer-than"] });
        const pool = atMostOne(parsed.positional, "pgbouncer-kill-idle takes at most one pool");
        const minimumIdleSeconds = parsed.values.has("--idle-longer-than") ? parseDuration(parsed.values.get("--idle-longer-than"), "--idle-longer-than") : 0;
        return (outputs, io) => pgbouncerKillIdle(outputs, { pool, minimumIdleSeconds }, io);
    },
    "postgres-terminate-idle": (args) => {
        const parsed = parseArgs(args, { flags: ["--include-superuser", "--include-monitoring", "--include-pgbouncer"], valued: ["--older-than"] });
        atMostOne(parsed.positional, "postgres-terminate-idle takes no positional argument", 0);
        const params = {
            olderThanSeconds: parseDuration(parsed.values.get("--older-than") ?? "30m", "--older-than"),
            includeSuperuser: parsed.flags.has("--include-superuser"),
            includeMonitoring: parsed.flags.has("--include-monitoring"),
            includePgbouncer: parsed.flags.has("--include-pgbouncer"),
        };
        return (outputs, io) => postgresTerminateIdle(outputs, params, io);
    },
    "redis-kill-clients": (args) => {
        const parsed = parseArgs(args, { flags: [], valued: ["--idle-longer-than"] });
        atMostOne(parsed.positional, "redis-kill-clients takes no positional argument", 0);
        const minimumIdleSeconds = parsed.values.has("--idle-longer-than") ? parseDuration(parsed.values.get("--idle-longer-than"), "--idle-longer-than") : 0;
        return (outputs, io) => redisKillClients(outputs, minimumIdleSeconds, io);
    },
    "pgbouncer-pause": (args) => {
        const pool = atMostOne(parseArgs(args, { flags: [], valued: [] }).positional, "pgbouncer-pause takes at most one pool");
        return (outputs, io) => pgbouncerPauseOrResume(outputs, "PAUSE", pool, io);
    },
    "pgbouncer-resume": (args) => {
        const pool = atMostOne(parseArgs(args, { flags: [], valued: [] }).positional, "pgbouncer-resume takes at most one pool");
        return (outputs, io) => pgbouncerPauseOrResume(outputs, "RESUME", pool, io);
    },
    "pgbouncer-reload": (args) => {
        atMostOne(parseArgs(args, { flags: [], valued: [] }).positional, "pgbouncer-reload takes no argument", 0);
        return (outputs, io) => pgbouncerReload(outputs, io);
    },
};

function atMostOne(values: string[], message: string, most = 1): string | undefined {
    if (values.length > most) {
        throw new UsageError(`${message}, not ${values.join(" ")}`);
    }
    const value = values[0];
    // A pool is a PgBouncer database name: a word, never a console command.
    if (value !== undefined && !/^[A-Za-z0-9_.-]+$/.test(value)) {
        throw new UsageError(`${JSON.stringify(value)} is not a pool name`);
    }
    return value;
}

export function parseEmergencyArgs(argv: readonly string[]): { stack: string; procedure: string; yes: boolean; run: Run } {
    const words = argv.filter((word) => word !== "--yes");
    if (words.length === 0 || words[0] === "--help" || words[0] === "-h") {
        throw new UsageError(USAGE);
    }
    const stack = checkStackName(words[0], USAGE);
    const procedure = words[1];
    if (procedure === undefined) {
        throw new UsageError(`which procedure?\n${USAGE}`);
    }
    const build = PROCEDURES[procedure];
    if (!build) {
        throw new UsageError(`unknown procedure ${JSON.stringify(procedure)}; one of ${Object.keys(PROCEDURES).join(", ")}`);
    }
    return { stack, procedure, yes: argv.includes("--yes"), run: build(words.slice(2)) };
}

export async function main(argv: readonly string[], io: EmergencyIo): Promise<number> {
    try {
        const { stack, procedure, yes, run } = parseEmergencyArgs(argv);
        const outputs = await (io.loadOutputs ?? ((name) => readStackOutputs(name, io.projectDir, io.env)))(stack);
        io.stdout.write(`${procedure} on stack ${stack}${yes ? "" : " (dry run)"}\n`);
        return await run(outputs, { yes, print: (line) => io.stdout.write(`${line}\n`) });
    } catch (error) {
        if (error instanceof UsageError) {
            io.stderr.write(`emergency: ${error.message}\n`);
            return EXIT.usage;
        }
        if (error instanceof StackUnreachable) {
            io.stderr.write(`emergency: could not reach the stack: ${firstLine(error)}\n`);
            return EXIT.unreachable;
        }
        if (error instanceof ProcedureFailed) {
            io.stderr.write(`emergency: ${error.message}\n`);
            return EXIT.failed;
        }
        io.stderr.write(`emergency: failed: ${firstLine(error)}\n`);
        return EXIT.failed;
    }
}

if (require.main === module) {
    main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, projectDir: path.resolve(__dirname, "..") }).then((code) => process.exit(code));
}
