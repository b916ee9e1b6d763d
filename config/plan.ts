// The plan: one typed, immutable description of the stack, derived from validated config.
// Renderers, the budget and the components read it; none of them reads config.
import { BACKUP_REDIS_USER, BACKUP_REPLICATION_CONNECTIONS, BACKUP_ROLE } from "./backups";
import { containerNames, postgresMajorVersion } from "./bounds";
import { DeepReadonly, deepFreeze } from "./freeze";
import { effectiveMaxPreparedStatements, MAINTENANCE_DATABASE, REDIS_SYSTEM_USERS } from "./validate";
import { PoolMode, RoleAccess, StackConfig, Thresholds } from "./schema";

export interface Publish {
    /** Address on the Docker host the port is published on. */
    address: string;
    port: number;
}

/** Limits every container gets (section `containers`). */
export interface ContainersPlan {
    logMaxSize: string;
    logMaxFiles: number;
    readOnlyRootFilesystem: boolean;
}

export interface PostgresPlan {
    image: string;
    containerName: string;
    /** Volume the rendered files live on (mounted read-only into the server). */
    configVolumeName: string;
    /** Network alias for direct (non-pooled) connections. */
    hostname: string;
    port: number;
    publish: Publish;
    superuser: string;
    /** The PostgreSQL major version the image runs: selects the settings table. */
    majorVersion: number;
    /** Superuser connections the program itself opens (the budget counts them). */
    programConnections: ProgramConnections;
    maxConnections: number;
    /** True when max_connections was derived from the role limits rather than configured. */
    maxConnectionsDerived: boolean;
    superuserReservedConnections: number;
    sharedBuffers: string;
    locale: string;
    timezone: string;
    textSearchConfig: string;
    memory: string;
    shmSize: string;
    pgvector: boolean;
    /** Extra postgresql.conf settings from config, sorted by name. */
    extraSettings: ReadonlyArray<readonly [string, string | number | boolean]>;
    volumeName: string;
    retainDataOnDestroy: boolean;
}

export interface ProgramConnections {
    /**
     * The postgresql provider: a pool per database it connects to (the maintenance database
     * and every application database), each of up to PROVIDER_CONNECTIONS_PER_DATABASE, the
     * provider's `maxConnections` (components/postgresSchema.ts).
     */
    provider: number;
    /** The live-change resources' psql over the socket (components/live/): one at a time. */
    liveChanges: number;
    /**
     * The container's pg_isready healthcheck: a backend for each probe. (The image's entrypoint
     * connects only while it initialises an empty data directory, on a server that listens on
     * its socket alone: nobody else can connect then, so there is nothing to count.)
     */
    healthcheck: number;
}

/**
 * The provider's `maxConnections`, per database it connects to (its own default is 20,
 * terraform-provider-postgresql provider.go defaultProviderMaxOpenConnections): it runs a few
 * statements per resource, and every one of its connections is the superuser's.
 */
export const PROVIDER_CONNECTIONS_PER_DATABASE = 4;

export interface RolePlan {
    name: string;
    access: RoleAccess;
    connectionLimit: number;
    /** Connections that bypass PgBouncer: migrations, LISTEN, people. */
    directConnections: number;
    /** Direct connections the monitoring exporters open as this role (0 unless monitoring is on). */
    exporterConnections: number;
    /** Whether the role logs in through PgBouncer (it has pools or reads PgBouncer's stats). */
    pooled: boolean;
    /** Raised to give the role a new password. */
    rotation: number;
}

export interface DatabasePlan {
    name: string;
    owner: string;
    /** CREATE EXTENSION vector (only when the image has pgvector). */
    vectorExtension: boolean;
}

/** What a role may do in a database beyond CONNECT. */
export type DatabaseAccess = "owner" | "readwrite" | "readonly" | "connect";

export interface DatabaseGrantPlan {
    role: string;
    database: string;
    access: DatabaseAccess;
}

export interface PoolPlan {
    service: string;
    role: string;
    /** The PostgreSQL database the pool's server connections go to. */
    database: string;
    /** The PgBouncer [databases] entry clients connect to. */
    alias: string;
    /** Environment variable (or n8n variable prefix) the service reads this pool from. */
    env: string;
    format: "url" | "n8n";
    poolSize: number;
    maxClientConnections: number;
    /** Config key of this pool, for messages. */
    key: string;
}

export type Sslmode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full";

export interface ServicePlan {
    name: string;
    role: string;
    driver: "libpq" | "asyncpg";
    sslmode: Sslmode;
    pools: readonly PoolPlan[];
}

export interface PgbouncerPlan {
    image: string;
    containerName: string;
    configVolumeName: string;
    memory: string;
    /** Network alias the services connect to (section 2.4's zentoria-db). */
    hostname: string;
    port: number;
    publish: Publish;
    poolMode: PoolMode;
    maxClientConn: number;
    defaultPoolSize: number;
    minPoolSize: number;
    reservePoolSize: number;
    reservePoolTimeoutSeconds: number;
    serverLoginRetrySeconds: number;
    maxDbConnections: number;
    /** Rendered as max_prepared_statements; unset: not rendered (an image too old, or of unknown version). */
    maxPreparedStatements?: number;
    ignoreStartupParameters: readonly string[];
    adminUser: string;
    consoleClients: number;
    statsUsers: readonly string[];
    queryTimeoutSeconds: number;
    fileDescriptorLimit: number;
    /** Roles that log in through PgBouncer, with the server connections PgBouncer may open for each. */
    users: ReadonlyArray<{ role: string; maxUserConnections: number }>;
}

export interface RedisClientPlan {
    name: string;
    user: string;
    database: number;
    maxConnections: number;
    purpose: string;
    /** Services whose .env carries this client's URL. */
    services: readonly string[];
    access: "data" | "queue" | "pubsub";
    keyPatterns: readonly string[];
    channelPatterns: readonly string[];
}

export type RedisUserKind = "admin" | "monitor" | "healthcheck" | "backup" | "service";

export interface RedisUserPlan {
    name: string;
    kind: RedisUserKind;
}

export interface RedisPlan {
    image: string;
    containerName: string;
    configVolumeName: string;
    fileDescriptorLimit: number;
    memory: string;
    hostname: string;
    port: number;
    publish: Publish;
    maxclients: number;
    databases: number;
    appendonly: boolean;
    maxmemory: string;
    maxmemoryPolicy: string;
    tcpKeepaliveSeconds: number;
    warningClients: number;
    criticalClients: number;
    /** redis_exporter logs in as the monitor user (monitoring on): its ACL allows what the exporter sends. */
    monitorExporter: boolean;
    clients: readonly RedisClientPlan[];
    users: readonly RedisUserPlan[];
    volumeName: string;
    retainDataOnDestroy: boolean;
}

export interface QdrantOperationPlan {
    name: string;
    concurrency: number;
    timeoutSeconds: number;
}

export interface QdrantPlan {
    enabled: boolean;
    image: string;
    containerName: string;
    configVolumeName: string;
    snapshotsVolumeName: string;
    memory: string;
    hostname: string;
    httpPort: number;
    grpcPort: number;
    publishHttp: Publish;
    publishGrpc: Publish;
    httpMaxSockets: number;
    httpMaxFreeSockets: number;
    /** Services whose .env carries Qdrant's URL and key. */
    services: readonly string[];
    operations: readonly QdrantOperationPlan[];
    volumeName: string;
    retainDataOnDestroy: boolean;
}

/** A container of the monitoring part: its image, names and memory limit. */
export interface MonitoringContainerPlan {
    image: string;
    containerName: string;
    /** Volume its rendered files live on (mounted read-only). */
    configVolumeName: string;
    memory: string;
    /** Port it serves on inside the stack's network. */
    port: number;
}

/**
 * Connections the exporters open, for the budget (config/budget.ts). Read from the exporters'
 * sources at the pinned versions:
 * - pgbouncer_exporter (0.10.2 collector.go getDB): one database/sql pool limited to one
 *   connection, to PgBouncer's admin console as the stats user: one console session;
 * - postgres_exporter (0.17.1): its built-in queries keep one connection
 *   (cmd/postgres_exporter/server.go: SetMaxOpenConns(1)), and its collectors open one more for
 *   each scrape (collector/instance.go setup: SetMaxOpenConns(1)); Prometheus never runs two
 *   scrapes of one target at once, so two connections as the monitoring role;
 * - redis_exporter (1.69.0 exporter/redis.go): one connection for each scrape, closed after it.
 */
export const EXPORTER_CONNECTIONS = { pgbouncerConsole: 1, postgres: 2, redis: 1 } as const;

export interface MonitoringPlan {
    enabled: boolean;
    /** Section 5's levels, shared by the alert rules and `npm run status`. */
    thresholds: Thresholds;
    /** The PostgreSQL role the exporters log in as (PgBouncer's stats user). */
    role: string;
    /** The Redis ACL user redis_exporter logs in as. */
    redisUser: string;
    scrapeIntervalSeconds: number;
    evaluationIntervalSeconds: number;
    retainDataOnDestroy: boolean;
    prometheus: MonitoringContainerPlan & { volumeName: string; publish: Publish; retentionDays: number };
    alertmanager: MonitoringContainerPlan & { enabled: boolean; publish: Publish };
    pgbouncerExporter: MonitoringContainerPlan;
    postgresExporter: MonitoringContainerPlan;
    redisExporter: MonitoringContainerPlan;
    /** Counts the errors PgBouncer logs (it keeps no counter): runs in PgBouncer's image, reads its log volume. */
    pgbouncerErrors: MonitoringContainerPlan & { logVolumeName: string };
    /** What the exporters open, counted in the budget; all zero when monitoring is off. */
    connections: { pgbouncerConsole: number; postgres: number; redis: number };
}

/** TLS of the published ports (and, with inNetwork, inside the network): issue 11. */
export interface TlsPlan {
    enabled: boolean;
    inNetwork: boolean;
    /** Where clients find the CA certificate. */
    caFile: string;
    extraNames: readonly string[];
    validityDays: number;
}

export interface BackupsPlan {
    enabled: boolean;
    /** The named volume backups go to, unless hostDirectory names a directory on the Docker host. */
    volumeName: string;
    hostDirectory?: string;
    /** The backup sidecar and its config volume (scripts and the logins it needs). */
    containerName: string;
    configVolumeName: string;
    intervalHours: number;
    keepBaseBackups: number;
    archiveTimeoutSeconds: number;
    memory: string;
    /** The replication role: CONNECTION LIMIT exactly what pg_basebackup opens. */
    role: { name: string; connectionLimit: number };
    redisUser: string;
    /**
     * What each run backs up. With tls.enabled Redis and Qdrant speak TLS only, which the
     * sidecar's plain-text client cannot: PostgreSQL only then (the check warns).
     */
    services: ReadonlyArray<"postgres" | "redis" | "qdrant">;
}

export interface TimeoutsPlan {
    connectSeconds: number;
    querySeconds: number;
    idleSeconds: number;
}

export interface StackPlanData {
    prefix: string;
    networkName: string;
    bindAddress: string;
    timeouts: TimeoutsPlan;
    containers: ContainersPlan;
    postgres: PostgresPlan;
    roles: RolePlan[];
    databases: DatabasePlan[];
    grants: DatabaseGrantPlan[];
    services: ServicePlan[];
    pools: PoolPlan[];
    pgbouncer: PgbouncerPlan;
    redis: RedisPlan;
    qdrant: QdrantPlan;
    monitoring: MonitoringPlan;
    tls: TlsPlan;
    backups: BackupsPlan;
    /** Credentials given in config (plaintext only inside the program; secrets in Pulumi). */
    providedCredentials: StackConfig["credentials"];
}

export type StackPlan = DeepReadonly<StackPlanData>;

const byName = <T extends { name: string }>(a: T, b: T) => a.name.localeCompare(b.name);

function rolePlans(config: StackConfig): RolePlan[] {
    const pooledRoles = new Set(Object.values(config.services).map((service) => service.role));
    return Object.entries(config.roles)
        .map(([name, role]) => ({
            name,
            access: role.access,
            connectionLimit: role.connectionLimit,
            directConnections: role.directConnections,
            exporterConnections: exporterConnectionsOf(config, name),
            pooled: pooledRoles.has(name) || role.access === "monitoring",
            rotation: role.rotation,
        }))
        .sort(byName);
}

function poolPlans(config: StackConfig): PoolPlan[] {
    return Object.entries(config.services)
        .flatMap(([service, serviceConfig]) =>
            Object.entries(serviceConfig.pools).map(([database, pool]) => ({
                service,
                role: serviceConfig.role,
                database,
                alias: pool.alias,
                env: pool.env,
                format: pool.format,
                poolSize: pool.poolSize,
                maxClientConnections: pool.maxClientConnections,
                key: `services.${service}.pools.${database}`,
            })),
        )
        .sort((a, b) => a.alias.localeCompare(b.alias));
}

/** Which role may do what in which database: derived from owners, pools and role kinds. */
function grantPlans(config: StackConfig, pools: readonly PoolPlan[]): DatabaseGrantPlan[] {
    const grants = new Map<string, DatabaseGrantPlan>();
    const add = (grant: DatabaseGrantPlan) => grants.set(`${grant.database}/${grant.role}`, grant);
    for (const [database, db] of Object.entries(config.databases)) {
        add({ role: db.owner, database, access: "owner" });
        for (const [role, roleConfig] of Object.entries(config.roles)) {
            if (roleConfig.access === "readonly") {
                add({ role, database, access: "readonly" });
            } else if (roleConfig.access === "monitoring") {
                add({ role, database, access: "connect" });
            }
        }
    }
    for (const pool of pools) {
        if (pool.database !== MAINTENANCE_DATABASE && !grants.has(`${pool.database}/${pool.role}`)) {
            add({ role: pool.role, database: pool.database, access: "readwrite" });
        }
    }
    return [...grants.values()].sort((a, b) => `${a.database}/${a.role}`.localeCompare(`${b.database}/${b.role}`));
}

function programConnections(config: StackConfig): ProgramConnections {
    const databases = 1 + Object.keys(config.databases).length;
    return { provider: databases * PROVIDER_CONNECTIONS_PER_DATABASE, healthcheck: 1, liveChanges: 1 };
}

/** Everything the superuser can open: the program's own connections and the role's direct ones. */
export function superuserPeak(program: ProgramConnections, superuserDirect: number): number {
    return program.provider + program.healthcheck + program.liveChanges + superuserDirect;
}

/**
 * max_connections must hold every non-superuser at its CONNECTION LIMIT outside the reserved
 * superuser slots, plus every connection the superuser can open.
 */
function derivedMaxConnections(config: StackConfig): number {
    const roles = Object.values(config.roles);
    const regular = roles.filter((role) => role.access !== "superuser").reduce((sum, role) => sum + role.connectionLimit, 0);
    const direct = roles.filter((role) => role.access === "superuser").reduce((sum, role) => sum + role.directConnections, 0);
    // The superuser's share with section 5.1's 80 % headroom, like every other limit.
    const superuser = Math.ceil(superuserPeak(programConnections(config), direct) / 0.8);
    return regular + Math.max(superuser, config.postgres.superuserReservedConnections);
}

function publishAddress(config: StackConfig, port: number): Publish {
    return { address: config.bindAddress, port };
}

function redisPlan(config: StackConfig): RedisPlan {
    const redis = config.redis;
    const clients = Object.entries(redis.clients)
        .map(([name, client]) => ({
            name,
            ...client,
            services: [...client.services].sort(),
            keyPatterns: [...client.keyPatterns].sort(),
            channelPatterns: [...client.channelPatterns].sort(),
        }))
        .sort((a, b) => a.database - b.database || a.name.localeCompare(b.name));
    const serviceUsers = [...new Set(clients.map((client) => client.user))];
    const users: RedisUserPlan[] = [
        ...REDIS_SYSTEM_USERS.map((name) => ({ name, kind: name as RedisUserKind })),
        ...(config.backups.enabled ? [{ name: BACKUP_REDIS_USER, kind: "backup" as const }] : []),
        ...serviceUsers.map((name) => ({ name, kind: "service" as const })),
    ].sort(byName);
    return {
        image: redis.image,
        containerName: containerNames(config.prefix).redis,
        configVolumeName: `${config.prefix}-redis-config`,
        fileDescriptorLimit: redis.fileDescriptorLimit,
        memory: redis.memory,
        hostname: redis.hostname,
        port: redis.port,
        publish: publishAddress(config, redis.hostPort),
        maxclients: redis.maxclients,
        databases: redis.databases,
        appendonly: redis.appendonly,
        maxmemory: redis.maxmemory,
        maxmemoryPolicy: redis.maxmemoryPolicy,
        tcpKeepaliveSeconds: redis.tcpKeepaliveSeconds,
        warningClients: redis.warningClients,
        criticalClients: redis.criticalClients,
        monitorExporter: config.monitoring.enabled,
        clients,
        users,
        volumeName: `${config.prefix}-redis-data`,
        retainDataOnDestroy: redis.retainDataOnDestroy,
    };
}

function qdrantPlan(config: StackConfig): QdrantPlan {
    const qdrant = config.qdrant;
    return {
        enabled: qdrant.enabled,
        image: qdrant.image,
        containerName: containerNames(config.prefix).qdrant,
        configVolumeName: `${config.prefix}-qdrant-config`,
        snapshotsVolumeName: `${config.prefix}-qdrant-snapshots`,
        memory: qdrant.memory,
        hostname: qdrant.hostname,
        httpPort: qdrant.httpPort,
        grpcPort: qdrant.grpcPort,
        publishHttp: publishAddress(config, qdrant.hostHttpPort),
        publishGrpc: publishAddress(config, qdrant.hostGrpcPort),
        httpMaxSockets: qdrant.httpMaxSockets,
        httpMaxFreeSockets: qdrant.httpMaxFreeSockets,
        services: [...qdrant.services].sort(),
        operations: Object.entries(qdrant.operations).map(([name, operation]) => ({ name, ...operation })),
        volumeName: `${config.prefix}-qdrant-storage`,
        retainDataOnDestroy: qdrant.retainDataOnDestroy,
    };
}

/** Direct connections the exporters open as `role` (the monitoring role, when monitoring is on). */
export function exporterConnectionsOf(config: StackConfig, role: string): number {
    return config.monitoring.enabled && config.monitoring.role === role ? EXPORTER_CONNECTIONS.postgres : 0;
}

function monitoringPlan(config: StackConfig): MonitoringPlan {
    const monitoring = config.monitoring;
    const named = (suffix: string, image: string, memory: string, port: number): MonitoringContainerPlan => ({
        image,
        containerName: `${config.prefix}-${suffix}`,
        configVolumeName: `${config.prefix}-${suffix}-config`,
        memory,
        port,
    });
    const exporterMemory = monitoring.exporters.memory;
    return {
        enabled: monitoring.enabled,
        thresholds: { ...monitoring.thresholds },
        role: monitoring.role,
        redisUser: "monitor",
        scrapeIntervalSeconds: monitoring.scrapeIntervalSeconds,
        evaluationIntervalSeconds: monitoring.evaluationIntervalSeconds,
        retainDataOnDestroy: monitoring.retainDataOnDestroy,
        prometheus: {
            ...named("prometheus", monitoring.prometheus.image, monitoring.prometheus.memory, 9090),
            volumeName: `${config.prefix}-prometheus-data`,
            publish: publishAddress(config, monitoring.prometheus.hostPort),
            retentionDays: monitoring.prometheus.retentionDays,
        },
        alertmanager: {
            ...named("alertmanager", monitoring.alertmanager.image, monitoring.alertmanager.memory, 9093),
            enabled: monitoring.alertmanager.enabled,
            publish: publishAddress(config, monitoring.alertmanager.hostPort),
        },
        pgbouncerExporter: named("pgbouncer-exporter", monitoring.exporters.pgbouncerImage, exporterMemory, 9127),
        postgresExporter: named("postgres-exporter", monitoring.exporters.postgresImage, exporterMemory, 9187),
        redisExporter: named("redis-exporter", monitoring.exporters.redisImage, exporterMemory, 9121),
        pgbouncerErrors: { ...named("pgbouncer-errors", config.pgbouncer.image, exporterMemory, 9128), logVolumeName: `${config.prefix}-pgbouncer-log` },
        connections: monitoring.enabled ? { ...EXPORTER_CONNECTIONS } : { pgbouncerConsole: 0, postgres: 0, redis: 0 },
    };
}

function pgbouncerPlan(config: StackConfig, roles: readonly RolePlan[]): PgbouncerPlan {
    const pgbouncer = config.pgbouncer;
    return {
        image: pgbouncer.image,
        containerName: containerNames(config.prefix).pgbouncer,
        configVolumeName: `${config.prefix}-pgbouncer-config`,
        memory: pgbouncer.memory,
        hostname: pgbouncer.hostname,
        port: pgbouncer.port,
        publish: publishAddress(config, pgbouncer.hostPort),
        poolMode: pgbouncer.poolMode,
        maxClientConn: pgbouncer.maxClientConn,
        defaultPoolSize: pgbouncer.defaultPoolSize,
        minPoolSize: pgbouncer.minPoolSize,
        reservePoolSize: pgbouncer.reservePoolSize,
        reservePoolTimeoutSeconds: pgbouncer.reservePoolTimeoutSeconds,
        serverLoginRetrySeconds: pgbouncer.serverLoginRetrySeconds,
        maxDbConnections: pgbouncer.maxDbConnections,
        maxPreparedStatements: effectiveMaxPreparedStatements(pgbouncer),
        ignoreStartupParameters: [...pgbouncer.ignoreStartupParameters].sort(),
        adminUser: pgbouncer.adminUser,
        consoleClients: pgbouncer.consoleClients,
        statsUsers: roles.filter((role) => role.access === "monitoring").map((role) => role.name),
        queryTimeoutSeconds: config.timeouts.querySeconds + pgbouncer.queryTimeoutGraceSeconds,
        fileDescriptorLimit: pgbouncer.fileDescriptorLimit,
        // PgBouncer queues clients instead of opening a connection the role limit would refuse.
        users: roles
            .filter((role) => role.pooled)
            .map((role) => ({ role: role.name, maxUserConnections: Math.max(1, role.connectionLimit - role.directConnections - exporterConnectionsOf(config, role.name)) })),
    };
}

function backupsPlan(config: StackConfig): BackupsPlan {
    const backups = config.backups;
    return {
        enabled: backups.enabled,
        volumeName: `${config.prefix}-backups`,
        hostDirectory: backups.hostDirectory,
        containerName: `${config.prefix}-backup`,
        configVolumeName: `${config.prefix}-backup-config`,
        intervalHours: backups.intervalHours,
        keepBaseBackups: backups.keepBaseBackups,
        archiveTimeoutSeconds: backups.archiveTimeoutSeconds,
        memory: backups.memory,
        role: { name: BACKUP_ROLE, connectionLimit: BACKUP_REPLICATION_CONNECTIONS },
        redisUser: BACKUP_REDIS_USER,
        services: config.tls.enabled ? ["postgres"] : ["postgres", "redis", ...(config.qdrant.enabled ? (["qdrant"] as const) : [])],
    };
}

export function buildPlan(config: StackConfig): StackPlan {
    const roles = rolePlans(config);
    const pools = poolPlans(config);
    const superuser = roles.find((role) => role.access === "superuser");
    const majorVersion = postgresMajorVersion(config);
    if (!superuser || majorVersion === undefined) {
        throw new Error("buildPlan needs a validated config: one superuser role, a known PostgreSQL major version");
    }
    const services = Object.entries(config.services)
        .map(([name, service]) => ({
            name,
            role: service.role,
            driver: service.driver,
            sslmode: service.sslmode,
            pools: pools.filter((pool) => pool.service === name),
        }))
        .sort(byName);
    const plan: StackPlanData = {
        prefix: config.prefix,
        networkName: `${config.prefix}-net`,
        bindAddress: config.bindAddress,
        timeouts: { ...config.timeouts },
        containers: { ...config.containers },
        postgres: {
            image: config.postgres.image,
            containerName: containerNames(config.prefix).postgres,
            configVolumeName: `${config.prefix}-postgres-config`,
            hostname: config.postgres.hostname,
            port: config.postgres.port,
            publish: publishAddress(config, config.postgres.hostPort),
            superuser: superuser.name,
            majorVersion,
            programConnections: programConnections(config),
            maxConnections: config.postgres.maxConnections ?? derivedMaxConnections(config),
            maxConnectionsDerived: config.postgres.maxConnections === undefined,
            superuserReservedConnections: config.postgres.superuserReservedConnections,
            sharedBuffers: config.postgres.sharedBuffers,
            locale: config.postgres.locale,
            timezone: config.postgres.timezone,
            textSearchConfig: config.postgres.textSearchConfig,
            memory: config.postgres.memory,
            shmSize: config.postgres.shmSize,
            pgvector: config.postgres.pgvector,
            extraSettings: Object.entries(config.postgres.settings).sort(([a], [b]) => a.localeCompare(b)),
            volumeName: `${config.prefix}-pgdata`,
            retainDataOnDestroy: config.postgres.retainDataOnDestroy,
        },
        roles,
        databases: Object.entries(config.databases)
            .map(([name, db]) => ({ name, owner: db.owner, vectorExtension: db.vectorExtension && config.postgres.pgvector }))
            .sort(byName),
        grants: grantPlans(config, pools),
        services,
        pools,
        pgbouncer: pgbouncerPlan(config, roles),
        redis: redisPlan(config),
        qdrant: qdrantPlan(config),
        monitoring: monitoringPlan(config),
        tls: { ...config.tls, extraNames: [...config.tls.extraNames].sort() },
        backups: backupsPlan(config),
        providedCredentials: config.credentials,
    };
    return deepFreeze(plan);
}
