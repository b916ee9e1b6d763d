// Section 5.2's queries and section 6.3's, as the operator commands run them. The monitoring role
// (pg_monitor) reads every session; only the superuser terminates. Pure: SQL text and row types.

/** Server settings and the clock the other figures are read against. */
export const SERVER_SQL = `
SELECT current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS superuser_reserved,
       current_setting('server_version') AS version`;

/** Client connections per database against its CONNECTION LIMIT (-1: none). */
export const DATABASES_SQL = `
SELECT d.datname AS name, d.datconnlimit AS connection_limit,
       (SELECT count(*) FROM pg_stat_activity a WHERE a.datid = d.oid AND a.backend_type = 'client backend')::int AS connections
FROM pg_database d
WHERE NOT d.datistemplate
ORDER BY connections DESC, name`;

/** Client connections per login role against its CONNECTION LIMIT (-1: none; superusers are not held to it). */
export const ROLES_SQL = `
SELECT r.rolname AS name, r.rolconnlimit AS connection_limit, r.rolsuper AS superuser,
       (SELECT count(*) FROM pg_stat_activity a WHERE a.usesysid = r.oid AND a.backend_type = 'client backend')::int AS connections
FROM pg_roles r
WHERE r.rolcanlogin
ORDER BY connections DESC, name`;

/** Section 5.2: current connections by application and state. */
export const APPLICATIONS_SQL = `
SELECT application_name, coalesce(state, '') AS state, count(*)::int AS count
FROM pg_stat_activity
WHERE backend_type = 'client backend'
GROUP BY application_name, state
ORDER BY count DESC, application_name, state`;

/** Section 5.2: long-running queries (state other than idle, started longer ago than $1 seconds). */
export const LONG_QUERIES_SQL = `
SELECT pid, usename AS role, application_name, state,
       extract(epoch FROM now() - query_start)::float8 AS seconds, left(query, 200) AS query
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND state <> 'idle' AND pid <> pg_backend_pid()
  AND now() - query_start > make_interval(secs => $1)
ORDER BY seconds DESC`;

/** The state of the backends behind PgBouncer's server connections ($1: their pids). */
export const BACKEND_STATES_SQL = `
SELECT pid, state, extract(epoch FROM state_change)::float8 AS since
FROM pg_stat_activity
WHERE pid = ANY($1::int[])`;

/**
 * Section 6.3's condition: idle since longer than $1 seconds. The spec compares query_start
 * (the start of the last query, which an idle session has finished); a session that never ran a
 * query has none, and counts from its connection instead.
 */
const IDLE_LONGER_THAN = `backend_type = 'client backend' AND state = 'idle'
  AND coalesce(query_start, backend_start) < now() - make_interval(secs => $1)`;

/** Idle client backends older than $1 seconds, with who they are (the monitoring role looks). */
export const IDLE_BACKENDS_SQL = `
SELECT pid, usename AS role, datname AS database, application_name, state, host(client_addr) AS client_addr,
       extract(epoch FROM now() - coalesce(query_start, backend_start))::float8 AS idle_seconds
FROM pg_stat_activity
WHERE ${IDLE_LONGER_THAN} AND pid <> pg_backend_pid()
ORDER BY idle_seconds DESC`;

/**
 * Terminates the backends among $2 that still meet the condition when the superuser acts, so a
 * session that woke up between the look and the act is left alone.
 */
export const TERMINATE_IDLE_SQL = `
SELECT pid, usename AS role, pg_terminate_backend(pid) AS terminated
FROM pg_stat_activity
WHERE ${IDLE_LONGER_THAN} AND pid = ANY($2::int[]) AND pid <> pg_backend_pid()`;

export interface ServerFigures {
    maxConnections: number;
    superuserReserved: number;
    version: string;
}

export interface CountRow {
    name: string;
    connections: number;
    /** CONNECTION LIMIT; -1 for none. */
    connectionLimit: number;
    superuser?: boolean;
}

export interface ApplicationRow {
    applicationName: string;
    state: string;
    count: number;
}

export interface LongQuery {
    pid: number;
    role: string;
    applicationName: string;
    state: string;
    seconds: number;
    query: string;
}

export interface IdleBackend {
    pid: number;
    role: string;
    database: string;
    applicationName: string;
    state: string;
    clientAddr: string;
    idleSeconds: number;
}

type Row = Record<string, unknown>;

export const serverFigures = (row: Row): ServerFigures => ({
    maxConnections: Number(row.max_connections),
    superuserReserved: Number(row.superuser_reserved),
    version: String(row.version),
});

export const countRows = (rows: readonly Row[]): CountRow[] =>
    rows.map((row) => ({
        name: String(row.name),
        connections: Number(row.connections),
        connectionLimit: Number(row.connection_limit),
        superuser: row.superuser === undefined ? undefined : Boolean(row.superuser),
    }));

export const applicationRows = (rows: readonly Row[]): ApplicationRow[] =>
    rows.map((row) => ({ applicationName: String(row.application_name ?? ""), state: String(row.state ?? ""), count: Number(row.count) }));

export const longQueries = (rows: readonly Row[]): LongQuery[] =>
    rows.map((row) => ({
        pid: Number(row.pid),
        role: String(row.role ?? ""),
        applicationName: String(row.application_name ?? ""),
        state: String(row.state ?? ""),
        seconds: Number(row.seconds),
        query: String(row.query ?? ""),
    }));

export const idleBackends = (rows: readonly Row[]): IdleBackend[] =>
    rows.map((row) => ({
        pid: Number(row.pid),
        role: String(row.role ?? ""),
        database: String(row.database ?? ""),
        applicationName: String(row.application_name ?? ""),
        state: String(row.state ?? ""),
        clientAddr: String(row.client_addr ?? ""),
        idleSeconds: Number(row.idle_seconds),
    }));
