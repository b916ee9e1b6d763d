// Defaults: the numbers of ../spec/connection-pooling.md, section by section. Where the spec's
// numbers contradict each other the default that fits is used and listed in DEVIATIONS below
// (also in the README), so nobody has to rediscover the arithmetic.
import { StackConfig } from "./schema";

/**
 * pgbouncer.maxPreparedStatements when the image's tag says PgBouncer 1.22.1 or later: PgBouncer
 * 1.24's own default (1.21 to 1.23 default to 0, off). Unset for older images, which refuse the
 * key or have 1.21's COPY bug (config/validate.ts effectiveMaxPreparedStatements).
 */
export const DEFAULT_MAX_PREPARED_STATEMENTS = 200;

export const DEFAULT_CONFIG: StackConfig = {
    prefix: "zentoria",
    bindAddress: "127.0.0.1",
    allowPublicBind: false,
    // Section 6.1: query timeout 30 s, connection timeout 10 s, idle timeout 60 s.
    timeouts: { connectSeconds: 10, querySeconds: 30, idleSeconds: 60 },
    // Logs rotate instead of filling the disk; servers cannot write outside their volumes.
    containers: { logMaxSize: "10m", logMaxFiles: 3, readOnlyRootFilesystem: true },
    postgres: {
        // Section 1: container 404, port 5432. The pgvector image is the official postgres:15
        // image plus the extension zentoria_vectors needs (section 2.4).
        image: "pgvector/pgvector:0.8.1-pg15-bookworm",
        // Direct (non-pooled) connections; the pooled host keeps the spec's name (DEVIATIONS).
        hostname: "zentoria-postgres",
        port: 5432,
        hostPort: 5432,
        pgvector: true,
        superuserReservedConnections: 3,
        sharedBuffers: "128MB",
        // The official image's initdb environment (LANG=en_US.utf8), rendered on purpose.
        locale: "en_US.utf8",
        timezone: "Etc/UTC",
        textSearchConfig: "pg_catalog.english",
        memory: "2g",
        // Docker's 64 MB default is too small for parallel queries and index builds.
        shmSize: "256m",
        settings: {},
        retainDataOnDestroy: true,
    },
    pgbouncer: {
        // Section 2.1, plus pitfall 10: 1.25.2 fixes the 2026 SCRAM and parser CVEs (PgBouncer's
        // NEWS.md); the newest tag CloudNativePG's pgbouncer-containers build (docker-bake.hcl).
        image: "ghcr.io/cloudnative-pg/pgbouncer:1.25.2",
        // Section 2.4: every application connects to zentoria-db:6432.
        hostname: "zentoria-db",
        port: 6432,
        hostPort: 6432,
        poolMode: "transaction",
        maxClientConn: 500,
        defaultPoolSize: 20,
        minPoolSize: 5,
        reservePoolSize: 5,
        reservePoolTimeoutSeconds: 5,
        // PgBouncer's own default is 15 s: every PostgreSQL restart (a postgresql.conf change
        // replaces the container) would fail clients for 15 s; measured 1.6 s with 1 (BENCHMARKS.md).
        serverLoginRetrySeconds: 1,
        maxDbConnections: 50,
        ignoreStartupParameters: ["extra_float_digits"],
        adminUser: "pgbouncer",
        // Admin console sessions (section 5.1's SHOW commands, exporters) count as clients too.
        consoleClients: 5,
        queryTimeoutGraceSeconds: 5,
        fileDescriptorLimit: 4096,
        memory: "256m",
    },
    // Section 2.5, with the limits raised where the pools of section 2.2 need more (DEVIATIONS).
    roles: {
        postgres: { access: "superuser", connectionLimit: 10, directConnections: 10, rotation: 0 },
        zentoria_app: { access: "application", connectionLimit: 95, directConnections: 4, rotation: 0 },
        n8n_app: { access: "application", connectionLimit: 35, directConnections: 2, rotation: 0 },
        readonly: { access: "readonly", connectionLimit: 10, directConnections: 5, rotation: 0 },
        zentoria_monitor: { access: "monitoring", connectionLimit: 15, directConnections: 2, rotation: 0 },
    },
    databases: {
        zentoria_main: { owner: "zentoria_app", vectorExtension: false },
        zentoria_vectors: { owner: "zentoria_app", vectorExtension: true },
        n8n: { owner: "n8n_app", vectorExtension: false },
    },
    // Section 2.2. pool_size is per (user, database) pair, so services that share a role get
    // their own PgBouncer database alias to get their own pool size (pitfall 2).
    services: {
        // Section 2.4's variables: DATABASE_URL and VECTOR_DATABASE_URL for the backend,
        // DB_POSTGRESDB_* for n8n, a postgresql+asyncpg:// DATABASE_URL for the AI orchestrator.
        backend: {
            role: "zentoria_app",
            driver: "libpq",
            // node-postgres reads "prefer" as "verify-full" and the servers have no TLS (DEVIATIONS).
            sslmode: "disable",
            pools: {
                zentoria_main: { alias: "zentoria_main", env: "DATABASE_URL", format: "url", poolSize: 20, maxClientConnections: 40 },
                zentoria_vectors: { alias: "zentoria_vectors", env: "VECTOR_DATABASE_URL", format: "url", poolSize: 10, maxClientConnections: 20 },
            },
        },
        n8n: {
            role: "n8n_app",
            driver: "libpq",
            sslmode: "disable",
            pools: {
                zentoria_main: { alias: "zentoria_main_n8n", env: "ZENTORIA_DATABASE_URL", format: "url", poolSize: 5, maxClientConnections: 10 },
                n8n: { alias: "n8n", env: "DB_POSTGRESDB", format: "n8n", poolSize: 10, maxClientConnections: 20 },
            },
        },
        ai_orchestrator: {
            role: "zentoria_app",
            driver: "asyncpg",
            sslmode: "prefer",
            pools: {
                zentoria_main: { alias: "zentoria_main_ai", env: "DATABASE_URL", format: "url", poolSize: 5, maxClientConnections: 10 },
                zentoria_vectors: { alias: "zentoria_vectors_ai", env: "VECTOR_DATABASE_URL", format: "url", poolSize: 15, maxClientConnections: 30 },
            },
        },
        // "Admin/Monitoring, All": the statistics views of section 5.2 are cluster-wide, so one
        // pool on the maintenance database serves every database.
        monitoring: {
            role: "zentoria_monitor",
            driver: "libpq",
            sslmode: "prefer",
            pools: {
                postgres: { alias: "monitoring", env: "MONITORING_DATABASE_URL", format: "url", poolSize: 5, maxClientConnections: 10 },
            },
        },
    },
    redis: {
        // Sections 1 and 3: container 410, port 6379, maxclients 1000 (3.3).
        image: "redis:7.4.6-bookworm",
        hostname: "zentoria-redis",
        port: 6379,
        hostPort: 6379,
        maxclients: 1000,
        databases: 16,
        appendonly: true,
        maxmemory: "0",
        maxmemoryPolicy: "noeviction",
        tcpKeepaliveSeconds: 30,
        fileDescriptorLimit: 4096,
        memory: "1g",
        // Section 5.3: connected_clients warning > 500, critical > 900.
        warningClients: 500,
        criticalClients: 900,
        // Section 3.2.
        clients: {
            sessions: { user: "backend", database: 0, maxConnections: 20, purpose: "Session management", services: ["backend"], access: "data", keyPatterns: ["*"], channelPatterns: [] },
            cache: { user: "backend", database: 1, maxConnections: 30, purpose: "API response cache", services: ["backend"], access: "data", keyPatterns: ["*"], channelPatterns: [] },
            // n8n runs user-written workflow code: its user reaches Bull's keys and channels only.
            queues: { user: "n8n", database: 2, maxConnections: 15, purpose: "Job queues", services: ["n8n"], access: "queue", keyPatterns: ["bull:*"], channelPatterns: ["bull:*"] },
            // Publish/subscribe only: no key of any database.
            pubsub: { user: "pubsub", database: 3, maxConnections: 10, purpose: "Real-time events", services: ["backend", "ai_orchestrator"], access: "pubsub", keyPatterns: [], channelPatterns: ["*"] },
            ai_memory: { user: "ai_orchestrator", database: 4, maxConnections: 20, purpose: "Conversation context", services: ["ai_orchestrator"], access: "data", keyPatterns: ["*"], channelPatterns: [] },
            rate_limits: { user: "backend", database: 5, maxConnections: 10, purpose: "Rate limiting", services: ["backend"], access: "data", keyPatterns: ["*"], channelPatterns: [] },
        },
        retainDataOnDestroy: true,
    },
    qdrant: {
        // Section 4: HTTP 6333, gRPC 6334; 4.1's keep-alive agent; 4.2's limits.
        enabled: true,
        // The image variant that runs as uid 1000 instead of root.
        image: "qdrant/qdrant:v1.15.4-unprivileged",
        hostname: "zentoria-embeddings",
        httpPort: 6333,
        grpcPort: 6334,
        hostHttpPort: 6333,
        hostGrpcPort: 6334,
        httpMaxSockets: 50,
        httpMaxFreeSockets: 10,
        memory: "2g",
        services: ["backend", "ai_orchestrator"],
        operations: {
            vectorSearch: { concurrency: 10, timeoutSeconds: 5 },
            batchUpsert: { concurrency: 5, timeoutSeconds: 30 },
            collectionOperations: { concurrency: 2, timeoutSeconds: 60 },
        },
        retainDataOnDestroy: true,
    },
    monitoring: {
        // On in Pulumi.prod.yaml; off by default, so a stack without it is exactly the data tier.
        enabled: false,
        // The monitoring role of section 2.5 ("Admin/Monitoring"): member of pg_monitor, PgBouncer's stats user.
        role: "zentoria_monitor",
        scrapeIntervalSeconds: 15,
        evaluationIntervalSeconds: 15,
        retainDataOnDestroy: true,
        // The versions the CI stand-ins run (.ci/images), so that what CI proves is what runs.
        prometheus: { image: "prom/prometheus:v2.53.3", hostPort: 9090, memory: "512m", retentionDays: 15 },
        alertmanager: { enabled: false, image: "prom/alertmanager:v0.28.1", hostPort: 9093, memory: "128m" },
        exporters: {
            pgbouncerImage: "prometheuscommunity/pgbouncer-exporter:v0.10.2",
            postgresImage: "prometheuscommunity/postgres-exporter:v0.17.1",
            // The Alpine variant: the default one is FROM scratch, with nothing to run a healthcheck.
            redisImage: "oliver006/redis_exporter:v1.69.0-alpine",
            memory: "64m",
        },
        // Section 5.1 and 5.3's tables: warning above 80 % of max, critical above 95 %;
        // avg_wait_time 100 ms / 500 ms; pool errors > 0 / > 10 a minute. Section 5.2: 30 s.
        thresholds: {
            pgbouncerClientsWarningPercent: 80,
            pgbouncerClientsCriticalPercent: 95,
            pgbouncerServersWarningPercent: 80,
            pgbouncerServersCriticalPercent: 95,
            pgbouncerWaitWarningMs: 100,
            pgbouncerWaitCriticalMs: 500,
            pgbouncerErrorsWarningPerMinute: 0,
            pgbouncerErrorsCriticalPerMinute: 10,
            postgresConnectionsWarningPercent: 80,
            postgresConnectionsCriticalPercent: 95,
            longQuerySeconds: 30,
            redisBlockedWarning: 10,
            redisBlockedCritical: 50,
            redisRejectedWarningPerMinute: 0,
            redisRejectedCriticalPerMinute: 10,
        },
    },
    // Daily base backups, a week kept; WAL archived continuously, at the latest 5 minutes after
    // a commit (CloudNativePG's default archive_timeout). README: "Backups and restore".
    backups: { enabled: true, intervalHours: 24, keepBaseBackups: 7, archiveTimeoutSeconds: 300, memory: "256m" },
    credentials: {},
    // Off on a stack that publishes on the loopback address only; allowPublicBind needs it on.
    tls: { enabled: false, inNetwork: false, caFile: "/etc/zentoria/ca.crt", extraNames: [], validityDays: 365 },
};

export interface Deviation {
    /** Config key that differs from the spec. */
    key: string;
    spec: string;
    default: string;
    why: string;
}

export const DEVIATIONS: readonly Deviation[] = [
    {
        key: "roles.zentoria_app.connectionLimit",
        spec: "50 (section 2.5)",
        default: "95",
        why:
            "Section 2.2 gives zentoria_app pools of 20 + 10 (backend) + 5 + 15 (AI orchestrator) = 50 " +
            "server connections before any reserve; section 2.1's reserve_pool_size 5 per pool adds 4 x 5 = 20 (peak 70), " +
            "and 4 direct connections (migrations, LISTEN) make 74. A limit of 50 refuses connections under load; " +
            "95 keeps the peak at 78 % of the limit, under section 5.1's 80 % warning level.",
    },
    {
        key: "roles.n8n_app.connectionLimit",
        spec: "20 (section 2.5)",
        default: "35",
        why:
            "n8n's pools are 5 (zentoria_main) + 10 (n8n) = 15, peak 15 + 2 x 5 reserve = 25, plus 2 direct = 27 > 20. " +
            "35 keeps the peak at 77 %.",
    },
    {
        key: "roles.postgres.connectionLimit",
        spec: "10 (section 2.5)",
        default: "10, not applied",
        why:
            "postgres is a superuser and PostgreSQL ignores CONNECTION LIMIT for superusers; the program does not " +
            "run the ALTER ROLE and warns instead. max_connections counts what the superuser can open: the postgresql " +
            "provider's pools, the healthcheck and the role's directConnections.",
    },
    {
        key: "postgres.hostname",
        spec: "PostgreSQL and PgBouncer on one host, zentoria-db, ports 5432 and 6432 (sections 1, 2.4, 7: container 404)",
        default: "PgBouncer is zentoria-db:6432; PostgreSQL is zentoria-postgres:5432, in its own container",
        why:
            "Two Docker containers can share one host name only by sharing a network namespace (network_mode container:). " +
            "Measured on Docker 20.10: after the PostgreSQL container restarts, PgBouncer is left in the old namespace " +
            "and cannot reach it, and after a Docker daemon restart (every reboot) the sharing container fails with " +
            "\"cannot join network of a non running container\" and is never retried, whatever the restart policy. " +
            "Every application string of section 2.4 goes to zentoria-db:6432 unchanged; only the direct " +
            "(migration/LISTEN) strings name zentoria-postgres.",
    },
    {
        key: "services.backend.sslmode",
        spec: "sslmode=prefer (section 2.4)",
        default: "disable for the backend and n8n (Node.js, node-postgres); prefer for monitoring",
        why:
            "node-postgres 8 reads sslmode=prefer as verify-full, and the data tier's servers run without TLS on the " +
            "private Docker network, so the spec's string fails with \"The server does not support SSL connections\" " +
            "(measured with pg 8.23 against PgBouncer). libpq clients (psql, exporters) keep prefer.",
    },
    {
        key: "services.*.pools.*.alias",
        spec: "one database name per database (section 2.4)",
        default: "zentoria_main_n8n, zentoria_main_ai, zentoria_vectors_ai, monitoring",
        why:
            "PgBouncer sizes pools per (user, database) pair; backend and AI orchestrator both log in as zentoria_app, " +
            "so without their own alias they would share one pool and section 2.2's sizes could not be applied. " +
            "The backend keeps the spec's names; the others connect to their alias (see the connection string outputs).",
    },
    {
        key: "pgbouncer.maxDbConnections",
        spec: "50 per database (section 2.1)",
        default: "50 per PgBouncer database entry",
        why:
            "PgBouncer applies max_db_connections per [databases] entry, i.e. per alias. The budget shows both the " +
            "per-entry figure that PgBouncer enforces and the per-PostgreSQL-database sum.",
    },
    {
        key: "pgbouncer.queryTimeoutGraceSeconds",
        spec: "query timeout 30 s (section 6.1)",
        default: "statement_timeout 30 s per role; PgBouncer query_timeout 35 s",
        why:
            "PostgreSQL's statement_timeout cancels the query and keeps the connection; PgBouncer's query_timeout " +
            "closes the server connection. The grace lets the gentle one fire first.",
    },
];
