// The connection budget: what the plan can open at peak against every limit that can refuse
// a connection, from PgBouncer's pools to PostgreSQL's max_connections and Redis' maxclients.
// Errors refuse the deployment; warnings mark section 5.1's 80 % level.
import { StackPlan, superuserPeak } from "./plan";
import { Problem } from "./problems";

/** Section 5.1: "> 80% of max" is the warning level. */
export const WARNING_RATIO = 0.8;
/** Sockets PgBouncer holds besides client and server connections (listeners, DNS, logs). */
export const PGBOUNCER_SPARE_DESCRIPTORS = 32;

export interface PoolBudget {
    alias: string;
    service: string;
    role: string;
    database: string;
    poolSize: number;
    /** Server connections kept open while the pool is idle (min_pool_size). */
    warm: number;
    /** Server connections with every client busy (pool_size). */
    steady: number;
    /** Steady plus reserve_pool_size, capped by max_db_connections. */
    peak: number;
    maxClientConnections: number;
    /** PgBouncer's max_db_connections for this entry. */
    entryLimit: number;
}

export interface DatabaseBudget {
    database: string;
    aliases: string[];
    peak: number;
}

export interface RoleBudget {
    role: string;
    access: string;
    /** Every pool of the role at peak: what the plan asks for. */
    pooledPeak: number;
    /** max_user_connections PgBouncer applies to this role; undefined when it is not pooled. */
    pgbouncerCap?: number;
    direct: number;
    /** Direct connections of the monitoring exporters (monitoring on, the monitoring role only). */
    exporters: number;
    /** Superuser connections the program opens itself (provider, healthcheck); 0 for other roles. */
    program: number;
    /** Pools at peak plus direct connections and the exporters', plus the program's own for the superuser. */
    peak: number;
    /** What can reach PostgreSQL: pools capped by PgBouncer's max_user_connections, plus direct. */
    serverPeak: number;
    connectionLimit: number;
    /** False for superusers: PostgreSQL does not apply CONNECTION LIMIT to them. */
    limitBinds: boolean;
}

export interface PostgresTotals {
    /**
     * WAL sender connections: the backup sidecar's pg_basebackup (files and WAL). PostgreSQL 12+
     * gives them slots of their own (max_wal_senders), outside max_connections.
     */
    replicationPeak: number;
    maxWalSenders: number;
    regularPeak: number;
    /** Every connection the superuser can open: the program's (provider, healthcheck) and its direct ones. */
    superuserPeak: number;
    maxConnections: number;
    superuserReservedConnections: number;
    availableToRegularRoles: number;
    roleLimitSum: number;
}

export interface ClientBudget {
    services: Array<{ service: string; maxClientConnections: number }>;
    consoleClients: number;
    /** Admin console sessions of the monitoring exporters, within consoleClients. */
    exporterConsoleSessions: number;
    total: number;
    maxClientConn: number;
    serverConnections: number;
    fileDescriptorsNeeded: number;
    fileDescriptorLimit: number;
}

export interface RedisBudget {
    clients: Array<{ name: string; user: string; database: number; maxConnections: number; purpose: string }>;
    /** The program's own users (admin, monitor, healthcheck, and backup when backups are on): one connection each. */
    systemUsers: string[];
    systemConnections: number;
    /** redis_exporter's connection (monitoring on). */
    exporterConnections: number;
    total: number;
    maxclients: number;
    warningClients: number;
    criticalClients: number;
}

export interface QdrantBudget {
    enabled: boolean;
    operations: Array<{ name: string; concurrency: number; timeoutSeconds: number }>;
    totalConcurrency: number;
    httpMaxSockets: number;
}

export interface ConnectionBudget {
    pools: PoolBudget[];
    databases: DatabaseBudget[];
    roles: RoleBudget[];
    postgres: PostgresTotals;
    clients: ClientBudget;
    redis: RedisBudget;
    qdrant: QdrantBudget;
}

export interface BudgetResult {
    budget: ConnectionBudget;
    problems: Problem[];
}

const percent = (used: number, limit: number) => `${Math.round((100 * used) / limit)} %`;

function poolBudgets(plan: StackPlan): PoolBudget[] {
    const { minPoolSize, reservePoolSize, maxDbConnections } = plan.pgbouncer;
    return plan.pools.map((pool) => ({
        alias: pool.alias,
        service: pool.service,
        role: pool.role,
        database: pool.database,
        poolSize: pool.poolSize,
        warm: Math.min(minPoolSize, pool.poolSize),
        steady: pool.poolSize,
        peak: Math.min(pool.poolSize + reservePoolSize, maxDbConnections),
        maxClientConnections: pool.maxClientConnections,
        entryLimit: maxDbConnections,
    }));
}

function databaseBudgets(pools: readonly PoolBudget[]): DatabaseBudget[] {
    const byDatabase = new Map<string, DatabaseBudget>();
    for (const pool of pools) {
        const entry = byDatabase.get(pool.database) ?? { database: pool.database, aliases: [], peak: 0 };
        entry.aliases.push(pool.alias);
        entry.peak += pool.peak;
        byDatabase.set(pool.database, entry);
    }
    return [...byDatabase.values()].sort((a, b) => a.database.localeCompare(b.database));
}

function roleBudgets(plan: StackPlan, pools: readonly PoolBudget[]): RoleBudget[] {
    return plan.roles.map((role) => {
        const cap = plan.pgbouncer.users.find((user) => user.role === role.name)?.maxUserConnections;
        const pooledPeak = pools.filter((pool) => pool.role === role.name).reduce((sum, pool) => sum + pool.peak, 0);
        const superuser = role.access === "superuser";
        const program = superuser ? superuserPeak(plan.postgres.programConnections, 0) : 0;
        return {
            role: role.name,
            access: role.access,
            pooledPeak,
            pgbouncerCap: cap,
            direct: role.directConnections,
            exporters: role.exporterConnections,
            program,
            peak: pooledPeak + role.directConnections + role.exporterConnections + program,
            serverPeak: (cap === undefined ? pooledPeak : Math.min(pooledPeak, cap)) + role.directConnections + role.exporterConnections + program,
            connectionLimit: role.connectionLimit,
            limitBinds: role.access !== "superuser",
        };
    });
}

function checkAgainst(
    problems: Problem[],
    used: number,
    limit: number,
    key: string,
    describe: () => string,
    hardLimit = true,
): void {
    if (used > limit) {
        problems.push({
            severity: hardLimit ? "error" : "warning",
            key,
            message: `${describe()}: ${used} at peak, over the limit of ${limit}`,
        });
    } else if (used > WARNING_RATIO * limit) {
        problems.push({
            severity: "warning",
            key,
            message: `${describe()}: ${used} at peak is ${percent(used, limit)} of ${limit}, above section 5.1's 80 % warning level`,
        });
    }
}

function checkPools(plan: StackPlan, pools: readonly PoolBudget[], problems: Problem[]): void {
    const { reservePoolSize, maxDbConnections, minPoolSize } = plan.pgbouncer;
    for (const pool of plan.pools) {
        const wanted = pool.poolSize + reservePoolSize;
        if (wanted > maxDbConnections) {
            problems.push({
                severity: "error",
                key: `${pool.key}.poolSize`,
                message:
                    `${pool.service}'s pool on ${pool.database} (alias ${pool.alias}) wants ${pool.poolSize} + ${reservePoolSize} reserve = ${wanted} ` +
                    `server connections, over pgbouncer.maxDbConnections ${maxDbConnections}: the pool can never reach its size`,
            });
        }
        if (minPoolSize > pool.poolSize) {
            problems.push({
                severity: "warning",
                key: "pgbouncer.minPoolSize",
                message: `min_pool_size ${minPoolSize} is above ${pool.service}'s pool size ${pool.poolSize} on ${pool.alias}; that pool stays at ${pool.poolSize}`,
            });
        }
    }
    for (const pool of pools) {
        checkAgainst(
            problems,
            pool.peak,
            pool.entryLimit,
            "pgbouncer.maxDbConnections",
            () => `PgBouncer database ${pool.alias} (${pool.service} on ${pool.database})`,
        );
    }
}

function describeRole(plan: StackPlan, role: RoleBudget, pools: readonly PoolBudget[]): string {
    const parts = pools
        .filter((pool) => pool.role === role.role)
        .sort((a, b) => `${a.service}/${a.database}`.localeCompare(`${b.service}/${b.database}`))
        .map((pool) => `${pool.service}/${pool.database} ${pool.peak}`);
    const reserve = plan.pgbouncer.reservePoolSize;
    const pooled = parts.length ? `pools ${parts.join(" + ")} (pool size + ${reserve} reserve each)` : "no pools";
    const exporters = role.exporters > 0 ? `, ${role.exporters} of the monitoring exporters` : "";
    return `role ${role.role} (${pooled}, ${role.direct} direct${exporters})`;
}

function checkRoles(plan: StackPlan, roles: readonly RoleBudget[], pools: readonly PoolBudget[], problems: Problem[]): void {
    for (const role of roles) {
        const key = `roles.${role.role}.connectionLimit`;
        if (!role.limitBinds) {
            problems.push({
                severity: "warning",
                key,
                message:
                    `${role.role} is a superuser: PostgreSQL ignores its CONNECTION LIMIT ${role.connectionLimit}, so the program does not set it; ` +
                    `its ${role.peak} connections (provider, healthcheck, direct) are counted in max_connections instead`,
            });
            continue;
        }
        checkAgainst(problems, role.peak, role.connectionLimit, key, () => describeRole(plan, role, pools));
    }
}

function postgresTotals(plan: StackPlan, roles: readonly RoleBudget[]): PostgresTotals {
    const regular = roles.filter((role) => role.limitBinds);
    const superusers = roles.filter((role) => !role.limitBinds);
    const { maxConnections, superuserReservedConnections } = plan.postgres;
    const walSenders = plan.postgres.extraSettings.find(([name]) => name === "max_wal_senders")?.[1];
    return {
        replicationPeak: plan.backups.enabled ? plan.backups.role.connectionLimit : 0,
        // PostgreSQL's default, unless postgres.settings sets it (config/backups.ts checks it is enough).
        maxWalSenders: typeof walSenders === "number" ? walSenders : Number(walSenders ?? 10),
        regularPeak: regular.reduce((sum, role) => sum + role.serverPeak, 0),
        superuserPeak: superusers.reduce((sum, role) => sum + role.serverPeak, 0),
        maxConnections,
        superuserReservedConnections,
        availableToRegularRoles: maxConnections - superuserReservedConnections,
        roleLimitSum: regular.reduce((sum, role) => sum + role.connectionLimit, 0),
    };
}

function checkPostgresTotals(totals: PostgresTotals, problems: Problem[]): void {
    if (totals.superuserReservedConnections >= totals.maxConnections) {
        problems.push({
            severity: "error",
            key: "postgres.superuserReservedConnections",
            message: `${totals.superuserReservedConnections} leaves no connection for other roles out of max_connections ${totals.maxConnections}`,
        });
        return;
    }
    checkAgainst(
        problems,
        totals.regularPeak,
        totals.availableToRegularRoles,
        "postgres.maxConnections",
        () => `non-superuser connections (every pool at peak plus direct connections)`,
    );
    checkAgainst(
        problems,
        totals.regularPeak + totals.superuserPeak,
        totals.maxConnections,
        "postgres.maxConnections",
        () => `all connections including the superuser's ${totals.superuserPeak} (provider, healthcheck, direct)`,
    );
    // Roles may go past their planned peak up to their CONNECTION LIMIT; only the reserved
    // slots are then left to the superuser.
    if (totals.superuserPeak > totals.superuserReservedConnections && totals.roleLimitSum + totals.superuserPeak > totals.maxConnections) {
        problems.push({
            severity: "warning",
            key: "postgres.superuserReservedConnections",
            message:
                `the superuser can open ${totals.superuserPeak} connections (provider, healthcheck, direct) but only ${totals.superuserReservedConnections} are reserved: ` +
                `roles at their CONNECTION LIMITs (${totals.roleLimitSum} in all) leave it ${Math.max(0, totals.maxConnections - totals.roleLimitSum)}`,
        });
    }
    if (totals.roleLimitSum > totals.availableToRegularRoles) {
        problems.push({
            severity: "warning",
            key: "postgres.maxConnections",
            message:
                `the roles' CONNECTION LIMITs add up to ${totals.roleLimitSum}, more than the ${totals.availableToRegularRoles} ` +
                `non-reserved connections: a role that goes past its planned peak can take another role's connections`,
        });
    }
}

function clientBudget(plan: StackPlan, pools: readonly PoolBudget[]): ClientBudget {
    const services = plan.services.map((service) => ({
        service: service.name,
        maxClientConnections: service.pools.reduce((sum, pool) => sum + pool.maxClientConnections, 0),
    }));
    const total = services.reduce((sum, service) => sum + service.maxClientConnections, 0) + plan.pgbouncer.consoleClients;
    const serverConnections = pools.reduce((sum, pool) => sum + pool.peak, 0);
    return {
        services,
        consoleClients: plan.pgbouncer.consoleClients,
        exporterConsoleSessions: plan.monitoring.connections.pgbouncerConsole,
        total,
        maxClientConn: plan.pgbouncer.maxClientConn,
        serverConnections,
        fileDescriptorsNeeded: plan.pgbouncer.maxClientConn + serverConnections + PGBOUNCER_SPARE_DESCRIPTORS,
        fileDescriptorLimit: plan.pgbouncer.fileDescriptorLimit,
    };
}

function checkClients(clients: ClientBudget, problems: Problem[]): void {
    if (clients.exporterConsoleSessions > clients.consoleClients) {
        problems.push({
            severity: "error",
            key: "pgbouncer.consoleClients",
            message: `pgbouncer_exporter keeps ${clients.exporterConsoleSessions} admin console session(s) open, more than the ${clients.consoleClients} console clients planned`,
        });
    }
    checkAgainst(
        problems,
        clients.total,
        clients.maxClientConn,
        "pgbouncer.maxClientConn",
        () => `PgBouncer clients (${clients.services.map((s) => `${s.service} ${s.maxClientConnections}`).join(", ")}, console ${clients.consoleClients})`,
    );
    if (clients.fileDescriptorsNeeded > clients.fileDescriptorLimit) {
        problems.push({
            severity: "error",
            key: "pgbouncer.fileDescriptorLimit",
            message:
                `PgBouncer needs ${clients.fileDescriptorsNeeded} file descriptors (max_client_conn ${clients.maxClientConn} + ` +
                `${clients.serverConnections} server connections + ${PGBOUNCER_SPARE_DESCRIPTORS} spare), over the limit of ${clients.fileDescriptorLimit}`,
        });
    }
}

function redisBudget(plan: StackPlan): RedisBudget {
    const clients = plan.redis.clients.map((client) => ({ ...client }));
    // One connection each for the admin, the monitor, the healthcheck and the backups.
    const systemUsers = plan.redis.users.filter((user) => user.kind !== "service").map((user) => user.name);
    const exporterConnections = plan.monitoring.connections.redis;
    return {
        clients,
        systemUsers,
        systemConnections: systemUsers.length,
        exporterConnections,
        total: clients.reduce((sum, client) => sum + client.maxConnections, 0) + systemUsers.length + exporterConnections,
        maxclients: plan.redis.maxclients,
        warningClients: plan.redis.warningClients,
        criticalClients: plan.redis.criticalClients,
    };
}

function checkRedis(redis: RedisBudget, problems: Problem[]): void {
    const exporter = redis.exporterConnections > 0 ? `, redis_exporter ${redis.exporterConnections}` : "";
    const describe = `Redis clients (${redis.clients.map((c) => `${c.name} ${c.maxConnections}`).join(", ")}, system ${redis.systemConnections}${exporter})`;
    if (redis.total > redis.maxclients) {
        problems.push({ severity: "error", key: "redis.maxclients", message: `${describe}: ${redis.total} at peak, over maxclients ${redis.maxclients}` });
    } else if (redis.total > redis.criticalClients) {
        problems.push({
            severity: "warning",
            key: "redis.clients",
            message: `${describe}: ${redis.total} at peak is above section 5.3's critical level of ${redis.criticalClients} connected clients`,
        });
    } else if (redis.total > redis.warningClients) {
        problems.push({
            severity: "warning",
            key: "redis.clients",
            message: `${describe}: ${redis.total} at peak is above section 5.3's warning level of ${redis.warningClients} connected clients`,
        });
    }
    if (redis.criticalClients > redis.maxclients) {
        problems.push({
            severity: "error",
            key: "redis.criticalClients",
            message: `${redis.criticalClients} is above maxclients ${redis.maxclients}; the critical level could never be reached`,
        });
    }
}

function qdrantBudget(plan: StackPlan): QdrantBudget {
    const operations = plan.qdrant.operations.map((operation) => ({ ...operation }));
    return {
        enabled: plan.qdrant.enabled,
        operations,
        totalConcurrency: operations.reduce((sum, operation) => sum + operation.concurrency, 0),
        httpMaxSockets: plan.qdrant.httpMaxSockets,
    };
}

function checkQdrant(qdrant: QdrantBudget, problems: Problem[]): void {
    if (!qdrant.enabled) {
        return;
    }
    // Past maxSockets the HTTP agent queues requests: slower, not refused, so a warning.
    checkAgainst(
        problems,
        qdrant.totalConcurrency,
        qdrant.httpMaxSockets,
        "qdrant.httpMaxSockets",
        () => `Qdrant concurrency (${qdrant.operations.map((o) => `${o.name} ${o.concurrency}`).join(", ")})`,
        false,
    );
}

export function computeBudget(plan: StackPlan): BudgetResult {
    const problems: Problem[] = [];
    const pools = poolBudgets(plan);
    const roles = roleBudgets(plan, pools);
    const postgres = postgresTotals(plan, roles);
    const clients = clientBudget(plan, pools);
    const redis = redisBudget(plan);
    const qdrant = qdrantBudget(plan);
    checkPools(plan, pools, problems);
    checkRoles(plan, roles, pools, problems);
    checkPostgresTotals(postgres, problems);
    checkClients(clients, problems);
    checkRedis(redis, problems);
    checkQdrant(qdrant, problems);
    return { budget: { pools, databases: databaseBudgets(pools), roles, postgres, clients, redis, qdrant }, problems };
}
