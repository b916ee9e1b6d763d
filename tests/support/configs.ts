// Stack configs for property tests, drawn from the schema (config/schema.ts) and PostgreSQL's
// settings table: valid-looking ones (overrides of the defaults with values from each key's
// domain, new roles, databases, services and Redis clients, postgresql.conf settings from the
// table) and mutated ones (boundaries, reserved words, separators, line breaks, unicode, huge
// and non-finite numbers, wrong shapes, unknown keys). Used by the unit property test (every
// accepted config renders) and the integration one (a sample of them starts real servers).
import fc from "fast-check";
import { DEFAULT_CONFIG } from "../../config/defaults";
import { INT_MAX, MAX_OPEN_FILES, MAX_TIMEOUT_SECONDS } from "../../config/limits";
import { PostgresSettingRow, PRELOADABLE_LIBRARIES, PROGRAM_SETTINGS, REFUSED_SETTINGS, settingsTable } from "../../config/postgresSettings";

export type Overrides = Record<string, unknown>;

const identifier = fc.stringMatching(/^[a-z_][a-z0-9_]{0,14}$/);
const dnsLabel = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/);
// Random names, and names the program writes itself, which must not be taken twice.
const envName = fc.oneof(
    fc.stringMatching(/^[A-Z][A-Z0-9_]{0,14}$/),
    fc.constantFrom("DATABASE_URL", "DIRECT_DATABASE_URL", "DATABASE_POOL_MAX", "REDIS_HOST", "DB_TYPE", "QDRANT_URL", "REDIS_CACHE_URL", "X_URL"),
);
const port = fc.oneof(fc.integer({ min: 1024, max: 65535 }), fc.constantFrom(1, 80, 65535));
const seconds = fc.oneof(fc.integer({ min: 1, max: 600 }), fc.constantFrom(1, MAX_TIMEOUT_SECONDS));
const credential = fc.stringMatching(/^[A-Za-z0-9!%&()*+,\-./:;<=>?@[\]^_{|}~]{12,40}$/);

const POSTGRES_IMAGES = [
    "pgvector/pgvector:0.8.1-pg15-bookworm",
    "postgres:15.4-bookworm",
    "zentoria-ci/postgres:15-bookworm",
    "registry.example.com:5000/team/postgres:15",
    `postgres:15@sha256:${"a".repeat(64)}`,
];
const PGBOUNCER_IMAGES = ["ghcr.io/cloudnative-pg/pgbouncer:1.26.1", "zentoria-ci/pgbouncer:1.18.0", "edoburu/pgbouncer:v1.24.1-p0", "bitnami/pgbouncer:1.21.0"];
const REDIS_IMAGES = ["redis:7.4.6-bookworm", "zentoria-ci/redis:7.0.15", "redis:7.0"];
const QDRANT_IMAGES = ["qdrant/qdrant:v1.15.4", `qdrant/qdrant@sha256:${"b".repeat(64)}`];

/** A size PostgreSQL reads, between `min` and `max` kB. */
function postgresSize(minKb: number, maxKb: number): fc.Arbitrary<string> {
    return fc.integer({ min: minKb, max: maxKb }).chain((kb) =>
        fc.constantFrom(
            `${kb}kB`,
            ...(kb % 1024 === 0 ? [`${kb / 1024}MB`] : []),
            ...(kb % (1024 * 1024) === 0 ? [`${kb / 1024 / 1024}GB`] : []),
            ...(kb % 8 === 0 ? [`${kb * 1024}B`] : []),
        ),
    );
}

const redisSize = fc.oneof(
    fc.constant("0"),
    fc.integer({ min: 1, max: 4096 }).chain((n) => fc.constantFrom(`${n}mb`, `${n}MB`, `${n * 1024}kb`, `${n}m`, `${n * 1024 * 1024}`)),
    fc.integer({ min: 1, max: 8 }).map((n) => `${n}gb`),
);

/**
 * Settings whose cost the Docker host pays at start-up (shared memory, processes): the server
 * takes their whole range, the host does not, and the plan cannot see the host. Drawn up to
 * these values, which any machine that runs the stack has room for.
 */
export const HOST_SIZED_SETTINGS: Readonly<Record<string, number>> = {
    max_locks_per_transaction: 1024,
    max_pred_locks_per_transaction: 1024,
    max_pred_locks_per_relation: 1024,
    max_prepared_transactions: 200,
    max_worker_processes: 64,
    autovacuum_max_workers: 32,
    max_wal_senders: 32,
    max_replication_slots: 32,
    max_logical_replication_workers: 32,
    wal_buffers: 8192,
    track_activity_query_size: 65536,
    min_dynamic_shared_memory: 64,
    max_files_per_process: 65536,
    huge_page_size: 0,
    temp_buffers: 131072,
    max_stack_depth: 7680,
};

/**
 * String settings the server checks against what the image has (locales, time zones, file
 * paths, standby syntax): only these values are drawn for them; any other string setting is
 * left out of the generator.
 */
const STRING_VALUES: Readonly<Record<string, readonly string[]>> = {
    application_name: ["zentoria", "a b", "x'y", "back\\slash"],
    cluster_name: ["zentoria", "prod-1"],
    log_line_prefix: ["%m [%p] ", "%t %u@%d "],
    search_path: ['"$user", public', "public"],
    timezone: ["UTC", "Europe/Berlin", "America/New_York"],
    log_timezone: ["UTC", "Asia/Tokyo"],
    datestyle: ["ISO, MDY", "SQL, DMY"],
    lc_messages: ["C", "C.UTF-8"],
    lc_monetary: ["C"],
    lc_numeric: ["C", "POSIX"],
    lc_time: ["C"],
    log_destination: ["stderr", "stderr,csvlog", "jsonlog"],
    archive_command: ["true", "/bin/true %p"],
    shared_preload_libraries: PRELOADABLE_LIBRARIES,
    session_preload_libraries: ["auto_explain", "pg_prewarm"],
    default_text_search_config: ["pg_catalog.english", "pg_catalog.simple"],
    log_directory: ["log", "pg_log"],
    log_filename: ["postgresql-%a.log"],
    bytea_output: ["hex"],
};

function isDrawable(row: PostgresSettingRow): boolean {
    const name = row.name.toLowerCase();
    if (PROGRAM_SETTINGS[name] || REFUSED_SETTINGS[name] || name.startsWith("ssl") || row.context === "internal") {
        return false;
    }
    return row.vartype !== "string" || STRING_VALUES[name] !== undefined;
}

function withUnit(value: number, unit: string | null): fc.Arbitrary<string | number> {
    if (unit === "kB" && value % 1024 === 0 && value > 0) {
        return fc.constantFrom(value, `${value}kB`, `${value / 1024}MB`);
    }
    if (unit === "ms" && value % 1000 === 0 && value > 0) {
        return fc.constantFrom(value, `${value}ms`, `${value / 1000}s`);
    }
    if (unit === "s" && value % 60 === 0 && value > 0) {
        return fc.constantFrom(value, `${value}s`, `${value / 60}min`);
    }
    return fc.constant(value);
}

function settingValue(row: PostgresSettingRow): fc.Arbitrary<string | number | boolean> {
    const name = row.name.toLowerCase();
    switch (row.vartype) {
        case "bool":
            return fc.constantFrom(true, false, "on", "off", "yes", "0");
        case "enum":
            return fc.constantFrom(...(row.enumvals ?? []));
        case "integer": {
            const min = Number(row.min_val);
            const max = Math.min(Number(row.max_val), HOST_SIZED_SETTINGS[name] ?? Number(row.max_val));
            return fc.oneof(fc.constantFrom(min, Math.max(min, max)), fc.integer({ min, max: Math.max(min, max) })).chain((value) => withUnit(value, row.unit));
        }
        case "real": {
            const min = Number(row.min_val);
            const max = Math.min(Number(row.max_val), 1e6);
            return fc.oneof(fc.constantFrom(min, max), fc.double({ min, max, noNaN: true, noDefaultInfinity: true }));
        }
        case "string":
            return fc.constantFrom(...(STRING_VALUES[name] ?? [""]));
    }
}

/** Settings of `postgres.settings`, drawn from PostgreSQL's table of the major version. */
export function postgresSettingsArbitrary(major = 15): fc.Arbitrary<Record<string, string | number | boolean>> {
    const table = settingsTable(major);
    if (!table) {
        throw new Error(`no settings table for PostgreSQL ${major}`);
    }
    const rows = table.settings.filter(isDrawable);
    const entry = fc.constantFrom(...rows).chain((row) => settingValue(row).map((value) => [row.name.toLowerCase(), value] as const));
    const custom = fc.tuple(identifier, identifier, fc.oneof(fc.string({ maxLength: 10 }).filter((text) => !/[\r\n\0]/.test(text)), fc.integer())).map(
        ([extension, name, value]) => [`${extension}.${name}`, value] as const,
    );
    return fc.array(fc.oneof({ weight: 5, arbitrary: entry }, { weight: 1, arbitrary: custom }), { maxLength: 6 }).map((entries) => Object.fromEntries(entries));
}

const roleEntry = fc.record({
    access: fc.constantFrom("application", "readonly", "monitoring"),
    connectionLimit: fc.integer({ min: 1, max: 200 }),
    directConnections: fc.integer({ min: 0, max: 10 }),
});

const poolEntry = (alias: fc.Arbitrary<string>) =>
    fc.record({
        alias,
        env: envName,
        format: fc.constant("url"),
        poolSize: fc.integer({ min: 1, max: 20 }),
        maxClientConnections: fc.integer({ min: 1, max: 60 }),
    });

/** Overrides of the defaults drawn from each key's domain: most pass, some do not. */
export function validLookingConfig(): fc.Arbitrary<Overrides> {
    const sections = {
        prefix: fc.stringMatching(/^[a-z][a-z0-9-]{0,12}[a-z0-9]$/),
        bindAddress: fc.constantFrom("127.0.0.1", "127.0.0.2", "::1"),
        timeouts: fc.record({ connectSeconds: seconds, querySeconds: seconds, idleSeconds: seconds }, { requiredKeys: [] }),
        postgres: fc.record(
            {
                image: fc.constantFrom(...POSTGRES_IMAGES),
                hostname: dnsLabel,
                hostPort: port,
                pgvector: fc.boolean(),
                maxConnections: fc.integer({ min: 100, max: 2000 }),
                superuserReservedConnections: fc.integer({ min: 0, max: 10 }),
                sharedBuffers: postgresSize(128, 512 * 1024),
                settings: postgresSettingsArbitrary(),
                retainDataOnDestroy: fc.boolean(),
            },
            { requiredKeys: [] },
        ),
        pgbouncer: fc.record(
            {
                image: fc.constantFrom(...PGBOUNCER_IMAGES),
                hostname: dnsLabel,
                hostPort: port,
                poolMode: fc.constantFrom("session", "transaction", "statement"),
                maxClientConn: fc.integer({ min: 200, max: 10000 }),
                defaultPoolSize: fc.integer({ min: 1, max: 100 }),
                minPoolSize: fc.integer({ min: 0, max: 5 }),
                reservePoolSize: fc.integer({ min: 0, max: 10 }),
                reservePoolTimeoutSeconds: seconds,
                serverLoginRetrySeconds: seconds,
                maxDbConnections: fc.integer({ min: 30, max: 500 }),
                maxPreparedStatements: fc.integer({ min: 0, max: 1000 }),
                ignoreStartupParameters: fc.array(fc.constantFrom("extra_float_digits", "options", "search_path"), { maxLength: 3 }).map((items) => [...new Set(items)]),
                adminUser: identifier,
                consoleClients: fc.integer({ min: 0, max: 20 }),
                queryTimeoutGraceSeconds: fc.integer({ min: 0, max: 60 }),
                fileDescriptorLimit: fc.oneof(fc.integer({ min: 1024, max: 65536 }), fc.constant(MAX_OPEN_FILES)),
            },
            { requiredKeys: [] },
        ),
        roles: fc.record(
            {
                zentoria_app: fc.record({ connectionLimit: fc.integer({ min: 60, max: 500 }), directConnections: fc.integer({ min: 0, max: 10 }) }, { requiredKeys: [] }),
                postgres: fc.record({ directConnections: fc.integer({ min: 0, max: 20 }) }, { requiredKeys: [] }),
                // Names chosen to meet the program's own: READONLY_ZENTORIA_MAIN_URL from two pairs.
                extra: fc.dictionary(fc.oneof(identifier, fc.constantFrom("readonly_zentoria", "postgres_superuser", "pgbouncer_stats")), roleEntry, { maxKeys: 2 }),
            },
            { requiredKeys: [] },
        ),
        databases: fc.dictionary(fc.oneof(identifier, fc.constantFrom("main", "superuser", "url_x")), fc.record({ owner: fc.constantFrom("zentoria_app", "n8n_app"), vectorExtension: fc.boolean() }), {
            maxKeys: 2,
        }),
        services: fc.record(
            {
                backend: fc.record(
                    { pools: fc.record({ zentoria_main: fc.record({ poolSize: fc.integer({ min: 1, max: 25 }), env: envName }, { requiredKeys: [] }) }, { requiredKeys: [] }) },
                    { requiredKeys: [] },
                ),
                monitoring: fc.constantFrom(null, undefined),
                added: fc.dictionary(
                    identifier,
                    fc.record({
                        role: fc.constantFrom("zentoria_app", "n8n_app"),
                        driver: fc.constantFrom("libpq", "asyncpg"),
                        sslmode: fc.constantFrom("disable", "allow", "prefer"),
                        pools: fc.dictionary(fc.constantFrom("zentoria_main", "n8n", "postgres"), poolEntry(identifier), { minKeys: 1, maxKeys: 2 }),
                    }),
                    { maxKeys: 1 },
                ),
            },
            { requiredKeys: [] },
        ),
        redis: fc.record(
            {
                image: fc.constantFrom(...REDIS_IMAGES),
                hostname: dnsLabel,
                hostPort: port,
                // Within the container's descriptor limit (20000 is what this machine's Docker allows).
                maxclients: fc.integer({ min: 1000, max: 19968 }),
                fileDescriptorLimit: fc.constant(20000),
                databases: fc.integer({ min: 6, max: 64 }),
                appendonly: fc.boolean(),
                maxmemory: redisSize,
                maxmemoryPolicy: fc.constantFrom("noeviction", "allkeys-lru", "volatile-ttl"),
                tcpKeepaliveSeconds: fc.integer({ min: 0, max: 3600 }),
                clients: fc.dictionary(
                    identifier,
                    fc.record({ user: identifier, database: fc.integer({ min: 0, max: 5 }), maxConnections: fc.integer({ min: 1, max: 50 }), purpose: fc.constantFrom("cache", "x"), services: fc.constant(["backend"]) }),
                    { maxKeys: 2 },
                ),
            },
            { requiredKeys: [] },
        ),
        qdrant: fc.record(
            { enabled: fc.boolean(), image: fc.constantFrom(...QDRANT_IMAGES), hostHttpPort: port, hostGrpcPort: port, httpMaxSockets: fc.integer({ min: 17, max: 200 }) },
            { requiredKeys: [] },
        ),
        credentials: fc.record(
            { postgres: fc.record({ zentoria_app: credential }, { requiredKeys: [] }), redis: fc.record({ backend: credential }, { requiredKeys: [] }), qdrantApiKey: credential },
            { requiredKeys: [] },
        ),
    };
    return fc.record(sections, { requiredKeys: [] }).map(flattenDraw);
}

/** The draw's helper groups (extra roles, added services) merged into the config's own shape. */
function flattenDraw(draw: Record<string, any>): Overrides {
    const config: Overrides = { ...draw };
    if (draw.roles) {
        const { extra = {}, ...named } = draw.roles;
        config.roles = { ...extra, ...named };
    }
    if (draw.services) {
        const { added = {}, monitoring, ...named } = draw.services;
        config.services = { ...added, ...named, ...(monitoring === null ? { monitoring: null } : {}) };
    }
    return config;
}

// ---------------------------------------------------------------- mutations

export const HOSTILE_STRINGS = [
    "",
    " ",
    "a\nb",
    "a\r\nb",
    "nul\0byte",
    "semi;colon",
    "hash#mark",
    "com,ma",
    "eq=ual",
    "quote'single",
    'quote"double',
    "back\\slash",
    "dollar$sign",
    "space inside",
    "é",
    "\u202eevil",
    "🐘",
    "pg_reserved",
    "public",
    "none",
    "default",
    "template0",
    "pgbouncer",
    "postgres",
    "operators",
    "include_dir",
    "latest",
    "name:latest",
    "UPPER",
    "x".repeat(64),
    "x".repeat(300),
    "%include /etc/passwd",
    "[section]",
    "*",
];

export const HOSTILE_NUMBERS = [0, -1, 1, 0.5, -0, 65535, 65536, INT_MAX, INT_MAX + 1, 2 ** 53, -(2 ** 31) - 1, 1e21, 1e308, Number.NaN, Infinity, -Infinity];

export const WRONG_SHAPES: unknown[] = [null, [], {}, [1, "x"], { unexpected: true }, true, "text", 42];

const hostileValue = fc.oneof(fc.constantFrom(...HOSTILE_STRINGS), fc.constantFrom(...HOSTILE_NUMBERS), fc.constantFrom(...WRONG_SHAPES), fc.string({ maxLength: 8 }), fc.string({ unit: "grapheme", maxLength: 4 }));

/** Every path of the default config down to its leaves (`["pgbouncer", "maxClientConn"]`). */
function defaultPaths(value: unknown, at: string[] = []): string[][] {
    if (value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length > 0) {
        return [at, ...Object.entries(value).flatMap(([key, child]) => defaultPaths(child, [...at, key]))];
    }
    return [at];
}

const PATHS = defaultPaths(DEFAULT_CONFIG).filter((path) => path.length > 0);

function setAt(target: Overrides, path: readonly string[], value: unknown): Overrides {
    const copy: Overrides = structuredCloneSafe(target);
    let node: Record<string, unknown> = copy;
    for (const key of path.slice(0, -1)) {
        const next = node[key];
        node[key] = next !== null && typeof next === "object" && !Array.isArray(next) ? next : {};
        node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]] = value;
    return copy;
}

function structuredCloneSafe(value: Overrides): Overrides {
    const clone = (item: unknown): unknown => {
        if (Array.isArray(item)) {
            return item.map(clone);
        }
        if (item !== null && typeof item === "object") {
            return Object.fromEntries(Object.entries(item).map(([key, child]) => [key, clone(child)]));
        }
        return item;
    };
    return clone(value) as Overrides;
}

const RECORDS = [["roles"], ["databases"], ["services"], ["redis", "clients"], ["postgres", "settings"], ["services", "backend", "pools"], ["credentials", "postgres"]];

const mutation: fc.Arbitrary<(config: Overrides) => Overrides> = fc.oneof(
    // A hostile value at a key the schema has.
    fc.tuple(fc.constantFrom(...PATHS), hostileValue).map(([path, value]) => (config: Overrides) => setAt(config, path, value)),
    // A hostile or reserved name as a map key, with a plausible or hostile value.
    fc.tuple(fc.constantFrom(...RECORDS), fc.constantFrom(...HOSTILE_STRINGS), fc.oneof(fc.constantFrom<unknown>(DEFAULT_CONFIG.roles.readonly, "on", 5), hostileValue)).map(
        ([path, key, value]) => (config: Overrides) => setAt(config, [...path, key], value),
    ),
    // An unknown key somewhere.
    fc.tuple(fc.constantFrom([] as string[], ...PATHS.filter((path) => path.length < 3)), fc.string({ minLength: 1, maxLength: 6 })).map(
        ([path, key]) => (config: Overrides) => setAt(config, [...path, `unknown_${key}`], 1),
    ),
);

/** A valid-looking config with one to three mutations. */
export function mutatedConfig(): fc.Arbitrary<Overrides> {
    return fc.tuple(validLookingConfig(), fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([config, mutations]) => mutations.reduce((current, mutate) => mutate(current), config));
}

export function anyConfig(): fc.Arbitrary<Overrides> {
    return fc.oneof({ weight: 1, arbitrary: validLookingConfig() }, { weight: 1, arbitrary: mutatedConfig() });
}
