// Checks of values against what the servers accept at start-up: PostgreSQL's settings (its
// own table), Redis' sizes, and the names Docker's DNS and the servers reserve. Each returns
// problems naming the config key; validate.ts runs them once their sections are valid.
import { Problem, shown } from "./problems";
import {
    availableMajors,
    checkSetting,
    checkSettingCombinations,
    findSetting,
    checkLocale,
    isTimeZone,
    majorFromImage,
    parseNumber,
    PostgresSettingsTable,
    settingsTable,
} from "./postgresSettings";
import type { StackPlan } from "./plan";
import { StackConfig } from "./schema";

const error = (key: string, message: string): Problem => ({ severity: "error", key, message });

/** The PostgreSQL major version the stack runs: postgres.majorVersion, else the image tag's. */
export function postgresMajorVersion(config: Pick<StackConfig, "postgres">): number | undefined {
    return config.postgres.majorVersion ?? majorFromImage(config.postgres.image);
}

/** The settings table for the stack's PostgreSQL, or the problem that there is none. */
export function postgresTable(config: Pick<StackConfig, "postgres">): { table: PostgresSettingsTable } | { problem: Problem } {
    const major = postgresMajorVersion(config);
    const known = availableMajors().join(", ");
    if (major === undefined) {
        return {
            problem: error(
                "postgres.majorVersion",
                `cannot tell the PostgreSQL major version of ${shown(config.postgres.image)} from its tag; set postgres.majorVersion (${known})`,
            ),
        };
    }
    const table = settingsTable(major);
    if (!table) {
        const key = config.postgres.majorVersion === undefined ? "postgres.image" : "postgres.majorVersion";
        return { problem: error(key, `PostgreSQL ${major} has no settings table here (config/postgres-settings: ${known}); run npm run pg-settings for it`) };
    }
    return { table };
}

function checkOwnedNumber(table: PostgresSettingsTable, setting: string, text: string, key: string, problems: Problem[]): void {
    const row = findSetting(table, setting);
    if (!row) {
        return;
    }
    const parsed = parseNumber(text, row);
    const message = "error" in parsed ? parsed.error : parsed.value < Number(row.min_val) || parsed.value > Number(row.max_val) ? "out" : undefined;
    if (message === "out") {
        const unit = row.unit ? ` ${row.unit}` : "";
        problems.push(error(key, `${shown(text)} gives ${setting} outside PostgreSQL ${table.major}'s range ${row.min_val} .. ${row.max_val}${unit}`));
    } else if (message) {
        problems.push(error(key, `${message} (${setting})`));
    }
}

/**
 * Every setting the rendered postgresql.conf will hold, checked by PostgreSQL's own rules:
 * `postgres.settings` one by one, the values the program derives from other keys, and the
 * combinations the server refuses at start-up.
 */
export function checkPostgresBounds(config: StackConfig, problems: Problem[]): void {
    const found = postgresTable(config);
    if ("problem" in found) {
        problems.push(found.problem);
        return;
    }
    const { table } = found;
    for (const [name, value] of Object.entries(config.postgres.settings)) {
        const message = checkSetting(table, name, value);
        if (message) {
            problems.push(error(`postgres.settings.${name}`, message));
        }
    }
    const locale = checkLocale(config.postgres.locale);
    if (locale) {
        problems.push(error("postgres.locale", locale));
    }
    if (!isTimeZone(config.postgres.timezone)) {
        problems.push(error("postgres.timezone", `${shown(config.postgres.timezone)} is not a time zone of the tz database (e.g. UTC, Europe/Berlin)`));
    }
    checkOwnedNumber(table, "shared_buffers", config.postgres.sharedBuffers, "postgres.sharedBuffers", problems);
    checkOwnedNumber(table, "superuser_reserved_connections", String(config.postgres.superuserReservedConnections), "postgres.superuserReservedConnections", problems);
    checkOwnedNumber(table, "port", String(config.postgres.port), "postgres.port", problems);
    if (config.postgres.maxConnections !== undefined) {
        checkOwnedNumber(table, "max_connections", String(config.postgres.maxConnections), "postgres.maxConnections", problems);
    }
    checkOwnedNumber(table, "idle_in_transaction_session_timeout", `${config.timeouts.idleSeconds}s`, "timeouts.idleSeconds", problems);
    checkOwnedNumber(table, "statement_timeout", `${config.timeouts.querySeconds}s`, "timeouts.querySeconds", problems);
}

/**
 * What only the plan knows: max_connections when it is derived from the role limits, and the
 * combinations of settings the server refuses at start-up (the settings are valid one by one).
 */
export function checkPlanBounds(plan: StackPlan): Problem[] {
    const table = settingsTable(plan.postgres.majorVersion);
    if (!table) {
        return [];
    }
    const problems: Problem[] = [];
    if (plan.postgres.maxConnectionsDerived) {
        const row = findSetting(table, "max_connections");
        if (row && plan.postgres.maxConnections > Number(row.max_val)) {
            problems.push(
                error("postgres.maxConnections", `derived from the role limits as ${plan.postgres.maxConnections}, over PostgreSQL's maximum ${row.max_val}: lower the limits or set it`),
            );
        }
    }
    const settings = Object.fromEntries(plan.postgres.extraSettings);
    for (const problem of checkSettingCombinations(table, settings, plan.postgres.maxConnections)) {
        const key = problem.setting === "max_connections" ? "postgres.maxConnections" : `postgres.settings.${problem.setting}`;
        problems.push(error(key, problem.message));
    }
    return problems;
}

// util.c memtoull: digits, then b, k (1000), kb (1024), m, mb, g, gb in any case; size_t range.
const REDIS_SIZE = /^(\d+)(b|k|kb|m|mb|g|gb)?$/i;
const REDIS_UNIT_BYTES: Readonly<Record<string, bigint>> = {
    b: 1n,
    k: 1000n,
    kb: 1024n,
    m: 1000n ** 2n,
    mb: 1024n ** 2n,
    g: 1000n ** 3n,
    gb: 1024n ** 3n,
};
const SIZE_MAX = 2n ** 64n - 1n;

/** Bytes of a Redis size (`256mb`, `1gb`, `0`), or undefined when Redis would refuse it. */
export function redisSizeBytes(text: string): bigint | undefined {
    const match = REDIS_SIZE.exec(text);
    if (!match) {
        return undefined;
    }
    const bytes = BigInt(match[1]) * REDIS_UNIT_BYTES[(match[2] ?? "b").toLowerCase()];
    return bytes <= SIZE_MAX ? bytes : undefined;
}

export function checkRedisBounds(config: StackConfig, problems: Problem[]): void {
    const bytes = redisSizeBytes(config.redis.maxmemory);
    if (bytes === undefined) {
        problems.push(error("redis.maxmemory", `${shown(config.redis.maxmemory)} is not a size Redis reads: digits, then b, k, kb, m, mb, g or gb, at most 2^64-1 bytes`));
    } else if (bytes > 0n && bytes < 1024n * 1024n) {
        // server.c: "WARNING: You specified a maxmemory value that is less than 1MB".
        problems.push({ severity: "warning", key: "redis.maxmemory", message: `${bytes} bytes is under 1MB: Redis warns, and writes fail once the server's own overhead fills it` });
    }
    if (config.redis.warningClients > config.redis.maxclients) {
        problems.push(error("redis.warningClients", `must not be above redis.maxclients (${config.redis.maxclients})`));
    }
}

/** The container names the plan gives each server (config/plan.ts). */
export function containerNames(prefix: string): Record<"postgres" | "pgbouncer" | "redis" | "qdrant", string> {
    return { postgres: `${prefix}-postgres`, pgbouncer: `${prefix}-pgbouncer`, redis: `${prefix}-redis`, qdrant: `${prefix}-embeddings` };
}

/**
 * Docker's embedded DNS answers a container's name and its network aliases alike, and
 * shuffles several answers: a host name that is another server's container name sends half
 * of the connections to the wrong server.
 */
export function checkHostNames(config: StackConfig, problems: Problem[]): void {
    const containers = containerNames(config.prefix);
    for (const server of ["postgres", "pgbouncer", "redis", "qdrant"] as const) {
        const hostname = config[server].hostname;
        for (const [other, container] of Object.entries(containers)) {
            if (other !== server && hostname === container) {
                problems.push(error(`${server}.hostname`, `${shown(hostname)} is the container name of ${other}; Docker's DNS would answer it with both`));
            }
        }
    }
}
