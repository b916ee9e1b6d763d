// PgBouncer's console, read: SHOW POOLS, STATS, CLIENTS and SERVERS rows as typed values, the
// wait per transaction between two SHOW STATS samples, and which clients are idle. Pure.
//
// Columns differ between versions (1.18's SHOW CLIENTS has no `id`, 1.21 added the cancel
// counters, 1.24 renamed SHOW DATABASES' reserve_pool); only columns every supported version
// has are relied on, others are read when present.

/** The console's own pseudo-database: not a pool of the stack. */
export const CONSOLE_DATABASE = "pgbouncer";

type Row = Record<string, unknown>;

const int = (value: unknown): number => {
    const number = Number(value ?? 0);
    return Number.isFinite(number) ? number : 0;
};
const text = (value: unknown): string => (value === null || value === undefined ? "" : String(value));

export interface PoolRow {
    database: string;
    user: string;
    clientsActive: number;
    clientsWaiting: number;
    serversActive: number;
    serversIdle: number;
    serversUsed: number;
    /** How long the oldest waiting client has waited, in milliseconds. */
    maxWaitMs: number;
}

export function parsePools(rows: readonly Row[]): PoolRow[] {
    return rows.map((row) => ({
        database: text(row.database),
        user: text(row.user),
        clientsActive: int(row.cl_active),
        clientsWaiting: int(row.cl_waiting),
        serversActive: int(row.sv_active),
        serversIdle: int(row.sv_idle),
        serversUsed: int(row.sv_used),
        maxWaitMs: int(row.maxwait) * 1000 + int(row.maxwait_us) / 1000,
    }));
}

/** The counters of one SHOW STATS row that mean the same on 1.18 and 1.24+. */
export interface StatsRow {
    database: string;
    /** Transactions pooled since PgBouncer started. */
    xactCount: number;
    /** Microseconds clients spent waiting for a server, since PgBouncer started. */
    waitMicros: number;
}

export function parseStats(rows: readonly Row[]): StatsRow[] {
    return rows.map((row) => ({ database: text(row.database), xactCount: int(row.total_xact_count), waitMicros: int(row.total_wait_time) }));
}

/**
 * Milliseconds of wait per transaction between two SHOW STATS samples of one database, or
 * undefined when no transaction completed in between. `avg_wait_time` cannot be used: it is wait
 * per transaction on 1.18 but wait per server assignment from 1.23 on (and both are averages over
 * PgBouncer's 60-second stats period, not over the sample). total_wait_time and total_xact_count
 * are plain counters on every version. A counter that went down means PgBouncer restarted: the
 * later sample then counts from zero.
 */
export function waitPerTransactionMs(before: StatsRow | undefined, after: StatsRow): number | undefined {
    const restarted = !before || after.xactCount < before.xactCount || after.waitMicros < before.waitMicros;
    const transactions = restarted ? after.xactCount : after.xactCount - before.xactCount;
    const waited = restarted ? after.waitMicros : after.waitMicros - before.waitMicros;
    return transactions > 0 ? waited / transactions / 1000 : undefined;
}

/** A client or server connection from SHOW CLIENTS / SHOW SERVERS. */
export interface ConnectionRow {
    /** KILL_CLIENT's argument (1.24+); undefined on versions without it. */
    id?: number;
    user: string;
    database: string;
    state: string;
    addr: string;
    port: number;
    /** Seconds since the epoch (PgBouncer prints whole seconds). */
    connectTime?: number;
    requestTime?: number;
    ptr: string;
    /** The paired connection's ptr; empty when not paired. */
    link: string;
    /** For a server: its PostgreSQL backend's pid. */
    remotePid: number;
    applicationName: string;
}

/** PgBouncer's timestamps: `2026-12-03 18:47:15 UTC` (the server's log_timezone-free format). */
export function parseConsoleTime(value: unknown): number | undefined {
    const match = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?: (.+))?$/.exec(text(value).trim());
    if (!match) {
        return undefined;
    }
    const [, year, month, day, hour, minute, second, zone] = match;
    if (zone === undefined || zone === "UTC" || zone === "GMT" || zone === "+00" || zone === "Z") {
        return Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second)) / 1000;
    }
    const parsed = Date.parse(`${year}-${month}-${day}T${hour}:${minute}:${second} ${zone}`);
    return Number.isNaN(parsed) ? undefined : parsed / 1000;
}

export function parseConnections(rows: readonly Row[]): ConnectionRow[] {
    return rows.map((row) => ({
        id: row.id === undefined || row.id === null ? undefined : int(row.id),
        user: text(row.user),
        database: text(row.database),
        state: text(row.state),
        addr: text(row.addr),
        port: int(row.port),
        connectTime: parseConsoleTime(row.connect_time),
        requestTime: parseConsoleTime(row.request_time),
        ptr: text(row.ptr),
        link: text(row.link),
        remotePid: int(row.remote_pid),
        applicationName: text(row.application_name),
    }));
}

/** `PgBouncer 1.24.1` -> [1, 24, 1]. */
export function parseVersion(versionText: string): [number, number, number] | undefined {
    const match = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(versionText);
    return match ? [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)] : undefined;
}

export function versionAtLeast(version: [number, number, number] | undefined, wanted: [number, number, number]): boolean {
    if (!version) {
        return false;
    }
    for (let i = 0; i < 3; i++) {
        if (version[i] !== wanted[i]) {
            return version[i] > wanted[i];
        }
    }
    return true;
}

/** KILL_CLIENT <id> came with PgBouncer 1.24.0. */
export const KILL_CLIENT_SINCE: [number, number, number] = [1, 24, 0];

/** What a client of a pool is doing, as far as closing it goes. */
export type ClientActivity =
    /** Connected, between transactions: holds no server connection. */
    | "idle"
    /** In a transaction whose server backend runs no statement (PostgreSQL's `idle in transaction`). */
    | "idle in transaction"
    /** In a transaction with a statement running (or a backend PgBouncer could not show). */
    | "active"
    /** Waiting for a server connection: its query is queued. */
    | "waiting";

/** A backend as pg_stat_activity shows it: its state and since when (seconds since the epoch). */
export interface BackendState {
    state: string;
    since?: number;
}

export interface ClassifiedClient {
    client: ConnectionRow;
    activity: ClientActivity;
    /** Seconds in that activity (idle: since its last request; idle in transaction: since the backend went idle). */
    ageSeconds?: number;
}

/**
 * Each client's activity: waiting clients by their state; a client paired with a server by its
 * backend's state in pg_stat_activity (found through SHOW SERVERS' remote_pid); any other client
 * is idle. A paired client whose backend cannot be found counts as active: when in doubt, keep.
 */
export function classifyClients(
    clients: readonly ConnectionRow[],
    servers: readonly ConnectionRow[],
    backends: ReadonlyMap<number, BackendState>,
    now: number,
): ClassifiedClient[] {
    const serverByPtr = new Map(servers.map((server) => [server.ptr, server]));
    return clients.map((client) => {
        if (client.state.startsWith("waiting")) {
            return { client, activity: "waiting" };
        }
        if (client.link === "") {
            const since = client.requestTime ?? client.connectTime;
            return { client, activity: "idle", ageSeconds: since === undefined ? undefined : Math.max(0, now - since) };
        }
        const server = serverByPtr.get(client.link);
        const backend = server ? backends.get(server.remotePid) : undefined;
        if (backend && backend.state.startsWith("idle in transaction")) {
            return { client, activity: "idle in transaction", ageSeconds: backend.since === undefined ? undefined : Math.max(0, now - backend.since) };
        }
        return { client, activity: "active" };
    });
}

/** Clients kill-idle closes: idle or idle in transaction, for at least `minimumIdleSeconds`. */
export function closable(classified: ClassifiedClient, minimumIdleSeconds: number): boolean {
    if (classified.activity !== "idle" && classified.activity !== "idle in transaction") {
        return false;
    }
    return minimumIdleSeconds <= 0 || (classified.ageSeconds ?? 0) >= minimumIdleSeconds;
}

/** PgBouncer's log line for an error it sent a client (log_pooler_errors, on by default). */
const POOLER_ERROR = /\bC-0x[0-9a-f]+: (\S*?)\/(\S*?)@\S+ pooler error: (.*)$/;

/** Disconnects an operator asked for (KILL_CLIENT, KILL): not errors of the pool. */
const OPERATOR_DISCONNECTS = ["admin forced disconnect"];

export interface PoolerError {
    /** Seconds since the epoch (from the log line's timestamp). */
    at: number;
    database: string;
    user: string;
    message: string;
}

/**
 * Pool errors from PgBouncer's log as `docker logs --timestamps` prints it: one
 * `<RFC 3339 time> <PgBouncer's line>` per line. Operators' own disconnects are left out.
 */
export function parsePoolerErrors(log: string): PoolerError[] {
    const errors: PoolerError[] = [];
    for (const line of log.split("\n")) {
        const match = POOLER_ERROR.exec(line);
        if (!match) {
            continue;
        }
        const at = Date.parse(line.slice(0, line.indexOf(" ")));
        const message = match[3].trim();
        if (Number.isNaN(at) || OPERATOR_DISCONNECTS.includes(message)) {
            continue;
        }
        errors.push({ at: at / 1000, database: match[1], user: match[2], message });
    }
    return errors;
}
