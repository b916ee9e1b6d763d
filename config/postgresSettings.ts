// PostgreSQL's own settings table (pg_settings), one file per major version, generated from
// real servers by scripts/pg-settings.ts, and the checks `postgres.settings` and the settings
// the program renders itself must pass: the name, the type, the enum values, the range with
// units, exactly as the server parses them (src/backend/utils/misc/guc.c: parse_int,
// parse_real, convert_to_base_unit, config_enum_lookup_by_name), plus the start-up checks
// that span settings (src/backend/postmaster/postmaster.c, src/backend/access/transam/xlog.c).
import * as fs from "fs";
import * as path from "path";
import { shown } from "./problems";

export interface PostgresSettingRow {
    name: string;
    vartype: "bool" | "enum" | "integer" | "real" | "string";
    unit: string | null;
    min_val: string | null;
    max_val: string | null;
    enumvals: string[] | null;
    /** The built-in default: what applies when the rendered postgresql.conf does not set it. */
    boot_val: string | null;
    /** When a change takes effect: internal, postmaster (restart), sighup (reload), superuser-backend, backend, superuser, user. */
    context: string;
}

export interface PostgresSettingsTable {
    major: number;
    serverVersion: string;
    generatedFrom: string;
    settings: PostgresSettingRow[];
}

export type SettingValue = string | number | boolean;

export const SETTINGS_DIR = path.join(__dirname, "postgres-settings");

export function settingsFile(major: number): string {
    return path.join(SETTINGS_DIR, `${major}.json`);
}

const tables = new Map<number, PostgresSettingsTable | undefined>();

/** The committed table of a major version, or undefined when there is none. */
export function settingsTable(major: number): PostgresSettingsTable | undefined {
    if (!tables.has(major)) {
        const file = settingsFile(major);
        tables.set(major, fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as PostgresSettingsTable) : undefined);
    }
    return tables.get(major);
}

export function availableMajors(): number[] {
    return fs
        .readdirSync(SETTINGS_DIR)
        .map((file) => /^(\d+)\.json$/.exec(file)?.[1])
        .filter((major): major is string => major !== undefined)
        .map(Number)
        .sort((a, b) => a - b);
}

/** 15 from `postgres:15.4-bookworm`, `pgvector/pgvector:0.8.1-pg15-bookworm`, `zentoria-ci/postgres:17-trixie`. */
export function majorFromImage(image: string): number | undefined {
    const tag = /:([\w][\w.-]*)(@sha256:[0-9a-f]{64})?$/.exec(image.split("/").pop() ?? "")?.[1];
    const match = tag ? (/(?:^|-)pg(\d+)(?:[.-]|$)/.exec(tag) ?? /^(\d+)(?:[.-]|$)/.exec(tag)) : null;
    return match ? Number(match[1]) : undefined;
}

/**
 * Whether a new value of `name` needs a restart: the server's context `postmaster`. A name the
 * table does not know (an extension's setting) counts as needing one: the preview may say
 * "restart" where a reload would do, never the reverse; at apply time the server's
 * pending_restart decides.
 */
export function needsRestart(major: number, name: string): boolean {
    const table = settingsTable(major);
    const row = table && findSetting(table, name);
    return row === undefined || row.context === "postmaster";
}

export function findSetting(table: PostgresSettingsTable, name: string): PostgresSettingRow | undefined {
    const lower = name.toLowerCase();
    return table.settings.find((row) => row.name.toLowerCase() === lower);
}

// ---------------------------------------------------------------- names

/**
 * A name postgresql.conf can hold: an identifier, or two joined by a dot for an extension's
 * setting (guc-file.l: ID {LETTER}{LETTER_OR_DIGIT}*, QUALIFIED_ID {ID}"."{ID}). Lower case
 * only here: the server folds names anyway, so one spelling per setting.
 */
export const SETTING_NAME = /^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/;

/** Settings the program renders from other keys: set those keys instead. */
export const PROGRAM_SETTINGS: Readonly<Record<string, string>> = {
    listen_addresses: "the program listens on every address inside the container network",
    port: "set postgres.port",
    max_connections: "set postgres.maxConnections (derived from the role limits when unset)",
    superuser_reserved_connections: "set postgres.superuserReservedConnections",
    shared_buffers: "set postgres.sharedBuffers",
    idle_in_transaction_session_timeout: "set timeouts.idleSeconds",
    hba_file: "the program renders pg_hba.conf",
    ident_file: "the program renders pg_ident.conf (the superuser's socket login)",
    lc_messages: "set postgres.locale",
    lc_monetary: "set postgres.locale",
    lc_numeric: "set postgres.locale",
    lc_time: "set postgres.locale",
    timezone: "set postgres.timezone",
    log_timezone: "set postgres.timezone",
    default_text_search_config: "set postgres.textSearchConfig",
    datestyle: "the program renders initdb's default (iso, mdy)",
    password_encryption: "the program stores SCRAM-SHA-256 verifiers only",
    unix_socket_directories: "the image's entrypoint and healthcheck need the program's socket directory",
};

/** Settings that would move files, code or logins the program and the image depend on. */
export const REFUSED_SETTINGS: Readonly<Record<string, string>> = {
    config_file: "the program passes its own postgresql.conf",
    data_directory: "the data directory is the volume the program mounts",
    external_pid_file: "a path outside the data volume",
    include: "would read settings the program has not checked",
    include_dir: "would read settings the program has not checked",
    include_if_exists: "would read settings the program has not checked",
    unix_socket_group: "the image's entrypoint needs the socket as the program sets it",
    unix_socket_permissions: "the image's entrypoint needs the socket as the program sets it",
    reserved_connections: "the connection budget does not count it (PostgreSQL 16+)",
    statement_timeout: "the program sets it per role from timeouts.querySeconds; server-wide it would cut off the superuser's maintenance and the provider",
    transaction_timeout: "server-wide it would cut off the superuser's maintenance and the provider (PostgreSQL 17+); timeouts.querySeconds sets statement_timeout per role",
    idle_session_timeout: "would close the idle server connections PgBouncer and the provider keep; timeouts.idleSeconds sets PgBouncer's server_idle_timeout",
    debug_io_direct: "a developer option whose success depends on the Docker host's file system (PostgreSQL 16+)",
    default_transaction_read_only: "the program's provider creates roles, databases and grants",
    local_preload_libraries: "loads only from the plugins directory, which the images leave empty: every login would fail",
    db_user_namespace: "changes the login names the roles, PgBouncer and the provider use",
    krb_server_keyfile: "a file the image does not have",
    dynamic_library_path: "loads code the image may not have",
    jit_provider: "loads code the image may not have",
    archive_library: "loads code the image may not have; use archive_command",
    wal_consistency_checking: "a developer option",
    recovery_target: "the program runs a primary, not a recovery",
    recovery_target_lsn: "the program runs a primary, not a recovery",
    recovery_target_name: "the program runs a primary, not a recovery",
    recovery_target_time: "the program runs a primary, not a recovery",
    recovery_target_timeline: "the program runs a primary, not a recovery",
    recovery_target_xid: "the program runs a primary, not a recovery",
    recovery_target_action: "the program runs a primary, not a recovery",
    recovery_target_inclusive: "the program runs a primary, not a recovery",
};

/** Libraries of PostgreSQL's contrib that both the official image and Debian's packages ship. */
export const PRELOADABLE_LIBRARIES = ["auth_delay", "auto_explain", "passwordcheck", "pg_prewarm", "pg_stat_statements"];

const BOOLEAN_WORDS = new Set(["on", "off", "true", "false", "yes", "no", "1", "0"]);
const BOOLEAN_TRUE = new Set(["on", "true", "yes", "1"]);

/**
 * Values the server accepts that would stop the stack: huge_pages=on stops PostgreSQL unless the
 * Docker host has huge pages reserved, which the plan cannot see (try uses them when there
 * are); Debian and the official image build PostgreSQL without Bonjour, so bonjour=on fails its
 * check (guc.c check_bonjour); pre_auth_delay and post_auth_delay hold every login for seconds,
 * so the healthcheck, PgBouncer and the provider time out (found by the integration property
 * test).
 */
const REFUSED_VALUES: Readonly<Record<string, { refused: (text: string) => boolean; why: string }>> = {
    huge_pages: { refused: (text) => text === "on", why: "on needs huge pages reserved on the Docker host; use try" },
    bonjour: { refused: (text) => BOOLEAN_TRUE.has(text), why: "the images' PostgreSQL is built without Bonjour" },
    pre_auth_delay: { refused: (text) => !/^0+(\s*[a-z]*)?$/.test(text), why: "a delay on every login makes the healthcheck, PgBouncer and the provider time out; only 0" },
    post_auth_delay: { refused: (text) => !/^0+(\s*[a-z]*)?$/.test(text), why: "a delay on every login makes the healthcheck, PgBouncer and the provider time out; only 0" },
};

// ---------------------------------------------------------------- values

/** The text postgresql.conf gets for a value (render/quote.ts postgresConfValue, unquoted). */
export function settingText(value: SettingValue): string {
    if (typeof value === "boolean") {
        return value ? "on" : "off";
    }
    return String(value);
}

type UnitTable = ReadonlyArray<readonly [string, number]>;
// guc.c memory_unit_conversion_table and time_unit_conversion_table, largest unit first,
// in bytes and in milliseconds.
const MEMORY_UNITS: UnitTable = [["TB", 1024 ** 4], ["GB", 1024 ** 3], ["MB", 1024 ** 2], ["kB", 1024], ["B", 1]];
const TIME_UNITS: UnitTable = [["d", 86_400_000], ["h", 3_600_000], ["min", 60_000], ["s", 1000], ["ms", 1], ["us", 0.001]];

/** The base unit of a setting as pg_settings names it (8kB, kB, MB, B, ms, s, min, us). */
function baseUnit(unit: string): { table: UnitTable; size: number } | undefined {
    const memory = /^(\d*)(B|kB|MB|GB|TB)$/.exec(unit);
    if (memory) {
        const size = (MEMORY_UNITS.find(([name]) => name === memory[2])?.[1] ?? 0) * (memory[1] ? Number(memory[1]) : 1);
        return { table: MEMORY_UNITS, size };
    }
    const time = TIME_UNITS.find(([name]) => name === unit);
    return time ? { table: TIME_UNITS, size: time[1] } : undefined;
}

/** C's rint() in the default rounding mode: halves to even. */
function rint(value: number): number {
    const floor = Math.floor(value);
    const diff = value - floor;
    if (diff !== 0.5) {
        return Math.round(value);
    }
    return floor % 2 === 0 ? floor : floor + 1;
}

/** guc.c convert_to_base_unit: a value in `unit` expressed in the setting's base unit. */
function convertToBaseUnit(value: number, unit: string, base: { table: UnitTable; size: number }): number | undefined {
    const index = base.table.findIndex(([name]) => name === unit);
    if (index < 0) {
        return undefined;
    }
    let converted = (value * base.table[index][1]) / base.size;
    const smaller = base.table[index + 1];
    if (smaller) {
        // "30.1GB" is rounded to a whole number of the next smaller unit first.
        const step = smaller[1] / base.size;
        converted = rint(converted / step) * step;
    }
    return converted;
}

export type Parsed = { value: number } | { error: string };

/** The smallest normal double (C's DBL_MIN). */
const DBL_MIN = 2.2250738585072014e-308;

const NUMBER_WITH_UNIT = /^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z]*)\s*$/;

/**
 * guc.c parse_int / parse_real for the decimal forms: a number, optionally a unit. The server
 * also reads hex and leading-zero octal integers; those are refused here rather than read
 * differently from the server.
 */
export function parseNumber(text: string, row: Pick<PostgresSettingRow, "name" | "unit" | "vartype">): Parsed {
    const match = NUMBER_WITH_UNIT.exec(text);
    if (!match) {
        return { error: `${shown(text)} is not a number${row.unit ? ` with an optional unit` : ""}` };
    }
    const [, number, unit] = match;
    if (row.vartype === "integer" && /^[-+]?0\d/.test(number) && !/[.eE]/.test(number)) {
        return { error: `${shown(text)} has a leading zero, which PostgreSQL reads as octal` };
    }
    let value = Number(number);
    // strtod sets ERANGE beyond a double's range, subnormal results included (glibc), and
    // parse_int/parse_real refuse the value then (found by the integration property test).
    if (!Number.isFinite(value) || (value !== 0 && Math.abs(value) < DBL_MIN)) {
        return { error: `${shown(text)} is out of the range of a double, which PostgreSQL refuses` };
    }
    if (unit) {
        const base = row.unit ? baseUnit(row.unit) : undefined;
        const converted = base ? convertToBaseUnit(value, unit, base) : undefined;
        if (converted === undefined) {
            const units = base ? base.table.map(([name]) => name).join(", ") : "none";
            return { error: `${shown(unit)} is not a unit ${row.name} takes (units: ${units})` };
        }
        value = converted;
    }
    if (row.vartype === "integer") {
        value = rint(value);
        // parse_int: "Value exceeds integer range."
        if (value > 2147483647 || value < -2147483648) {
            return { error: `${shown(text)} exceeds PostgreSQL's integer range` };
        }
    }
    return { value };
}



function checkRange(value: number, row: PostgresSettingRow, text: string): string | undefined {
    const min = Number(row.min_val);
    const max = Number(row.max_val);
    if (value < min || value > max) {
        const unit = row.unit ? ` (in ${row.unit})` : "";
        return `${shown(text)} is outside the range PostgreSQL allows for ${row.name}: ${row.min_val} .. ${row.max_val}${unit}`;
    }
    return undefined;
}

function checkListSetting(row: PostgresSettingRow, text: string): string | undefined {
    const items = text
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item !== "");
    const allowed: Record<string, readonly string[]> = {
        // elog.c check_log_destination: eventlog only on Windows.
        log_destination: ["stderr", "csvlog", "jsonlog", "syslog"],
        shared_preload_libraries: PRELOADABLE_LIBRARIES,
        session_preload_libraries: PRELOADABLE_LIBRARIES,
        // variable.c check_datestyle
        datestyle: ["iso", "sql", "postgres", "german", "dmy", "euro", "european", "mdy", "us", "noneuro", "noneuropean", "ymd", "default"],
        restrict_nonsystem_relation_kind: ["view", "foreign-table"],
    };
    const words = allowed[row.name.toLowerCase()];
    if (!words) {
        return undefined;
    }
    const lowerWords = words.map((word) => word.toLowerCase());
    const wrong = items.filter((item) => !lowerWords.includes(item.replace(/^"(.*)"$/, "$1").toLowerCase()));
    return wrong.length > 0 ? `${wrong.map(shown).join(", ")} not among ${words.join(", ")}` : undefined;
}

/** Locales both the official image and Debian's packages have (the official image generates en_US.UTF-8). */
export const IMAGE_LOCALES = ["", "C", "POSIX", "C.UTF-8", "C.utf8", "en_US.UTF-8", "en_US.utf8"];

/** IANA zones (Node's list is the same tz database the images' tzdata holds), and UTC and GMT. */
export function isTimeZone(text: string): boolean {
    return ["UTC", "GMT", "Etc/UTC", "Etc/GMT"].includes(text) || Intl.supportedValuesOf("timeZone").includes(text);
}

/** Checks of string settings whose values the server looks up in what the image has. */
function checkImageDependent(row: PostgresSettingRow, text: string): string | undefined {
    const name = row.name.toLowerCase();
    if ((name === "timezone" || name === "log_timezone") && !isTimeZone(text)) {
        return `${shown(text)} is not a time zone of the tz database (e.g. UTC, Europe/Berlin)`;
    }
    if (/^lc_(messages|monetary|numeric|time)$/.test(name)) {
        return checkLocale(text);
    }
    return undefined;
}

/** Why the images cannot run with locale `text`, or undefined when they can. */
export function checkLocale(text: string): string | undefined {
    return IMAGE_LOCALES.includes(text) ? undefined : `${shown(text)} is not a locale the images have: ${IMAGE_LOCALES.filter((locale) => locale !== "").join(", ")}`;
}

function checkPathSetting(row: PostgresSettingRow, text: string): string | undefined {
    // The logging collector writes under the data directory, which is the data volume.
    if (row.name === "log_directory" && (text.startsWith("/") || text.split("/").includes(".."))) {
        return `${shown(text)} must be a relative path inside the data directory`;
    }
    return undefined;
}

/** Why the server would refuse `value` for `row`, or undefined when it would take it. */
function checkValue(row: PostgresSettingRow, value: SettingValue, major: number): string | undefined {
    const text = settingText(value);
    if (/[\r\n\0]/.test(text)) {
        return "a value must be one line without NUL characters";
    }
    switch (row.vartype) {
        case "bool":
            return BOOLEAN_WORDS.has(text.toLowerCase()) ? undefined : `${shown(text)} is not a boolean (on/off, true/false, yes/no, 1/0)`;
        case "enum": {
            const values = row.enumvals ?? [];
            return values.some((candidate) => candidate.toLowerCase() === text.toLowerCase())
                ? undefined
                : `${shown(text)} is not one of PostgreSQL ${major}'s values for ${row.name}: ${values.join(", ")}`;
        }
        case "integer":
        case "real": {
            if (typeof value === "boolean") {
                return `a boolean is not a value for ${row.name} (${row.vartype})`;
            }
            const parsed = parseNumber(text, row);
            return "error" in parsed ? parsed.error : checkRange(parsed.value, row, text);
        }
        case "string":
            return checkListSetting(row, text) ?? checkPathSetting(row, text) ?? checkImageDependent(row, text);
    }
}

/**
 * Why `name = value` cannot go into the rendered postgresql.conf of PostgreSQL `table.major`,
 * or undefined when it can. Unknown names are refused unless they hold a dot (an extension's
 * or a custom setting: the server keeps those as placeholders).
 */
export function checkSetting(table: PostgresSettingsTable, name: string, value: SettingValue): string | undefined {
    const lower = name.toLowerCase();
    if (PROGRAM_SETTINGS[lower]) {
        return `is rendered by the program: ${PROGRAM_SETTINGS[lower]}`;
    }
    if (REFUSED_SETTINGS[lower]) {
        return `cannot be set here: ${REFUSED_SETTINGS[lower]}`;
    }
    if (lower.startsWith("ssl")) {
        return "cannot be set here: the servers run without TLS on the stack's private network (see services.<name>.sslmode)";
    }
    const row = findSetting(table, name);
    if (!row) {
        if (name.includes(".")) {
            return /[\r\n\0]/.test(settingText(value)) ? "a value must be one line without NUL characters" : undefined;
        }
        return `is not a PostgreSQL ${table.major} setting`;
    }
    if (row.context === "internal") {
        return `is fixed when PostgreSQL is built or initialised (context internal) and cannot be set`;
    }
    const refusedValue = REFUSED_VALUES[lower];
    if (refusedValue?.refused(settingText(value).trim().toLowerCase())) {
        return `${shown(settingText(value))} is refused: ${refusedValue.why}`;
    }
    return checkValue(row, value, table.major);
}

/** A setting's value in its base unit: the configured one, else the server's built-in default. */
export function effectiveNumber(table: PostgresSettingsTable, settings: Readonly<Record<string, SettingValue>>, name: string): number {
    const row = findSetting(table, name);
    if (!row) {
        throw new Error(`PostgreSQL ${table.major} has no setting ${name}`);
    }
    const given = settings[name];
    if (given === undefined) {
        return Number(row.boot_val);
    }
    const parsed = parseNumber(settingText(given), row);
    return "value" in parsed ? parsed.value : Number(row.boot_val);
}

export function effectiveText(table: PostgresSettingsTable, settings: Readonly<Record<string, SettingValue>>, name: string): string {
    const given = settings[name];
    return given === undefined ? (findSetting(table, name)?.boot_val ?? "") : settingText(given).toLowerCase();
}

/** MAX_BACKENDS (src/include/postmaster/postmaster.h): 2^18 - 1 backend slots in all. */
export const MAX_BACKENDS = 262143;
/** The container's default stack limit (8 MB) less guc.c's STACK_DEPTH_SLOP (512 kB), in kB. */
export const MAX_STACK_DEPTH_KB = 8192 - 512;

export interface SettingProblem {
    setting: string;
    message: string;
}

/**
 * Combinations the server refuses at start-up. `settings` are the configured ones (checked
 * one by one already); maxConnections is the rendered max_connections.
 */
export function checkSettingCombinations(table: PostgresSettingsTable, settings: Readonly<Record<string, SettingValue>>, maxConnections: number): SettingProblem[] {
    const problems: SettingProblem[] = [];
    const number = (name: string) => effectiveNumber(table, settings, name);
    const walLevel = effectiveText(table, settings, "wal_level");
    if (walLevel === "minimal") {
        // postmaster.c PostmasterMain: "WAL archival cannot be enabled when wal_level is "minimal""
        if (effectiveText(table, settings, "archive_mode") !== "off") {
            problems.push({ setting: "archive_mode", message: 'archiving needs wal_level "replica" or "logical", not "minimal"' });
        }
        // postmaster.c: "WAL streaming (max_wal_senders > 0) requires wal_level "replica" or "logical""
        if (number("max_wal_senders") > 0) {
            problems.push({ setting: "max_wal_senders", message: 'must be 0 with wal_level "minimal" (it defaults to 10)' });
        }
    }
    // postmaster.c (PostgreSQL 17+): "WAL cannot be summarized when wal_level is "minimal"".
    if (walLevel === "minimal" && findSetting(table, "summarize_wal") && BOOLEAN_TRUE.has(effectiveText(table, settings, "summarize_wal"))) {
        problems.push({ setting: "summarize_wal", message: 'needs wal_level "replica" or "logical", not "minimal"' });
    }
    // xlog.c ReadControlFile: "min_wal_size must be at least twice wal_segment_size", the same for max_wal_size.
    const segmentMb = number("wal_segment_size") / (1024 * 1024);
    for (const name of ["min_wal_size", "max_wal_size"]) {
        if (number(name) < 2 * segmentMb) {
            problems.push({ setting: name, message: `must be at least twice wal_segment_size: ${2 * segmentMb}MB` });
        }
    }
    // guc.c check_max_wal_senders / check_autovacuum_max_workers / check_max_worker_processes.
    const backends = maxConnections + number("autovacuum_max_workers") + 1 + number("max_worker_processes") + number("max_wal_senders");
    if (backends > MAX_BACKENDS) {
        problems.push({
            setting: "max_connections",
            message: `max_connections + autovacuum_max_workers + 1 + max_worker_processes + max_wal_senders is ${backends}, over PostgreSQL's ${MAX_BACKENDS} backend slots`,
        });
    }
    // postgres.c check_max_stack_depth: the stack limit less 512 kB.
    if (settings.max_stack_depth !== undefined && number("max_stack_depth") > MAX_STACK_DEPTH_KB) {
        problems.push({ setting: "max_stack_depth", message: `must not exceed ${MAX_STACK_DEPTH_KB}kB: the container's stack limit is 8MB` });
    }
    return problems;
}
