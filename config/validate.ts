// Raw config -> validated StackConfig: defaults merged in, the schema applied, then the checks
// that span several keys. Every problem is collected; nothing stops at the first.
import { ZodIssue } from "zod";
import { checkBackups } from "./backups";
import { checkHostNames, checkPostgresBounds, checkRedisBounds } from "./bounds";
import { DEFAULT_CONFIG, DEFAULT_MAX_PREPARED_STATEMENTS } from "./defaults";
import { checkEnvNames } from "./envNames";
import { Problem, shown } from "./problems";
import { stackConfigSchema, StackConfig } from "./schema";
import { REDIS_RESERVED_FDS } from "./limits";
import { childPath, leafPaths, RawStackConfig } from "./source";

export interface ValidationResult {
    config?: StackConfig;
    problems: Problem[];
}

// initdb creates postgres, template0 and template1; pgbouncer is PgBouncer's admin console.
const RESERVED_DATABASE_NAMES = new Set(["postgres", "template0", "template1", "pgbouncer"]);
export const MAINTENANCE_DATABASE = "postgres";
/** Redis users the program always creates, besides the ones named by redis.clients. */
export const REDIS_SYSTEM_USERS = ["admin", "monitor", "healthcheck"] as const;
/** Redis' built-in user, which the rendered redis.conf switches off. */
const REDIS_DEFAULT_USER = "default";

function isPlainObject(value: unknown): value is Record<string, unknown> {
    return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * Objects merge key by key; anything else replaces the default. `null` removes a default
 * entry (for example `services: { monitoring: null }`).
 */
export function mergeOverDefaults(defaults: unknown, override: unknown): unknown {
    if (override === undefined) {
        return defaults;
    }
    if (isPlainObject(defaults) && isPlainObject(override)) {
        const merged: Record<string, unknown> = { ...defaults };
        for (const [key, value] of Object.entries(override)) {
            if (value === null) {
                delete merged[key];
            } else {
                merged[key] = mergeOverDefaults(defaults[key], value);
            }
        }
        return merged;
    }
    return override;
}

/** zod's own text, except where it would echo the value: that is shown escaped. */
function zodMessage(issue: ZodIssue): string {
    if (issue.code === "invalid_enum_value") {
        return `${shown(String(issue.received))} is not one of ${issue.options.map((option) => shown(String(option))).join(", ")}`;
    }
    if (issue.code === "invalid_union") {
        return "must be a string, a number or a boolean";
    }
    return issue.message;
}

function zodProblems(issues: readonly ZodIssue[], prefix: string): Problem[] {
    const problems: Problem[] = [];
    for (const issue of issues) {
        const base = issue.path.reduce<string>((path, step) => childPath(path, step), prefix);
        if (issue.code === "unrecognized_keys") {
            for (const unknownKey of issue.keys) {
                problems.push({ severity: "error", key: childPath(base, unknownKey), message: "unknown key" });
            }
        } else {
            problems.push({ severity: "error", key: base, message: zodMessage(issue) });
        }
    }
    return problems;
}

function isLoopback(address: string): boolean {
    return address === "::1" || address.startsWith("127.");
}

type Step = string | number;

/** The value at a path of steps (object keys, array indices) of an unvalidated value. */
function valueAtPath(value: unknown, path: readonly Step[]): unknown {
    return path.reduce<unknown>((node, step) => (node !== null && typeof node === "object" ? (node as Record<Step, unknown>)[step] : undefined), value);
}

/** A value at a dotted path of the merged (not yet validated) config. */
function valueAt(merged: Record<string, unknown>, dottedPath: string): unknown {
    return valueAtPath(merged, dottedPath.split("."));
}

/**
 * Reads ports and host names straight from the merged config, taking every value that is
 * itself well-formed, so a clash shows up even beside errors elsewhere in the same section.
 */
function checkPorts(merged: Record<string, unknown>, problems: Problem[]): void {
    const portAt = (key: string): Array<[string, number]> => {
        const value = valueAt(merged, key);
        return typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= 65535 ? [[key, value]] : [];
    };
    const nameAt = (key: string): Array<[string, string]> => {
        const value = valueAt(merged, key);
        return typeof value === "string" ? [[key, value]] : [];
    };
    const qdrantEnabled = valueAt(merged, "qdrant.enabled") !== false;
    reportDuplicates(
        [
            ...portAt("postgres.hostPort"),
            ...portAt("pgbouncer.hostPort"),
            ...portAt("redis.hostPort"),
            ...(qdrantEnabled ? [...portAt("qdrant.hostHttpPort"), ...portAt("qdrant.hostGrpcPort")] : []),
            ...(valueAt(merged, "monitoring.enabled") === true ? portAt("monitoring.prometheus.hostPort") : []),
            ...(valueAt(merged, "monitoring.enabled") === true && valueAt(merged, "monitoring.alertmanager.enabled") === true ? portAt("monitoring.alertmanager.hostPort") : []),
        ],
        "host port",
        problems,
    );
    reportDuplicates([...portAt("qdrant.httpPort"), ...portAt("qdrant.grpcPort")], "port on the Qdrant host", problems);
    reportDuplicates(
        [...nameAt("postgres.hostname"), ...nameAt("pgbouncer.hostname"), ...nameAt("redis.hostname"), ...nameAt("qdrant.hostname")],
        "host name",
        problems,
    );
    const bindAddress = valueAt(merged, "bindAddress");
    if (typeof bindAddress === "string" && !isLoopback(bindAddress) && valueAt(merged, "allowPublicBind") !== true) {
        problems.push({
            severity: "error",
            key: "bindAddress",
            message: `${shown(bindAddress)} is not a loopback address; set zentoria:allowPublicBind to true to publish the data tier beyond this machine`,
        });
    }
    checkTlsWhenPublic(merged, problems);
}

/** Issue 11: nothing is published beyond the Docker host in clear text. */
function checkTlsWhenPublic(merged: Record<string, unknown>, problems: Problem[]): void {
    const bindAddress = valueAt(merged, "bindAddress");
    const tlsEnabled = valueAt(merged, "tls.enabled");
    if (typeof bindAddress === "string" && !isLoopback(bindAddress) && valueAt(merged, "allowPublicBind") === true && tlsEnabled !== true) {
        problems.push({
            severity: "error",
            key: "tls.enabled",
            message: `must be true when the ports are published on ${shown(bindAddress)} (allowPublicBind): every published port speaks TLS`,
        });
    }
    if (valueAt(merged, "tls.inNetwork") === true && tlsEnabled !== true) {
        problems.push({ severity: "error", key: "tls.inNetwork", message: "needs tls.enabled: the servers speak TLS only when it is on" });
    }
}

function reportDuplicates<T>(entries: Array<[string, T]>, what: string, problems: Problem[]): void {
    const seen = new Map<T, string>();
    for (const [key, value] of entries) {
        const first = seen.get(value);
        if (first) {
            problems.push({ severity: "error", key, message: `${what} ${shown(value as string | number)} is already used by ${first}` });
        } else {
            seen.set(value, key);
        }
    }
}

function checkRolesAndDatabases(config: StackConfig, problems: Problem[]): void {
    const superusers = Object.entries(config.roles).filter(([, role]) => role.access === "superuser");
    if (superusers.length !== 1) {
        problems.push({
            severity: "error",
            key: "roles",
            message: `exactly one role must have access "superuser" (the one the provider logs in as), found ${superusers.length}`,
        });
    }
    for (const [name, database] of Object.entries(config.databases)) {
        if (RESERVED_DATABASE_NAMES.has(name)) {
            problems.push({ severity: "error", key: `databases.${name}`, message: `"${name}" is reserved by PostgreSQL or PgBouncer` });
        }
        const owner = config.roles[database.owner];
        if (!owner) {
            problems.push({ severity: "error", key: `databases.${name}.owner`, message: `role "${database.owner}" is not defined in roles` });
        } else if (owner.access !== "application") {
            problems.push({
                severity: "error",
                key: `databases.${name}.owner`,
                message: `role "${database.owner}" has access "${owner.access}"; a database owner must be an application role`,
            });
        }
    }
    if (config.pgbouncer.adminUser.startsWith("pg_") || config.pgbouncer.adminUser === "public") {
        problems.push({ severity: "error", key: "pgbouncer.adminUser", message: "is a role name PostgreSQL reserves; the monitoring tools log in to PgBouncer with it" });
    }
    if (config.roles[config.pgbouncer.adminUser]) {
        problems.push({
            severity: "error",
            key: "pgbouncer.adminUser",
            message: `"${config.pgbouncer.adminUser}" is also a PostgreSQL role; the admin console user must be PgBouncer's own`,
        });
    }
}

function checkServices(config: StackConfig, problems: Problem[]): void {
    const aliases = new Map<string, string[]>();
    for (const [serviceName, service] of Object.entries(config.services)) {
        const role = config.roles[service.role];
        if (!role) {
            problems.push({ severity: "error", key: `services.${serviceName}.role`, message: `role "${service.role}" is not defined in roles` });
        } else if (role.access === "superuser") {
            problems.push({
                severity: "error",
                key: `services.${serviceName}.role`,
                message: `role "${service.role}" is a superuser; services must not pool superuser connections`,
            });
        }
        if (["require", "verify-ca", "verify-full"].includes(service.sslmode) && !config.tls.enabled) {
            problems.push({
                severity: "error",
                key: `services.${serviceName}.sslmode`,
                message: `"${service.sslmode}" needs TLS, and the data tier's servers run without it (tls.enabled is false); use "disable" or "prefer"`,
            });
        }
        if (Object.values(service.pools).filter((pool) => pool.format === "n8n").length > 1) {
            problems.push({
                severity: "error",
                key: `services.${serviceName}.pools`,
                message: 'n8n reads one database from DB_POSTGRESDB_*: at most one pool per service can have format "n8n"',
            });
        }
        if (Object.keys(service.pools).length === 0) {
            problems.push({ severity: "error", key: `services.${serviceName}.pools`, message: "a service needs at least one pool" });
        }
        const envNames = new Map<string, string>();
        for (const [database, pool] of Object.entries(service.pools)) {
            const previous = envNames.get(pool.env);
            if (previous) {
                problems.push({
                    severity: "error",
                    key: `services.${serviceName}.pools.${database}.env`,
                    message: `${pool.env} is already the variable of ${previous} in the same service`,
                });
            }
            envNames.set(pool.env, `services.${serviceName}.pools.${database}`);
            const key = `services.${serviceName}.pools.${database}`;
            if (database !== MAINTENANCE_DATABASE && !config.databases[database]) {
                problems.push({ severity: "error", key, message: `database "${database}" is not defined in databases` });
            }
            if (pool.alias === "pgbouncer") {
                problems.push({ severity: "error", key: `${key}.alias`, message: `"pgbouncer" is PgBouncer's admin console` });
            }
            if (pool.alias !== database && (config.databases[pool.alias] || pool.alias === MAINTENANCE_DATABASE)) {
                problems.push({
                    severity: "error",
                    key: `${key}.alias`,
                    message: `alias "${pool.alias}" is the name of another database; clients would reach the wrong one`,
                });
            }
            aliases.set(pool.alias, [...(aliases.get(pool.alias) ?? []), key]);
        }
    }
    // Reported on every pool involved: either may be the one that was just changed.
    for (const [alias, keys] of aliases) {
        for (const key of keys.length > 1 ? keys : []) {
            const others = keys.filter((other) => other !== key).join(", ");
            problems.push({ severity: "error", key: `${key}.alias`, message: `alias "${alias}" is also used by ${others}` });
        }
    }
}

function checkRedis(config: StackConfig, problems: Problem[]): void {
    for (const [name, client] of Object.entries(config.redis.clients)) {
        if (client.database >= config.redis.databases) {
            problems.push({
                severity: "error",
                key: `redis.clients.${name}.database`,
                message: `database ${client.database} does not exist: redis.databases is ${config.redis.databases} (0-${config.redis.databases - 1})`,
            });
        }
        if ((REDIS_SYSTEM_USERS as readonly string[]).includes(client.user)) {
            problems.push({
                severity: "error",
                key: `redis.clients.${name}.user`,
                message: `"${client.user}" is reserved for the program's own Redis user`,
            });
        } else if (client.user === REDIS_DEFAULT_USER) {
            problems.push({
                severity: "error",
                key: `redis.clients.${name}.user`,
                message: `"${REDIS_DEFAULT_USER}" is Redis' built-in user, which the program switches off`,
            });
        }
    }
    const reportUnknownServices = (services: readonly string[], key: string) => {
        for (const service of services) {
            if (!config.services[service]) {
                problems.push({ severity: "error", key, message: `service "${service}" is not defined in services` });
            }
        }
    };
    for (const [name, client] of Object.entries(config.redis.clients)) {
        reportUnknownServices(client.services, `redis.clients.${name}.services`);
    }
    reportUnknownServices(config.qdrant.services, "qdrant.services");
    if (config.redis.maxclients + REDIS_RESERVED_FDS > config.redis.fileDescriptorLimit) {
        problems.push({
            severity: "error",
            key: "redis.fileDescriptorLimit",
            message: `must cover maxclients ${config.redis.maxclients} plus ${REDIS_RESERVED_FDS} for Redis itself (Redis lowers maxclients to fit otherwise)`,
        });
    }
    if (config.redis.criticalClients <= config.redis.warningClients) {
        problems.push({
            severity: "error",
            key: "redis.criticalClients",
            message: `must be above redis.warningClients (${config.redis.warningClients})`,
        });
    }
}

function checkCredentialsEncrypted(raw: RawStackConfig, problems: Problem[]): void {
    if (raw.values.credentials === undefined || raw.values.credentials === null) {
        return;
    }
    // Every leaf on its own: a plaintext value beside an encrypted one is still plaintext.
    for (const leaf of leafPaths(raw.values.credentials, "credentials")) {
        if (!raw.secretLeaves.has(leaf)) {
            const why = raw.secretLeavesUnknown ? ` (${raw.secretLeavesUnknown})` : "";
            problems.push({
                severity: "error",
                key: leaf,
                message: `must be stored encrypted${why}: set it with \`pulumi config set --secret --path 'zentoria:${leaf}' ...\``,
            });
        }
    }
}

function checkCredentials(config: StackConfig, problems: Problem[]): void {
    for (const role of Object.keys(config.credentials.postgres ?? {})) {
        if (!config.roles[role]) {
            problems.push({ severity: "error", key: `credentials.postgres.${role}`, message: `role "${role}" is not defined in roles` });
        }
    }
    const redisUsers = new Set<string>([...REDIS_SYSTEM_USERS, ...Object.values(config.redis.clients).map((client) => client.user)]);
    for (const user of Object.keys(config.credentials.redis ?? {})) {
        if (!redisUsers.has(user)) {
            problems.push({ severity: "error", key: `credentials.redis.${user}`, message: `Redis user ${shown(user)} is not used by redis.clients` });
        }
    }
}

/** `1.26.1` from `...pgbouncer:1.26.1` or `...:v1.26.1-p0`; undefined for digests or other tags. */
export function versionFromImageTag(image: string): [number, number, number] | undefined {
    const match = /:v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-_].*)?$/.exec(image);
    return match ? [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)] : undefined;
}

function atLeast(version: [number, number, number], minimum: [number, number, number]): boolean {
    for (let i = 0; i < 3; i++) {
        if (version[i] !== minimum[i]) {
            return version[i] > minimum[i];
        }
    }
    return true;
}

/** The first PgBouncer with protocol-level prepared statements in transaction mode (NEWS.md). */
const PREPARED_STATEMENTS_SINCE: [number, number, number] = [1, 21, 0];
/** 1.22.1 fixed COPY FROM STDIN leaking and misbehaving with prepared statements on (since 1.21.0). */
const PREPARED_STATEMENTS_DEFAULT_SINCE: [number, number, number] = [1, 22, 1];

/**
 * `max_prepared_statements` for the plan: the configured value, else the default for an image
 * whose tag says 1.22.1 or later; unset (not rendered) for older images and for references that
 * name no version (a digest): their PgBouncer might refuse the key.
 */
export function effectiveMaxPreparedStatements(pgbouncer: Pick<StackConfig["pgbouncer"], "image" | "maxPreparedStatements">): number | undefined {
    if (pgbouncer.maxPreparedStatements !== undefined) {
        return pgbouncer.maxPreparedStatements;
    }
    const version = versionFromImageTag(pgbouncer.image);
    return version && atLeast(version, PREPARED_STATEMENTS_DEFAULT_SINCE) ? DEFAULT_MAX_PREPARED_STATEMENTS : undefined;
}

function checkPgbouncerVersion(config: StackConfig, problems: Problem[]): void {
    const version = versionFromImageTag(config.pgbouncer.image);
    if (!version) {
        return;
    }
    const shown = version.join(".");
    // Any value, 0 included: PgBouncer before 1.21 refuses to start on an unknown parameter.
    if (config.pgbouncer.maxPreparedStatements !== undefined && !atLeast(version, PREPARED_STATEMENTS_SINCE)) {
        problems.push({
            severity: "error",
            key: "pgbouncer.maxPreparedStatements",
            message: `PgBouncer ${shown} (from pgbouncer.image) has no max_prepared_statements and refuses to start with it; it needs 1.21 or later (or leave it unset)`,
        });
    }
    // NEWS.md of PgBouncer 1.25.2 (2026-05-08): CVE-2026-6664..6667 (SCRAM parsing, KILL_CLIENT authorization).
    if (!atLeast(version, [1, 25, 2])) {
        problems.push({
            severity: "warning",
            key: "pgbouncer.image",
            message: `PgBouncer ${shown} predates 1.25.2, which fixes CVE-2026-6664 to 6667 (crashes from malformed SCRAM packets, KILL_CLIENT for non-admins)`,
        });
    }
}

function checkPostgres(config: StackConfig, problems: Problem[]): void {
    for (const [name, database] of Object.entries(config.databases)) {
        if (database.vectorExtension && !config.postgres.pgvector) {
            problems.push({
                severity: "warning",
                key: `databases.${name}.vectorExtension`,
                message: "the vector extension is not created because postgres.pgvector is false (the image has no pgvector)",
            });
        }
    }
}

function checkPoolMode(config: StackConfig, problems: Problem[]): void {
    // Section 2.3: transaction mode is the recommendation for every Zentoria service.
    if (config.pgbouncer.poolMode === "statement") {
        problems.push({
            severity: "warning",
            key: "pgbouncer.poolMode",
            message: "statement mode refuses multi-statement transactions (section 2.3: low compatibility); the spec recommends transaction",
        });
    } else if (config.pgbouncer.poolMode === "session") {
        problems.push({
            severity: "warning",
            key: "pgbouncer.poolMode",
            message: "session mode holds a server connection per client session (section 2.3: low efficiency); pool sizes then cap concurrent clients",
        });
    }
}

type Section = keyof StackConfig;

/** Cross-key checks and the sections each needs; a check runs when all of them are valid. */
/** Each warning level must come before its critical level, or the critical one could never be seen first. */
function checkThresholds(config: StackConfig, problems: Problem[]): void {
    const levels = config.monitoring.thresholds as Record<string, number>;
    for (const [name, warning] of Object.entries(levels).filter(([key]) => key.includes("Warning"))) {
        const criticalName = name.replace("Warning", "Critical");
        const critical = levels[criticalName];
        if (critical !== undefined && critical <= warning) {
            problems.push({ severity: "error", key: `monitoring.thresholds.${criticalName}`, message: `must be above monitoring.thresholds.${name} (${warning})` });
        }
    }
}

/**
 * The exporters log in as the monitoring role; the monitoring containers are reached by their
 * names, which no server's host name may take (Docker's DNS would answer it with both).
 */
function checkMonitoring(config: StackConfig, problems: Problem[]): void {
    const monitoring = config.monitoring;
    if (!monitoring.enabled) {
        return;
    }
    if (config.tls.enabled) {
        // Redis and Qdrant then speak TLS only, and the exporters and Prometheus are not given the CA.
        problems.push({ severity: "error", key: "monitoring.enabled", message: "cannot be combined with tls.enabled yet: the exporters and Prometheus speak plain text to the servers" });
    }
    const role = config.roles[monitoring.role];
    if (!role) {
        problems.push({ severity: "error", key: "monitoring.role", message: `${shown(monitoring.role)} is not a role in roles` });
    } else if (role.access !== "monitoring") {
        problems.push({ severity: "error", key: "monitoring.role", message: `${shown(monitoring.role)} has access ${role.access}; the exporters need a role with access monitoring (member of pg_monitor, PgBouncer stats user)` });
    }
    const monitoringContainers = ["prometheus", "alertmanager", "pgbouncer-exporter", "postgres-exporter", "redis-exporter", "pgbouncer-errors"].map((suffix) => `${config.prefix}-${suffix}`);
    for (const server of ["postgres", "pgbouncer", "redis", "qdrant"] as const) {
        if (monitoringContainers.includes(config[server].hostname)) {
            problems.push({ severity: "error", key: `${server}.hostname`, message: `${shown(config[server].hostname)} is the name of a monitoring container; Docker's DNS would answer it with both` });
        }
    }
}

const CROSS_CHECKS: ReadonlyArray<{ needs: readonly Section[]; run: (config: StackConfig, problems: Problem[]) => void }> = [
    { needs: ["roles", "databases", "pgbouncer"], run: checkRolesAndDatabases },
    { needs: ["services", "roles", "databases", "tls"], run: checkServices },
    { needs: ["redis", "services", "qdrant"], run: checkRedis },
    { needs: ["credentials", "roles", "redis"], run: checkCredentials },
    { needs: ["postgres", "databases"], run: checkPostgres },
    { needs: ["postgres", "timeouts"], run: checkPostgresBounds },
    { needs: ["redis"], run: checkRedisBounds },
    { needs: ["prefix", "postgres", "pgbouncer", "redis", "qdrant"], run: checkHostNames },
    { needs: ["services", "redis", "qdrant", "roles", "databases", "tls"], run: checkEnvNames },
    { needs: ["pgbouncer"], run: checkPgbouncerVersion },
    { needs: ["pgbouncer"], run: checkPoolMode },
    { needs: ["monitoring"], run: checkThresholds },
    { needs: ["monitoring", "tls", "roles", "prefix", "postgres", "pgbouncer", "redis", "qdrant"], run: checkMonitoring },
    { needs: ["backups", "postgres", "roles", "redis", "tls", "qdrant"], run: checkBackups },
];

/** A deep copy of value with the leaf at path set to replacement, or removed when it is undefined. */
function replacedAt(value: unknown, path: readonly Step[], replacement: unknown): unknown {
    if (path.length === 0) {
        return replacement;
    }
    if (value === null || typeof value !== "object") {
        return value;
    }
    const copy = (Array.isArray(value) ? [...value] : { ...value }) as Record<Step, unknown>;
    const [step, ...rest] = path;
    const next = replacedAt(copy[step], rest, replacement);
    if (next === undefined) {
        delete copy[step];
    } else {
        copy[step] = next;
    }
    return copy;
}

/**
 * A section that failed the schema, with each offending value put back to its default (or
 * removed): when that parses, the checks that span sections still run on it, so that one bad
 * value does not hide the other problems of its section. Returns the paths it replaced, whose
 * later problems would only be about the stand-in values.
 */
function salvageSection(section: Section, value: unknown, issues: readonly ZodIssue[]): { data: unknown; replaced: string[] } | undefined {
    let repaired = value;
    const replaced: string[] = [];
    for (const issue of issues) {
        const paths = issue.code === "unrecognized_keys" ? issue.keys.map((key) => [...issue.path, key]) : [issue.path];
        for (const path of paths) {
            repaired = replacedAt(repaired, path, valueAtPath(DEFAULT_CONFIG[section], path));
            replaced.push(path.reduce<string>((key, step) => childPath(key, step), section));
        }
    }
    const parsed = stackConfigSchema.shape[section].safeParse(repaired);
    return parsed.success ? { data: parsed.data, replaced } : undefined;
}

function concerns(problem: Problem, keys: readonly string[]): boolean {
    return keys.some((key) => problem.key === key || problem.key.startsWith(`${key}.`) || key.startsWith(`${problem.key}.`));
}

export function validateStackConfig(raw: RawStackConfig): ValidationResult {
    const merged = mergeOverDefaults(DEFAULT_CONFIG, raw.values) as Record<string, unknown>;
    const shape = stackConfigSchema.shape;
    const problems: Problem[] = [];
    for (const key of Object.keys(merged).filter((candidate) => !(candidate in shape))) {
        problems.push({
            severity: "error",
            key,
            message: key.includes(".") ? "unknown key (nested values are set with `pulumi config set --path`)" : "unknown key",
        });
    }
    // Section by section, so that one bad section does not hide the problems of the others.
    const valid: Partial<Record<Section, unknown>> = {};
    const usable: Partial<Record<Section, unknown>> = {};
    const replaced: string[] = [];
    for (const section of Object.keys(shape) as Section[]) {
        const parsed = shape[section].safeParse(merged[section]);
        if (parsed.success) {
            valid[section] = usable[section] = parsed.data;
        } else {
            problems.push(...zodProblems(parsed.error.issues, section));
            const salvaged = salvageSection(section, merged[section], parsed.error.issues);
            if (salvaged) {
                usable[section] = salvaged.data;
                replaced.push(...salvaged.replaced);
            }
        }
    }
    checkPorts(merged, problems);
    checkCredentialsEncrypted(raw, problems);
    const crossProblems: Problem[] = [];
    for (const check of CROSS_CHECKS) {
        if (check.needs.every((section) => usable[section] !== undefined)) {
            check.run(usable as StackConfig, crossProblems);
        }
    }
    problems.push(...crossProblems.filter((problem) => !concerns(problem, replaced)));
    const complete = (Object.keys(shape) as Section[]).every((section) => valid[section] !== undefined);
    return { config: complete && !problems.some((problem) => problem.severity === "error") ? (valid as StackConfig) : undefined, problems };
}
