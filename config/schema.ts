// The shape of the stack config (`zentoria:*` keys in Pulumi.<stack>.yaml) after the
// defaults are merged in. Every object is strict, so an unknown or misspelt key is an error
// that names its path.
import { z } from "zod";

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();
const port = z.number().int().min(1).max(65535);

// A tag other than `latest`, or a digest: a mutable tag that is already present locally is
// never refreshed by the Docker provider, so "latest" silently means "whatever was there".
export const imageRef = z
    .string()
    .min(1)
    .refine((ref) => /@sha256:[0-9a-f]{64}$/.test(ref) || /:[\w][\w.-]{0,127}$/.test(ref.split("/").pop() ?? ""), {
        message: "must be pinned with a tag or a digest (e.g. name:1.2.3 or name@sha256:...)",
    })
    .refine((ref) => !/:latest$/.test(ref), { message: "must not use the mutable tag 'latest'" });

const hostname = z
    .string()
    .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be a DNS label (lower-case letters, digits, '-')");

// Names that end up in SQL identifiers, PgBouncer keys and Redis ACL names unquoted.
export const identifier = z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lower-case identifier ([a-z_][a-z0-9_]*, at most 63 characters)");

const ipAddress = z
    .string()
    .refine((value) => isIPv4(value) || value === "::" || value === "::1", {
        message: "must be an IPv4 address, '::' or '::1'",
    });

function isIPv4(value: string): boolean {
    const parts = value.split(".");
    return parts.length === 4 && parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255);
}

const settingValue = z.union([z.string(), z.number(), z.boolean()]);

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
        connectSeconds: positiveInt,
        querySeconds: positiveInt,
        idleSeconds: positiveInt,
    })
    .strict();

export const postgresSchema = z
    .object({
        image: imageRef,
        hostname,
        port,
        hostPort: port,
        pgvector: z.boolean(),
        maxConnections: positiveInt.optional(),
        superuserReservedConnections: nonNegativeInt,
        sharedBuffers: z.string().regex(/^\d+(kB|MB|GB)$/, "must be a size such as 128MB"),
        // What initdb would have written (the rendered postgresql.conf replaces initdb's).
        locale: z.string().regex(/^[A-Za-z]{1,8}(_[A-Za-z]{2})?(\.[A-Za-z0-9-]+)?$|^C(\.UTF-8|\.utf8)?$|^POSIX$/, "must be a locale name such as en_US.utf8 or C.UTF-8"),
        timezone: z.string().regex(/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/, "must be a time zone name such as Etc/UTC or Europe/Berlin"),
        textSearchConfig: z.string().regex(/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/, "must be a schema-qualified text search configuration such as pg_catalog.english"),
        // Unset: read from the image tag (pg15, 17-trixie, ...). Guards against major upgrades in place.
        majorVersion: z.number().int().min(13).max(18).optional(),
        memory: dockerSize,
        shmSize: dockerSize,
        settings: z.record(z.string().regex(/^[a-z][a-z0-9_.]*$/, "must be a PostgreSQL setting name"), settingValue),
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
        reservePoolTimeoutSeconds: positiveInt,
        serverLoginRetrySeconds: positiveInt,
        maxDbConnections: positiveInt,
        // Unset: PgBouncer's own default (0 before 1.24, 200 from 1.24).
        maxPreparedStatements: nonNegativeInt.optional(),
        ignoreStartupParameters: z.array(identifier),
        adminUser: identifier,
        consoleClients: nonNegativeInt,
        queryTimeoutGraceSeconds: nonNegativeInt,
        fileDescriptorLimit: positiveInt,
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
        rotation: nonNegativeInt,
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
        purpose: z.string().min(1),
        // Services whose .env gets this client's URL.
        services: z.array(identifier),
        // What the client's user may do: data commands, a job queue's, or publish/subscribe only.
        access: z.enum(["data", "queue", "pubsub"]),
        // Keys and channels the client's user may touch (Redis glob patterns, without ~ or &).
        keyPatterns: z.array(z.string().regex(/^[A-Za-z0-9_:.*?{}\[\]-]{1,128}$/, "must be a Redis key pattern such as cache:* or *")),
        channelPatterns: z.array(z.string().regex(/^[A-Za-z0-9_:.*?{}\[\]-]{1,128}$/, "must be a Redis channel pattern such as events:* or *")),
    })
    .strict();

export const redisSchema = z
    .object({
        image: imageRef,
        hostname,
        port,
        hostPort: port,
        maxclients: positiveInt,
        databases: positiveInt,
        appendonly: z.boolean(),
        maxmemory: z.string().regex(/^(0|\d+(kb|mb|gb))$/i, "must be 0 or a size such as 256mb"),
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
        tcpKeepaliveSeconds: nonNegativeInt,
        // The container's nofile limit: maxclients can be raised live up to it (less 32 for Redis' own).
        fileDescriptorLimit: positiveInt,
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
        timeoutSeconds: positiveInt,
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
        postgres: z.record(identifier, credentialValue).optional(),
        pgbouncerAdmin: credentialValue.optional(),
        redis: z.record(identifier, credentialValue).optional(),
        qdrantApiKey: credentialValue.optional(),
        qdrantReadOnlyApiKey: credentialValue.optional(),
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
        roles: z.record(identifier, roleSchema),
        databases: z.record(identifier, databaseSchema),
        services: z.record(identifier, serviceSchema),
        redis: redisSchema,
        qdrant: qdrantSchema,
        credentials: credentialsSchema,
    })
    .strict();

export type StackConfig = z.infer<typeof stackConfigSchema>;
export type RoleAccess = z.infer<typeof roleAccessSchema>;
export type PoolMode = z.infer<typeof poolModeSchema>;
