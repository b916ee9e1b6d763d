// The shape of the stack config (`zentoria:*` keys in Pulumi.<stack>.yaml) after the
// defaults are merged in. Every object is strict, so an unknown or misspelt key is an error
// that names its path.
import { z } from "zod";
import { INT_MAX, MAX_OPEN_FILES, MAX_PORT, MAX_REDIS_DATABASES, MAX_TIMEOUT_SECONDS, REDIS_RESERVED_FDS } from "./limits";
import { SETTING_NAME } from "./postgresSettings";

// Every count is a C int on the server that reads it (limits.ts INT_MAX).
const positiveInt = z.number().int().positive().max(INT_MAX);
const nonNegativeInt = z.number().int().nonnegative().max(INT_MAX);
const port = z.number().int().min(1).max(MAX_PORT);
const positiveSeconds = z.number().int().positive().max(MAX_TIMEOUT_SECONDS);
const nonNegativeSeconds = z.number().int().nonnegative().max(MAX_TIMEOUT_SECONDS);

// github.com/distribution/reference regexp.go: what Docker accepts as an image reference.
const IMAGE_PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
const IMAGE_DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const IMAGE_DOMAIN = `(?:${IMAGE_DOMAIN_COMPONENT}(?:\\.${IMAGE_DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const IMAGE_NAME = `(?:${IMAGE_DOMAIN}/)?${IMAGE_PATH_COMPONENT}(?:/${IMAGE_PATH_COMPONENT})*`;
const IMAGE_REFERENCE = new RegExp(`^(${IMAGE_NAME})(?::([\\w][\\w.-]{0,127}))?(?:@(sha256:[0-9a-f]{64}))?$`);
/** reference.go NameTotalLengthMax. */
const MAX_IMAGE_NAME_LENGTH = 255;

/** Name, tag and digest of a Docker image reference, or undefined when Docker would refuse it. */
export function parseImageReference(ref: string): { name: string; tag?: string; digest?: string } | undefined {
    const match = IMAGE_REFERENCE.exec(ref);
    if (!match || match[1].length > MAX_IMAGE_NAME_LENGTH) {
        return undefined;
    }
    return { name: match[1], tag: match[2], digest: match[3] };
}

// A tag other than `latest`, or a digest: a mutable tag that is already present locally is
// never refreshed by the Docker provider, so "latest" silently means "whatever was there".
export const imageRef = z.string().superRefine((ref, context) => {
    const parsed = parseImageReference(ref);
    const problem = !parsed
        ? "must be a Docker image reference (lower-case name, optional registry, :tag or @sha256:digest)"
        : parsed.tag === undefined && parsed.digest === undefined
          ? "must be pinned with a tag or a digest (e.g. name:1.2.3 or name@sha256:...)"
          : parsed.tag === "latest"
            ? "must not use the mutable tag 'latest'"
            : undefined;
    if (problem) {
        context.addIssue({ code: z.ZodIssueCode.custom, message: problem });
    }
});

// A network alias: one DNS label (RFC 1123), which Docker's embedded DNS answers.
const hostname = z
    .string()
    .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be a DNS label (lower-case letters, digits, '-', at most 63)");

// Names that end up in SQL identifiers, PgBouncer keys and Redis ACL names unquoted. 63 is
// PostgreSQL's NAMEDATALEN - 1: longer names are truncated by the server.
export const identifier = z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case identifier ([a-z_][a-z0-9_]*, at most 63 characters)");

// user.c CreateRole / gram.y RoleSpec: "role name ... is reserved" for public, none and pg_*;
// initdb refuses a pg_ superuser name too.
export const roleName = identifier
    .refine((name) => !name.startsWith("pg_"), { message: "must not start with pg_: PostgreSQL reserves those role names" })
    .refine((name) => name !== "public" && name !== "none", { message: "is a role name PostgreSQL reserves" });

/** Each service's .env is an output named after the service; the operators' one is `operators`. */
export const serviceName = identifier.refine((name) => name !== "operators", { message: "is the name of the operators' .env file" });

const ipAddress = z
    .string()
    .refine((value) => isIPv4(value) || value === "::" || value === "::1", {
        message: "must be an IPv4 address, '::' or '::1'",
    });

function isIPv4(value: string): boolean {
    const parts = value.split(".");
    return parts.length === 4 && parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255);
}

const singleLine = (what: string) => z.string().refine((text) => !/[\r\n\0]/.test(text), { message: `${what} must be one line without NUL characters` });

const settingValue = z.union([singleLine("a setting's value"), z.number().finite(), z.boolean()]);

// Docker's size notation (bytes, or b/k/m/g suffixes), for memory limits and /dev/shm.
const dockerSize = z.string().regex(/^[1-9][0-9]*[bkmg]?$/, "must be a size such as 512m or 2g");

// Limits every container gets; each server's own memory limit lives in its section.
export const containersSchema = z
    .object({
        logMaxSize: dockerSize,
        logMaxFiles: z.number().int().min(1).max(100),
        readOnlyRootFilesystem: z.boolean(),
    })
    .strict();

export const timeoutsSchema = z
    .object({
        connectSeconds: positiveSeconds,
        querySeconds: positiveSeconds,
        idleSeconds: positiveSeconds,
    })
    .strict();

export const postgresSchema = z
    .object({
        image: imageRef,
        hostname,
        port,
        hostPort: port,
        // Unset: read from the image tag (pg15, 17-trixie, 15.4); selects the settings table.
        majorVersion: z.number().int().min(10).max(99).optional(),
        pgvector: z.boolean(),
        // Ranges and units: PostgreSQL's own (postgresSettings.ts), checked in validate.ts.
        maxConnections: positiveInt.optional(),
        superuserReservedConnections: nonNegativeInt,
        sharedBuffers: singleLine("a size"),
        // What initdb would have written (the rendered postgresql.conf replaces initdb's).
        locale: z.string().regex(/^[A-Za-z]{1,8}(_[A-Za-z]{2})?(\.[A-Za-z0-9-]+)?$|^C(\.UTF-8|\.utf8)?$|^POSIX$/, "must be a locale name such as en_US.utf8 or C.UTF-8"),
        timezone: z.string().regex(/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/, "must be a time zone name such as Etc/UTC or Europe/Berlin"),
        textSearchConfig: z.string().regex(/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/, "must be a schema-qualified text search configuration such as pg_catalog.english"),
        memory: dockerSize,
        shmSize: dockerSize,
        settings: z.record(z.string().regex(SETTING_NAME, "must be a PostgreSQL setting name (name or extension.name, lower case)"), settingValue),
        retainDataOnDestroy: z.boolean(),
    })
    .strict();

export const poolModeSchema = z.enum(["session", "transaction", "statement"]);

export const pgbouncerSchema = z
    .object({
        image: imageRef,
        hostname,
        port,
        hostPort: port,
        poolMode: poolModeSchema,
        maxClientConn: positiveInt,
        defaultPoolSize: positiveInt,
        minPoolSize: nonNegativeInt,
        reservePoolSize: nonNegativeInt,
        reservePoolTimeoutSeconds: positiveSeconds,
        serverLoginRetrySeconds: positiveSeconds,
        maxDbConnections: positiveInt,
        // Unset: 200 for an image tagged 1.22.1 or later, else not rendered (config/validate.ts).
        maxPreparedStatements: nonNegativeInt.optional(),
        ignoreStartupParameters: z.array(identifier),
        adminUser: identifier,
        consoleClients: nonNegativeInt,
        queryTimeoutGraceSeconds: nonNegativeSeconds,
        fileDescriptorLimit: positiveInt.max(MAX_OPEN_FILES, `must be at most ${MAX_OPEN_FILES}, Linux's limit on open files (fs.nr_open)`),
        memory: dockerSize,
    })
    .strict();

// superuser: the bootstrap superuser the provider logs in as (its CONNECTION LIMIT cannot bind);
// application: owns or writes the databases its services' pools use; readonly: SELECT on every
// application database; monitoring: member of pg_monitor, PgBouncer stats user.
export const roleAccessSchema = z.enum(["superuser", "application", "readonly", "monitoring"]);

export const roleSchema = z
    .object({
        access: roleAccessSchema,
        connectionLimit: positiveInt,
        directConnections: nonNegativeInt,
        // Raise by one to give the role a new password (and verifier) on the next `pulumi up`.
        rotation: nonNegativeInt.default(0),
    })
    .strict();

export const databaseSchema = z
    .object({
        owner: identifier,
        vectorExtension: z.boolean(),
    })
    .strict();

const envName = z.string().regex(/^[A-Z][A-Z0-9_]*$/, "must be an environment variable name (A-Z, 0-9, _)");

export const poolSchema = z
    .object({
        alias: identifier,
        // The variable the service reads; "url" gives a connection URL, "n8n" n8n's DB_POSTGRESDB_* set.
        env: envName,
        format: z.enum(["url", "n8n"]),
        poolSize: positiveInt,
        maxClientConnections: positiveInt,
    })
    .strict();

export const serviceSchema = z
    .object({
        role: identifier,
        // libpq URLs (postgresql://) or SQLAlchemy's asyncpg dialect (postgresql+asyncpg://).
        driver: z.enum(["libpq", "asyncpg"]),
        sslmode: z.enum(["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]),
        pools: z.record(identifier, poolSchema),
    })
    .strict();

export const redisClientSchema = z
    .object({
        user: identifier,
        database: nonNegativeInt,
        maxConnections: positiveInt,
        purpose: z
            .string()
            .min(1)
            .max(200)
            .regex(/^[\x20-\x7e]+$/, "must be one line of printable ASCII"),
        // Services whose .env gets this client's URL.
        services: z.array(identifier),
        // What the client's user may do: data commands, a job queue's, or publish/subscribe only.
        access: z.enum(["data", "queue", "pubsub"]).default("data"),
        // Keys and channels the client's user may touch (Redis glob patterns, without ~ or &).
        keyPatterns: z.array(z.string().regex(/^[A-Za-z0-9_:.*?{}\[\]-]{1,128}$/, "must be a Redis key pattern such as cache:* or *")).default(["*"]),
        channelPatterns: z.array(z.string().regex(/^[A-Za-z0-9_:.*?{}\[\]-]{1,128}$/, "must be a Redis channel pattern such as events:* or *")).default([]),
    })
    .strict();

export const redisSchema = z
    .object({
        image: imageRef,
        hostname,
        port,
        hostPort: port,
        // Docker's nofile limit is maxclients plus Redis' own descriptors, at most fs.nr_open.
        maxclients: positiveInt.max(MAX_OPEN_FILES - REDIS_RESERVED_FDS, `must be at most ${MAX_OPEN_FILES - REDIS_RESERVED_FDS}: with Redis' ${REDIS_RESERVED_FDS} own descriptors, Linux's limit on open files`),
        databases: positiveInt.max(MAX_REDIS_DATABASES, `must be at most ${MAX_REDIS_DATABASES}: Redis allocates every database at start-up`),
        appendonly: z.boolean(),
        // Bounds and units in validate.ts (Redis' memtoull).
        maxmemory: singleLine("a size"),
        maxmemoryPolicy: z.enum([
            "noeviction",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
        ]),
        tcpKeepaliveSeconds: nonNegativeSeconds,
        // The container's nofile limit: maxclients can be raised live up to it (less 32 for Redis' own).
        fileDescriptorLimit: positiveInt.max(MAX_OPEN_FILES, `must be at most ${MAX_OPEN_FILES}, Linux's limit on open files (fs.nr_open)`),
        memory: dockerSize,
        warningClients: positiveInt,
        criticalClients: positiveInt,
        clients: z.record(identifier, redisClientSchema),
        retainDataOnDestroy: z.boolean(),
    })
    .strict();

export const qdrantOperationSchema = z
    .object({
        concurrency: positiveInt,
        timeoutSeconds: positiveSeconds,
    })
    .strict();

export const qdrantSchema = z
    .object({
        enabled: z.boolean(),
        image: imageRef,
        hostname,
        httpPort: port,
        grpcPort: port,
        hostHttpPort: port,
        hostGrpcPort: port,
        httpMaxSockets: positiveInt,
        httpMaxFreeSockets: nonNegativeInt,
        memory: dockerSize,
        services: z.array(identifier),
        operations: z
            .object({
                vectorSearch: qdrantOperationSchema,
                batchUpsert: qdrantOperationSchema,
                collectionOperations: qdrantOperationSchema,
            })
            .strict(),
        retainDataOnDestroy: z.boolean(),
    })
    .strict();

// A credential given in config instead of generated. ASCII-only keeps SASLprep the identity
// (so the SCRAM verifier we compute equals the server's); no quotes, spaces, '$', '#' or '\'
// keeps it safe inside .env files and config files without a second escaping scheme.
export const credentialValue = z
    .string()
    .min(12, "must be at least 12 characters")
    .max(128, "must be at most 128 characters")
    .regex(/^[!%&()*+,\-./0-9:;<=>?@A-Z[\]^_a-z{|}~]+$/, "must be printable ASCII without spaces, quotes, '$', '#', '`' or '\\'");

export const credentialsSchema = z
    .object({
        postgres: z.record(roleName, credentialValue).optional(),
        pgbouncerAdmin: credentialValue.optional(),
        redis: z.record(identifier, credentialValue).optional(),
        qdrantApiKey: credentialValue.optional(),
        qdrantReadOnlyApiKey: credentialValue.optional(),
    })
    .strict();

const percent = z.number().int().min(1).max(100);
const nonNegativeCount = z.number().int().nonnegative().max(INT_MAX);

/**
 * Section 5's warning and critical levels, one key each: the alert rules (monitoring) and
 * `npm run status` read the same keys. Percentages are of the limit each figure is measured
 * against (README: "Monitoring"); Redis' connected_clients levels are redis.warningClients and
 * redis.criticalClients (the connection budget reads them too).
 */
export const thresholdsSchema = z
    .object({
        pgbouncerClientsWarningPercent: percent,
        pgbouncerClientsCriticalPercent: percent,
        pgbouncerServersWarningPercent: percent,
        pgbouncerServersCriticalPercent: percent,
        pgbouncerWaitWarningMs: positiveInt,
        pgbouncerWaitCriticalMs: positiveInt,
        /** Warning when more than this many pool errors happened in the last minute. */
        pgbouncerErrorsWarningPerMinute: nonNegativeCount,
        pgbouncerErrorsCriticalPerMinute: positiveInt,
        postgresConnectionsWarningPercent: percent,
        postgresConnectionsCriticalPercent: percent,
        /** Section 5.2: a query running longer than this is reported. */
        longQuerySeconds: positiveInt.max(MAX_TIMEOUT_SECONDS),
        redisBlockedWarning: nonNegativeCount,
        redisBlockedCritical: positiveInt,
        redisRejectedWarningPerMinute: nonNegativeCount,
        redisRejectedCriticalPerMinute: positiveInt,
    })
    .strict();

/** Prometheus evaluates "per minute" as the growth over the last minute: two samples must fit in it. */
export const MAX_SCRAPE_INTERVAL_SECONDS = 30;

export const monitoringSchema = z
    .object({
        /** Exporters, Prometheus and the alert rules of section 5 (README: "Monitoring"). */
        enabled: z.boolean(),
        /** The PostgreSQL role the exporters log in as (access `monitoring`; PgBouncer's stats user). */
        role: identifier,
        scrapeIntervalSeconds: z.number().int().min(1).max(MAX_SCRAPE_INTERVAL_SECONDS),
        evaluationIntervalSeconds: z.number().int().min(1).max(300),
        retainDataOnDestroy: z.boolean(),
        prometheus: z
            .object({
                image: imageRef,
                hostPort: port,
                memory: dockerSize,
                retentionDays: z.number().int().min(1).max(3650),
            })
            .strict(),
        alertmanager: z
            .object({
                enabled: z.boolean(),
                image: imageRef,
                hostPort: port,
                memory: dockerSize,
            })
            .strict(),
        exporters: z
            .object({
                pgbouncerImage: imageRef,
                postgresImage: imageRef,
                redisImage: imageRef,
                memory: dockerSize,
            })
            .strict(),
        thresholds: thresholdsSchema,
    })
    .strict();

// TLS (issue 11): the servers speak TLS with certificates from a CA the stack generates.
// Required when ports are published beyond the Docker host (allowPublicBind).
const tlsName = z
    .string()
    .refine((name) => isIPv4(name) || /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(name), {
        message: "must be a DNS name (lower case) or an IPv4 address",
    });

export const tlsSchema = z
    .object({
        enabled: z.boolean(),
        // Also inside the stack's network: clients there must use TLS, PgBouncer verifies PostgreSQL.
        inNetwork: z.boolean(),
        // Where clients find the CA certificate (libpq's sslrootcert, PGSSLROOTCERT, NODE_EXTRA_CA_CERTS).
        caFile: z.string().regex(/^\/[A-Za-z0-9_./-]{1,255}$/, "must be an absolute path of letters, digits, '_', '.', '/' or '-'"),
        // More names the published ports are reached by (a DNS name of the Docker host, its other addresses).
        extraNames: z.array(tlsName),
        validityDays: z.number().int().min(30).max(3650),
    })
    .strict();

// A directory on the Docker host (a bind mount instead of the backup volume): absolute, no
// "..", nothing Docker's -v syntax or a shell would split ("," ":" spaces, quotes).
const hostDirectory = z
    .string()
    .regex(/^\/[A-Za-z0-9._\/-]*[A-Za-z0-9._-]$/, "must be an absolute directory path of letters, digits, '.', '_', '-' and '/'")
    .refine((path) => !path.split("/").includes(".."), { message: "must not contain '..'" });

/** README: "Backups and restore". */
export const backupsSchema = z
    .object({
        enabled: z.boolean(),
        /** Hours between two scheduled backups (base backup, Redis RDB, Qdrant snapshot). */
        intervalHours: z.number().int().min(1).max(24 * 366),
        /** Base backups (and Redis and Qdrant copies) kept; the WAL archive reaches back to the oldest kept base backup. */
        keepBaseBackups: z.number().int().min(1).max(1000),
        /** archive_timeout: the longest a committed transaction waits for its WAL segment to be archived. */
        archiveTimeoutSeconds: positiveSeconds,
        hostDirectory: hostDirectory.optional(),
        memory: dockerSize,
    })
    .strict();

export const stackConfigSchema = z
    .object({
        prefix: z.string().regex(/^[a-z][a-z0-9-]{0,30}[a-z0-9]$/, "must be 2-32 lower-case letters, digits or '-'"),
        bindAddress: ipAddress,
        allowPublicBind: z.boolean(),
        timeouts: timeoutsSchema,
        containers: containersSchema,
        postgres: postgresSchema,
        pgbouncer: pgbouncerSchema,
        roles: z.record(roleName, roleSchema),
        databases: z.record(identifier, databaseSchema),
        services: z.record(serviceName, serviceSchema),
        redis: redisSchema,
        qdrant: qdrantSchema,
        monitoring: monitoringSchema,
        backups: backupsSchema,
        credentials: credentialsSchema,
        tls: tlsSchema,
    })
    .strict();

export type StackConfig = z.infer<typeof stackConfigSchema>;
export type RoleAccess = z.infer<typeof roleAccessSchema>;
export type PoolMode = z.infer<typeof poolModeSchema>;
export type Thresholds = z.infer<typeof thresholdsSchema>;
export type TlsConfig = z.infer<typeof tlsSchema>;
