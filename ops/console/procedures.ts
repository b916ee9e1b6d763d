// Section 6.3's emergency procedures, safe by default: each looks first and prints what it would
// do (which clients or backends, their age, state, application and role), and acts only when
// asked (--yes), re-checking each target just before it acts, so that a client that became busy
// in between is left alone. Running one again does nothing more: what is gone stays gone.
//
// Looking uses the monitoring users (PgBouncer's stats console, PostgreSQL's monitoring role,
// Redis' monitor user); acting uses the admin ones (PgBouncer's admin console, the superuser,
// Redis' admin user).
import Redis from "ioredis";
import { Client } from "pg";
import { REDIS_SYSTEM_USERS } from "../../config/validate";
import { formatDuration } from "./args";
import { consoleRows, withPostgres, withRedis } from "./connect";
import { ProcedureFailed, UsageError } from "../errors";
import { StackOutputs } from "./outputs";
import {
    BackendState,
    ClassifiedClient,
    classifyClients,
    closable,
    CONSOLE_DATABASE,
    KILL_CLIENT_SINCE,
    parseConnections,
    parseVersion,
    versionAtLeast,
} from "./pgbouncer";
import { BACKEND_STATES_SQL, IDLE_BACKENDS_SQL, IdleBackend, idleBackends, TERMINATE_IDLE_SQL } from "./postgres";
import { killableRedisClients, parseClientList, RedisClient } from "./redis";
import { table } from "./render";

export interface ProcedureIo {
    print(line: string): void;
    /** Act (--yes); otherwise only show what would be done. */
    yes: boolean;
}

const plain = { colour: false };
const seconds = (value: number | undefined) => (value === undefined ? "?" : value < 120 ? `${Math.round(value)} s` : value < 7200 ? `${Math.round(value / 60)} min` : `${(value / 3600).toFixed(1)} h`);
const nowSeconds = () => Date.now() / 1000;

function dryRunFooter(io: ProcedureIo, action: string): void {
    io.print(`Dry run: nothing changed. Run again with --yes to ${action}.`);
}

// ---------------------------------------------------------------------------------------------
// PgBouncer: the pools, their state, and idle clients

/** The PgBouncer databases (pools' aliases) clients can connect to, the console left out. */
async function poolDatabases(console: Client): Promise<Array<{ name: string; paused: boolean }>> {
    const rows = await consoleRows(console, "SHOW DATABASES");
    return rows.filter((row) => row.name !== CONSOLE_DATABASE).map((row) => ({ name: String(row.name), paused: Number(row.paused) === 1 }));
}

async function pooler(console: Client): Promise<{ paused: boolean; version: string }> {
    const state = await consoleRows(console, "SHOW STATE").catch(() => [] as Array<Record<string, unknown>>);
    const version = String((await consoleRows(console, "SHOW VERSION"))[0]?.version ?? "");
    return { paused: state.some((row) => row.key === "paused" && row.value === "yes"), version };
}

function checkPool(pool: string | undefined, databases: ReadonlyArray<{ name: string }>): void {
    if (pool !== undefined && !databases.some((database) => database.name === pool)) {
        throw new UsageError(`PgBouncer has no pool ${JSON.stringify(pool)}; its pools: ${databases.map((database) => database.name).join(", ")}`);
    }
}

/** Every client of `pool` (or of every pool), classified; the PostgreSQL backends behind paired ones read by `postgres`. */
async function classifiedClients(console: Client, postgres: Client, pool: string | undefined): Promise<ClassifiedClient[]> {
    const clients = parseConnections(await consoleRows(console, "SHOW CLIENTS")).filter(
        (client) => client.database !== CONSOLE_DATABASE && (pool === undefined || client.database === pool),
    );
    const servers = parseConnections(await consoleRows(console, "SHOW SERVERS"));
    const linked = new Set(clients.map((client) => client.link).filter((link) => link !== ""));
    const pids = servers.filter((server) => linked.has(server.ptr) && server.remotePid > 0).map((server) => server.remotePid);
    const backends = new Map<number, BackendState>();
    if (pids.length > 0) {
        for (const row of (await postgres.query(BACKEND_STATES_SQL, [pids])).rows) {
            backends.set(Number(row.pid), { state: String(row.state ?? ""), since: row.since === null ? undefined : Number(row.since) });
        }
    }
    return classifyClients(clients, servers, backends, nowSeconds());
}

function describeClients(classified: readonly ClassifiedClient[], minimumIdleSeconds: number, io: ProcedureIo): void {
    const rows = classified.map((entry) => [
        entry.client.id === undefined ? "-" : String(entry.client.id),
        `${entry.client.database}/${entry.client.user}`,
        entry.client.applicationName || "(none)",
        `${entry.client.addr}:${entry.client.port}`,
        entry.activity,
        seconds(entry.ageSeconds),
        closable(entry, minimumIdleSeconds) ? "close" : entry.activity === "active" || entry.activity === "waiting" ? `keep (${entry.activity})` : "keep (idle too briefly)",
    ]);
    for (const line of table(["client id", "pool", "application", "address", "state", "for", "action"], rows, plain)) {
        io.print(line);
    }
}

export interface KillIdleParams {
    pool?: string;
    minimumIdleSeconds: number;
}

/**
 * pgbouncer-kill-idle: closes the pool's idle clients (between transactions, or idle in a
 * transaction whose server runs no statement) one by one with KILL_CLIENT <id> (PgBouncer 1.24+),
 * so that clients running a statement and clients waiting for a server keep their connections,
 * and the pool is never paused. Not `KILL <db>` (section 6.3's snippet): that drops every client
 * and server connection of the database, running transactions included, and leaves the database
 * paused until RESUME (pitfall 22). Closing an idle-in-transaction client rolls its open
 * transaction back: that transaction was holding a server connection without using it.
 */
export async function pgbouncerKillIdle(outputs: StackOutputs, params: KillIdleParams, io: ProcedureIo): Promise<number> {
    const { targets } = outputs;
    const look = await withPostgres(targets.pgbouncerStats, "PgBouncer's console", (console) =>
        withPostgres(targets.postgresMonitoring, "PostgreSQL", async (postgres) => {
            checkPool(params.pool, await poolDatabases(console));
            return { classified: await classifiedClients(console, postgres, params.pool), version: (await pooler(console)).version };
        }),
    );
    const where = params.pool ? `pool ${params.pool}` : "every pool";
    const targeted = look.classified.filter((entry) => closable(entry, params.minimumIdleSeconds));
    io.print(`${look.version}, ${where}: ${look.classified.length} client(s), ${targeted.length} idle${params.minimumIdleSeconds > 0 ? ` for ${formatDuration(params.minimumIdleSeconds)} or longer` : ""}.`);
    if (look.classified.length > 0) {
        describeClients(look.classified, params.minimumIdleSeconds, io);
    }
    if (targeted.length === 0) {
        io.print("No idle client to close: nothing to do.");
        return 0;
    }
    if (!versionAtLeast(parseVersion(look.version), KILL_CLIENT_SINCE)) {
        throw new ProcedureFailed(`${look.version} has no KILL_CLIENT (it came with PgBouncer 1.24): idle clients cannot be closed one by one; nothing changed`);
    }
    if (!io.yes) {
        dryRunFooter(io, `close these ${targeted.length} client(s) with KILL_CLIENT`);
        return 0;
    }
    const wanted = new Map(targeted.map((entry) => [entry.client.id, entry]));
    const result = { closed: 0, gone: 0, busy: 0 };
    await withPostgres(targets.pgbouncerAdmin, "PgBouncer's admin console", (admin) =>
        withPostgres(targets.postgresMonitoring, "PostgreSQL", async (postgres) => {
            for (const [id, before] of wanted) {
                // Looked at again right before its KILL_CLIENT: a client that started a statement since is kept.
                const now = (await classifiedClients(admin, postgres, before.client.database)).find((entry) => entry.client.id === id);
                if (!now) {
                    result.gone++;
                    io.print(`client ${id}: already gone`);
                } else if (!closable(now, params.minimumIdleSeconds)) {
                    result.busy++;
                    io.print(`client ${id}: kept, it is ${now.activity} now`);
                } else {
                    try {
                        await admin.query(`KILL_CLIENT ${id}`);
                        result.closed++;
                        io.print(`client ${id} (${now.client.database}/${now.client.user}, ${now.client.applicationName || "no application name"}, ${now.activity} for ${seconds(now.ageSeconds)}): closed`);
                    } catch (error) {
                        if (!/client not found/.test((error as Error).message)) {
                            throw error;
                        }
                        result.gone++;
                        io.print(`client ${id}: already gone`);
                    }
                }
            }
            const paused = (await poolDatabases(admin)).filter((database) => database.paused && (params.pool === undefined || database.name === params.pool));
            io.print(
                `Closed ${result.closed} client(s)${result.gone ? `, ${result.gone} already gone` : ""}${result.busy ? `, kept ${result.busy} that became busy` : ""}. ` +
                    (paused.length === 0 ? `${params.pool ? `Pool ${params.pool} is` : "The pools are"} not paused.` : `Paused (by someone else): ${paused.map((database) => database.name).join(", ")}.`),
            );
        }),
    );
    return 0;
}

/** pgbouncer-pause / pgbouncer-resume: PAUSE or RESUME one pool's database, or the whole pooler. */
export async function pgbouncerPauseOrResume(outputs: StackOutputs, command: "PAUSE" | "RESUME", pool: string | undefined, io: ProcedureIo): Promise<number> {
    const { targets } = outputs;
    const look = await withPostgres(targets.pgbouncerStats, "PgBouncer's console", async (console) => {
        const databases = await poolDatabases(console);
        checkPool(pool, databases);
        const pools = (await consoleRows(console, "SHOW POOLS")).filter((row) => row.database !== CONSOLE_DATABASE && (pool === undefined || row.database === pool));
        return { databases, pooler: await pooler(console), pools };
    });
    const where = pool ? `pool ${pool}` : "the whole pooler";
    const paused = pool ? look.databases.find((database) => database.name === pool)?.paused === true : look.pooler.paused;
    const clients = look.pools.reduce((sum, row) => sum + Number(row.cl_active) + Number(row.cl_waiting), 0);
    const active = look.pools.reduce((sum, row) => sum + Number(row.sv_active), 0);
    io.print(`${look.pooler.version}, ${where}: ${paused ? "paused" : "not paused"}; ${clients} client(s), ${active} server connection(s) in a transaction.`);
    if (command === "PAUSE" && (paused || look.pooler.paused)) {
        io.print(`${look.pooler.paused ? "The whole pooler" : `Pool ${pool}`} is paused already: nothing to do.`);
        return 0;
    }
    if (command === "RESUME" && !paused) {
        io.print(
            pool && look.pooler.paused
                ? `Pool ${pool} is not paused on its own, but the whole pooler is: run pgbouncer-resume without a pool. Nothing changed.`
                : `${pool ? `Pool ${pool}` : "The pooler"} is not paused: nothing to do.`,
        );
        return pool && look.pooler.paused ? 1 : 0;
    }
    const statement = pool ? `${command} ${pool}` : command;
    if (!io.yes) {
        io.print(
            command === "PAUSE"
                ? `Would run ${statement}: PgBouncer lets the running transactions finish and closes its server connections, then holds new queries of ${where} until pgbouncer-resume.`
                : `Would run ${statement}: the held queries of ${where} go on.`,
        );
        dryRunFooter(io, `run ${statement}`);
        return 0;
    }
    await withPostgres(targets.pgbouncerAdmin, "PgBouncer's admin console", async (admin) => {
        if (command === "PAUSE") {
            io.print(`${statement}: waiting for running transactions to finish ...`);
        }
        await admin.query(statement);
        io.print(`${statement}: done; ${where} is ${command === "PAUSE" ? "paused until pgbouncer-resume" : "running"}.`);
    });
    return 0;
}

/** pgbouncer-reload: RELOAD, PgBouncer rereads pgbouncer.ini and userlist.txt (what the last `pulumi up` wrote). */
export async function pgbouncerReload(outputs: StackOutputs, io: ProcedureIo): Promise<number> {
    const version = await withPostgres(outputs.targets.pgbouncerStats, "PgBouncer's console", async (console) => (await pooler(console)).version);
    io.print(`${version}: RELOAD rereads pgbouncer.ini and userlist.txt from the config volume; clients keep their connections.`);
    if (!io.yes) {
        dryRunFooter(io, "run RELOAD");
        return 0;
    }
    await withPostgres(outputs.targets.pgbouncerAdmin, "PgBouncer's admin console", (admin) => admin.query("RELOAD"));
    io.print("RELOAD: done.");
    return 0;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: idle backends

export interface TerminateIdleParams {
    olderThanSeconds: number;
    includeSuperuser: boolean;
    includeMonitoring: boolean;
    includePgbouncer: boolean;
}

/** Why a backend is kept, or undefined when it is terminated. */
function keptBecause(backend: IdleBackend, params: TerminateIdleParams, outputs: StackOutputs, pgbouncerPids: ReadonlySet<number>): string | undefined {
    const role = outputs.summary.roles.find((candidate) => candidate.name === backend.role);
    if (!params.includeSuperuser && role?.access === "superuser") {
        return "keep (superuser)";
    }
    if (!params.includeMonitoring && role?.access === "monitoring") {
        return "keep (monitoring role)";
    }
    if (!params.includePgbouncer && pgbouncerPids.has(backend.pid)) {
        return "keep (PgBouncer's server connection)";
    }
    return undefined;
}

/** The backends behind PgBouncer's server connections (SHOW SERVERS' remote_pid). */
async function pgbouncerServerPids(outputs: StackOutputs, params: TerminateIdleParams): Promise<Set<number>> {
    if (params.includePgbouncer) {
        return new Set();
    }
    const rows = await withPostgres(outputs.targets.pgbouncerStats, "PgBouncer's console (to leave its server connections alone; --include-pgbouncer does without)", (console) =>
        consoleRows(console, "SHOW SERVERS"),
    );
    return new Set(parseConnections(rows).map((server) => server.remotePid).filter((pid) => pid > 0));
}

/**
 * postgres-terminate-idle: section 6.3's pg_terminate_backend of sessions idle for longer than
 * --older-than (30 minutes), except, unless asked, the superuser's, the monitoring role's and
 * PgBouncer's own server connections (PgBouncer replaces a lost one, but its clients' next
 * transaction would pay for the new login).
 */
export async function postgresTerminateIdle(outputs: StackOutputs, params: TerminateIdleParams, io: ProcedureIo): Promise<number> {
    const pgbouncerPids = await pgbouncerServerPids(outputs, params);
    const idle = await withPostgres(outputs.targets.postgresMonitoring, "PostgreSQL", async (postgres) => idleBackends((await postgres.query(IDLE_BACKENDS_SQL, [params.olderThanSeconds])).rows));
    const decided = idle.map((backend) => ({ backend, kept: keptBecause(backend, params, outputs, pgbouncerPids) }));
    const targeted = decided.filter((entry) => entry.kept === undefined).map((entry) => entry.backend);
    io.print(`PostgreSQL: ${idle.length} session(s) idle for longer than ${formatDuration(params.olderThanSeconds)}, ${targeted.length} to terminate.`);
    if (idle.length > 0) {
        const rows = decided.map(({ backend, kept }) => [String(backend.pid), backend.role, backend.database, backend.applicationName || "(none)", backend.clientAddr || "(socket)", backend.state, seconds(backend.idleSeconds), kept ?? "terminate"]);
        for (const line of table(["pid", "role", "database", "application", "client", "state", "idle for", "action"], rows, plain)) {
            io.print(line);
        }
    }
    if (targeted.length === 0) {
        io.print("No idle session to terminate: nothing to do.");
        return 0;
    }
    if (!io.yes) {
        dryRunFooter(io, `terminate these ${targeted.length} session(s) with pg_terminate_backend`);
        return 0;
    }
    // PgBouncer's server connections read again: one it opened since the look is left alone too.
    const latestPgbouncerPids = await pgbouncerServerPids(outputs, params);
    const pids = targeted.map((backend) => backend.pid).filter((pid) => !latestPgbouncerPids.has(pid));
    const terminated = await withPostgres(outputs.targets.postgresSuperuser, "PostgreSQL as the superuser", async (superuser) =>
        (await superuser.query(TERMINATE_IDLE_SQL, [params.olderThanSeconds, pids])).rows.filter((row) => row.terminated === true).map((row) => Number(row.pid)),
    );
    for (const backend of targeted) {
        io.print(`pid ${backend.pid} (${backend.role}, ${backend.database}, ${backend.applicationName || "no application name"}): ${terminated.includes(backend.pid) ? "terminated" : "left alone: no longer idle, or gone"}`);
    }
    io.print(`Terminated ${terminated.length} session(s).`);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Redis: normal clients

async function normalClients(redis: Redis): Promise<RedisClient[]> {
    return parseClientList(String(await redis.call("CLIENT", "LIST", "TYPE", "normal")));
}

/**
 * redis-kill-clients: CLIENT KILL of the services' normal clients (section 6.3's CLIENT KILL TYPE
 * normal), one by one by id, idle for at least --idle-longer-than; never the program's own users
 * (the monitor, whose exporter or status keeps watching; the healthcheck; admin sessions).
 */
export async function redisKillClients(outputs: StackOutputs, minimumIdleSeconds: number, io: ProcedureIo): Promise<number> {
    const clients = await withRedis(outputs.targets.redisMonitor, "Redis", normalClients);
    // The monitor's own connection is protected by its user.
    const targeted = killableRedisClients(clients, -1, minimumIdleSeconds);
    const ids = new Set(targeted.map((client) => client.id));
    io.print(`Redis: ${clients.length} normal client(s), ${targeted.length} to close${minimumIdleSeconds > 0 ? ` (idle for ${formatDuration(minimumIdleSeconds)} or longer)` : ""}.`);
    const rows = clients.map((client) => [
        String(client.id),
        client.user,
        client.addr,
        String(client.db),
        seconds(client.ageSeconds),
        seconds(client.idleSeconds),
        client.cmd,
        ids.has(client.id) ? "kill" : (REDIS_SYSTEM_USERS as readonly string[]).includes(client.user) ? `keep (${client.user})` : "keep (idle too briefly)",
    ]);
    if (rows.length > 0) {
        for (const line of table(["id", "user", "address", "db", "age", "idle", "last command", "action"], rows, plain)) {
            io.print(line);
        }
    }
    if (targeted.length === 0) {
        io.print("No client to close: nothing to do.");
        return 0;
    }
    if (!io.yes) {
        dryRunFooter(io, `close these ${targeted.length} client(s) with CLIENT KILL`);
        return 0;
    }
    let killed = 0;
    await withRedis(outputs.targets.redisAdmin, "Redis as admin", async (admin) => {
        const ownId = Number(await admin.call("CLIENT", "ID"));
        // Looked at again: a client that has been busy since the look is kept.
        const still = new Set(killableRedisClients(await normalClients(admin), ownId, minimumIdleSeconds).map((client) => client.id));
        for (const client of targeted) {
            const count = still.has(client.id) ? Number(await admin.call("CLIENT", "KILL", "ID", String(client.id))) : 0;
            killed += count;
            io.print(`client ${client.id} (${client.user}, ${client.addr}): ${count > 0 ? "closed" : "left alone: gone, or busy since the look"}`);
        }
    });
    io.print(`Closed ${killed} client(s).`);
    return 0;
}
