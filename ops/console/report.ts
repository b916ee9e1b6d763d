// `npm run status`'s report: what was sampled from each server, judged against section 5's levels
// (config/verdicts.ts, from the stack's monitoring.thresholds and redis.*Clients keys). Pure: the
// samples come from collect.ts, the text from render.ts; --json prints a Report as it is.
import { Levels, percentOf, perMinute, SectionFiveLevels, Verdict, verdictAbove, verdictOfShare, worstVerdict } from "../../config/verdicts";
import type { Health, ServiceBackupView } from "../backups";
import { PoolSummary, StackSummary } from "./outputs";
import { CONSOLE_DATABASE, PoolerError, PoolRow, StatsRow, waitPerTransactionMs } from "./pgbouncer";
import { ApplicationRow, CountRow, LongQuery, ServerFigures } from "./postgres";
import { RedisFigures } from "./redis";

/** A figure against what it is measured by. */
export interface Share {
    used: number;
    /** The limit it is measured against; undefined when there is none. */
    limit?: number;
    percent?: number;
    verdict: Verdict;
}

function share(used: number, limit: number | undefined, levels: Levels): Share {
    if (limit === undefined || limit <= 0) {
        return { used, verdict: "ok" };
    }
    return { used, limit, percent: percentOf(used, limit), verdict: verdictOfShare(used, limit, levels) };
}

/** Events counted over a window (since the last look, or a minute / the sample when there was none). */
export interface Events {
    count: number;
    windowSeconds: number;
    perMinute: number;
    verdict: Verdict;
}

/**
 * Events per minute over the window, the window taken as at least a minute: a single event seen
 * in a one-second sample is one a minute, not sixty.
 */
export function events(count: number, windowSeconds: number, levels: Levels): Events {
    const rate = perMinute(count, Math.max(windowSeconds, 60));
    return { count, windowSeconds, perMinute: rate, verdict: verdictAbove(rate, levels) };
}

export interface PoolStatus {
    /** The PgBouncer database (alias) and the user: one pool. */
    database: string;
    user: string;
    service?: string;
    /** cl_active + cl_waiting against the service's client pool size (section 2.2's max connections). */
    clients: Share & { active: number; waiting: number };
    /** sv_active against pool_size. */
    servers: Share & { active: number; idle: number };
    /** Wait per transaction over the sample (SHOW STATS deltas), and the oldest client waiting now. */
    wait: { perTransactionMs?: number; oldestWaitingMs: number; verdict: Verdict };
    /** Pool errors from PgBouncer's log; undefined when the log could not be read. */
    errors?: Events;
    verdict: Verdict;
}

export interface Unreachable {
    reachable: false;
    endpoint: string;
    error: string;
    verdict: "critical";
}

export interface PgbouncerStatus {
    reachable: true;
    endpoint: string;
    version: string;
    /** Every client (the console's too) against max_client_conn. */
    clients: Share;
    pools: PoolStatus[];
    /** Errors of no pool of the stack (logins that failed before naming one, the console's). */
    otherErrors?: Events;
    /** Why pool errors are not shown, when they are not. */
    errorsUnavailable?: string;
    verdict: Verdict;
}

export interface PostgresStatus {
    reachable: true;
    endpoint: string;
    version: string;
    /** Client backends against max_connections. */
    connections: Share;
    databases: Array<{ name: string } & Share>;
    roles: Array<{ name: string; superuser: boolean } & Share>;
    applications: ApplicationRow[];
    longQueries: { thresholdSeconds: number; queries: LongQuery[]; verdict: Verdict };
    verdict: Verdict;
}

export interface RedisStatus {
    reachable: true;
    endpoint: string;
    version: string;
    /** connected_clients against section 5.3's absolute levels (redis.warningClients, criticalClients). */
    connected: { clients: number; maxclients?: number; levels: Levels; verdict: Verdict };
    blocked: { clients: number; levels: Levels; verdict: Verdict };
    rejected: Events;
    memory: { used: number; usedHuman: string; maxmemory: number; maxmemoryHuman: string };
    verdict: Verdict;
}

export interface QdrantStatus {
    reachable: true;
    endpoint: string;
    version: string;
    collections: string[];
    verdict: Verdict;
}

/** One backed-up service (ops/backups.ts' view) with its verdict. */
export interface BackupServiceStatus extends ServiceBackupView {
    verdict: Verdict;
}

export interface BackupsStatus {
    reachable: true;
    /** The store (a volume name or a host directory) the status was read from. */
    endpoint: string;
    intervalHours: number;
    services: BackupServiceStatus[];
    verdict: Verdict;
}

export interface Report {
    stack: string;
    /** ISO time of the look. */
    at: string;
    verdict: Verdict;
    pgbouncer: PgbouncerStatus | Unreachable;
    postgres: PostgresStatus | Unreachable;
    redis: RedisStatus | Unreachable;
    /** undefined: the stack runs no Qdrant. */
    qdrant?: QdrantStatus | Unreachable;
    /** undefined: the stack has backups off (or predates them). Unreachable: the store could not be read. */
    backups?: BackupsStatus | Unreachable;
}

export interface PgbouncerSample {
    endpoint: string;
    version: string;
    pools: PoolRow[];
    /** SHOW STATS at the start and the end of the sample. */
    statsBefore: StatsRow[];
    statsAfter: StatsRow[];
    /** Pool errors since `since` (seconds since the epoch), or why they could not be read. */
    errors: { since: number; now: number; list: PoolerError[] } | { unavailable: string };
}

function poolStatus(pool: PoolRow, plan: PoolSummary | undefined, sample: PgbouncerSample, levels: SectionFiveLevels): PoolStatus {
    const clients = { ...share(pool.clientsActive + pool.clientsWaiting, plan?.maxClientConnections, levels.pgbouncerClientsPercent), active: pool.clientsActive, waiting: pool.clientsWaiting };
    const servers = { ...share(pool.serversActive, plan?.poolSize, levels.pgbouncerServersPercent), active: pool.serversActive, idle: pool.serversIdle + pool.serversUsed };
    const before = sample.statsBefore.find((row) => row.database === pool.database);
    const after = sample.statsAfter.find((row) => row.database === pool.database);
    const perTransactionMs = after ? waitPerTransactionMs(before, after) : undefined;
    const oldestWaitingMs = pool.clientsWaiting > 0 ? pool.maxWaitMs : 0;
    const wait = { perTransactionMs, oldestWaitingMs, verdict: verdictAbove(Math.max(perTransactionMs ?? 0, oldestWaitingMs), levels.pgbouncerWaitMs) };
    let errors: Events | undefined;
    if ("list" in sample.errors) {
        const count = sample.errors.list.filter((error) => error.database === pool.database && error.user === pool.user).length;
        errors = events(count, sample.errors.now - sample.errors.since, levels.pgbouncerErrorsPerMinute);
    }
    return {
        database: pool.database,
        user: pool.user,
        service: plan?.service,
        clients,
        servers,
        wait,
        errors,
        verdict: worstVerdict([clients.verdict, servers.verdict, wait.verdict, errors?.verdict]),
    };
}

export function pgbouncerStatus(sample: PgbouncerSample, summary: StackSummary, levels: SectionFiveLevels): PgbouncerStatus {
    const planned = (pool: PoolRow) => summary.pgbouncer.pools.find((candidate) => candidate.database === pool.database && candidate.role === pool.user);
    const pools = sample.pools.filter((pool) => pool.database !== CONSOLE_DATABASE).map((pool) => poolStatus(pool, planned(pool), sample, levels));
    const allClients = sample.pools.reduce((sum, pool) => sum + pool.clientsActive + pool.clientsWaiting, 0);
    const clients = share(allClients, summary.pgbouncer.maxClientConn, levels.pgbouncerClientsPercent);
    let otherErrors: Events | undefined;
    if ("list" in sample.errors) {
        const count = sample.errors.list.filter((error) => !pools.some((pool) => pool.database === error.database && pool.user === error.user)).length;
        otherErrors = events(count, sample.errors.now - sample.errors.since, levels.pgbouncerErrorsPerMinute);
    }
    return {
        reachable: true,
        endpoint: sample.endpoint,
        version: sample.version,
        clients,
        pools,
        otherErrors,
        errorsUnavailable: "unavailable" in sample.errors ? sample.errors.unavailable : undefined,
        verdict: worstVerdict([clients.verdict, otherErrors?.verdict, ...pools.map((pool) => pool.verdict)]),
    };
}

export interface PostgresSample {
    endpoint: string;
    server: ServerFigures;
    databases: CountRow[];
    roles: CountRow[];
    applications: ApplicationRow[];
    longQueries: LongQuery[];
}

export function postgresStatus(sample: PostgresSample, summary: StackSummary, levels: SectionFiveLevels): PostgresStatus {
    const level = levels.postgresConnectionsPercent;
    const total = sample.applications.reduce((sum, row) => sum + row.count, 0);
    const connections = share(total, sample.server.maxConnections, level);
    // A database without a CONNECTION LIMIT is measured against max_connections, as section 5.2's query does.
    const databases = sample.databases.map((row) => ({ name: row.name, ...share(row.connections, row.connectionLimit >= 0 ? row.connectionLimit : sample.server.maxConnections, level) }));
    // PostgreSQL does not hold superusers to a CONNECTION LIMIT (pitfall 4): theirs is shown, not judged.
    const roles = sample.roles.map((row) => ({
        name: row.name,
        superuser: row.superuser === true,
        ...share(row.connections, row.superuser ? undefined : row.connectionLimit >= 0 ? row.connectionLimit : undefined, level),
    }));
    const longQueries = {
        thresholdSeconds: summary.thresholds.longQuerySeconds,
        queries: sample.longQueries,
        verdict: (sample.longQueries.length > 0 ? "warning" : "ok") as Verdict,
    };
    return {
        reachable: true,
        endpoint: sample.endpoint,
        version: sample.server.version,
        connections,
        databases,
        roles,
        applications: sample.applications,
        longQueries,
        verdict: worstVerdict([connections.verdict, longQueries.verdict, ...databases.map((row) => row.verdict), ...roles.map((row) => row.verdict)]),
    };
}

export interface RedisSample {
    endpoint: string;
    figures: RedisFigures;
    /** The rejected_connections counter at the last look (of the same server run), and when. */
    previous: { rejectedConnections: number; at: number };
    now: number;
}

export function redisStatus(sample: RedisSample, levels: SectionFiveLevels): RedisStatus {
    const { figures } = sample;
    const connected = { clients: figures.connectedClients, maxclients: figures.maxclients, levels: levels.redisConnectedClients, verdict: verdictAbove(figures.connectedClients, levels.redisConnectedClients) };
    const blocked = { clients: figures.blockedClients, levels: levels.redisBlockedClients, verdict: verdictAbove(figures.blockedClients, levels.redisBlockedClients) };
    const rejected = events(Math.max(0, figures.rejectedConnections - sample.previous.rejectedConnections), sample.now - sample.previous.at, levels.redisRejectedPerMinute);
    return {
        reachable: true,
        endpoint: sample.endpoint,
        version: figures.version,
        connected,
        blocked,
        rejected,
        memory: { used: figures.usedMemory, usedHuman: figures.usedMemoryHuman, maxmemory: figures.maxmemory, maxmemoryHuman: figures.maxmemoryHuman },
        verdict: worstVerdict([connected.verdict, blocked.verdict, rejected.verdict]),
    };
}

export function qdrantStatus(endpoint: string, version: string, collections: string[]): QdrantStatus {
    return { reachable: true, endpoint, version, collections, verdict: "ok" };
}

/**
 * A failed last run is critical, no success for two intervals a warning; a service with no run yet
 * (the sidecar's first run starts about a minute after it does) is ok, shown as "no backup yet".
 */
const BACKUP_VERDICTS: Record<Health, Verdict> = { failed: "critical", stale: "warning", none: "ok", ok: "ok" };

export function backupsStatus(store: string, intervalHours: number, views: ServiceBackupView[]): BackupsStatus {
    const services = views.map((view) => ({ ...view, verdict: BACKUP_VERDICTS[view.health] }));
    return { reachable: true, endpoint: store, intervalHours, services, verdict: worstVerdict(services.map((service) => service.verdict)) };
}

export function unreachable(endpoint: string, error: string): Unreachable {
    return { reachable: false, endpoint, error, verdict: "critical" };
}

export function overallVerdict(report: Omit<Report, "verdict">): Verdict {
    return worstVerdict([report.pgbouncer.verdict, report.postgres.verdict, report.redis.verdict, report.qdrant?.verdict, report.backups?.verdict]);
}

/** No server of the stack answered: the stack, as far as status can tell, is not there. */
export function nothingReached(report: Omit<Report, "verdict">): boolean {
    return [report.pgbouncer, report.postgres, report.redis, report.qdrant].every((section) => section === undefined || !section.reachable);
}

/** Exit codes for cron and CI: 0 ok, 1 warning, 2 critical (3, could not reach the stack, comes from status.ts). */
export function exitCodeOf(verdict: Verdict): number {
    return { ok: 0, warning: 1, critical: 2 }[verdict];
}
