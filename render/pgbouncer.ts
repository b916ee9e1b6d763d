// pgbouncer.ini and userlist.txt from the plan: sorted, escaped, byte-identical for an
// unchanged plan, so nothing restarts for nothing.
import { StackPlan } from "../config/plan";
import { renderedHeader } from "./header";
import { CONTAINER_LAYOUT, ServerLayout } from "./layout";
import { MONITORING_LAYOUT } from "./monitoring";
import { pgbouncerConnstrValue, pgbouncerKey, pgbouncerList, pgbouncerValue, RenderError, userlistField } from "./quote";

function databaseEntries(plan: StackPlan, layout: ServerLayout): Array<[string, string]> {
    return [...plan.pools]
        .sort((a, b) => a.alias.localeCompare(b.alias))
        .map((pool) => {
            const connstr = [
                ["host", layout.postgresHost ?? plan.postgres.hostname],
                ["port", plan.postgres.port],
                ["dbname", pool.database],
                ["pool_size", pool.poolSize],
            ]
                .map(([key, value]) => `${key}=${pgbouncerConnstrValue(value, `${pool.alias} ${key}`)}`)
                .join(" ");
            return [pgbouncerKey(pool.alias, "databases"), connstr];
        });
}

function userEntries(plan: StackPlan): Array<[string, string]> {
    return [...plan.pgbouncer.users]
        .sort((a, b) => a.role.localeCompare(b.role))
        .map((user) => [pgbouncerKey(user.role, "users"), `max_user_connections=${pgbouncerConnstrValue(user.maxUserConnections, user.role)}`]);
}

/**
 * Everything pgbouncer.ini says, by section and key, for the preview: every one of these is
 * applied by RELOAD (listen_addr and listen_port, which RELOAD cannot change, are fixed by the
 * container's ports, whose change replaces the container).
 */
export function pgbouncerLiveSettings(plan: StackPlan, layout: ServerLayout = CONTAINER_LAYOUT): Record<string, string | number> {
    return Object.fromEntries([
        ...databaseEntries(plan, layout).map(([alias, connstr]): [string, string] => [`databases.${alias}`, connstr]),
        ...userEntries(plan).map(([role, settings]): [string, string] => [`users.${role}`, settings]),
        ...settings(plan, layout),
    ]);
}

function settings(plan: StackPlan, layout: ServerLayout): Array<[string, string | number]> {
    const pgbouncer = plan.pgbouncer;
    const entries: Array<[string, string | number]> = [
        ["admin_users", pgbouncerList([pgbouncer.adminUser], "admin_users")],
        ["auth_file", layout.pgbouncer.userlistFile],
        ["auth_type", "scram-sha-256"],
        ["default_pool_size", pgbouncer.defaultPoolSize],
        ["idle_transaction_timeout", plan.timeouts.idleSeconds],
        ["ignore_startup_parameters", pgbouncerList(pgbouncer.ignoreStartupParameters, "ignore_startup_parameters")],
        ["listen_addr", layout.listenAddress],
        ["listen_port", pgbouncer.port],
        ["max_client_conn", pgbouncer.maxClientConn],
        ["max_db_connections", pgbouncer.maxDbConnections],
        ["min_pool_size", pgbouncer.minPoolSize],
        ["pool_mode", pgbouncer.poolMode],
        ["query_timeout", pgbouncer.queryTimeoutSeconds],
        ["reserve_pool_size", pgbouncer.reservePoolSize],
        ["reserve_pool_timeout", pgbouncer.reservePoolTimeoutSeconds],
        ["server_connect_timeout", plan.timeouts.connectSeconds],
        ["server_idle_timeout", plan.timeouts.idleSeconds],
        ["server_login_retry", pgbouncer.serverLoginRetrySeconds],
        ["stats_users", pgbouncerList(pgbouncer.statsUsers, "stats_users")],
        ["unix_socket_dir", ""],
    ];
    if (pgbouncer.maxPreparedStatements !== undefined) {
        entries.push(["max_prepared_statements", pgbouncer.maxPreparedStatements]);
    }
    // Monitoring counts the pool errors PgBouncer logs (it keeps no counter): the log goes to a file too.
    if (plan.monitoring.enabled) {
        entries.push(["logfile", MONITORING_LAYOUT.pgbouncerLog.file]);
    }
    return entries.sort(([a], [b]) => a.localeCompare(b));
}

export function renderPgbouncerIni(plan: StackPlan, layout: ServerLayout): string {
    const lines = [renderedHeader(";", "pgbouncer.ini"), "[databases]\n", ...databaseEntries(plan, layout).map(([alias, connstr]) => `${alias} = ${connstr}\n`)];
    lines.push("\n[users]\n", ...userEntries(plan).map(([role, settings]) => `${role} = ${settings}\n`));
    lines.push("\n[pgbouncer]\n");
    for (const [key, value] of settings(plan, layout)) {
        const text = pgbouncerValue(value, key);
        lines.push(text === "" ? `${key} =\n` : `${key} = ${text}\n`);
    }
    return lines.join("");
}

export interface UserlistEntry {
    user: string;
    /** A SCRAM-SHA-256 verifier, never a plaintext password. */
    verifier: string;
}

/** SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>, base64 parts (render/hashing.ts). */
const SCRAM_VERIFIER = /^SCRAM-SHA-256\$[1-9][0-9]*:[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*:[A-Za-z0-9+/]+=*$/;

export function renderUserlist(entries: readonly UserlistEntry[]): string {
    const seen = new Set<string>();
    for (const entry of entries) {
        if (seen.has(entry.user)) {
            throw new RenderError("userlist.txt", entry.user, "user appears twice");
        }
        seen.add(entry.user);
        if (!SCRAM_VERIFIER.test(entry.verifier)) {
            throw new RenderError("userlist.txt", entry.user, "must have a SCRAM-SHA-256 verifier");
        }
    }
    return [...entries]
        .sort((a, b) => a.user.localeCompare(b.user))
        .map((entry) => `${userlistField(entry.user)} ${userlistField(entry.verifier)}\n`)
        .join("");
}

/** Users listed in userlist.txt: PgBouncer's admin and every role that logs in through it. */
export function pgbouncerLoginUsers(plan: StackPlan): string[] {
    return [plan.pgbouncer.adminUser, ...plan.pgbouncer.users.map((user) => user.role)].sort();
}

/**
 * userlist.txt entries: the admin with its own verifier, every pooled role with the verifier
 * its PostgreSQL role has (byte-identical, or PgBouncer cannot log in to the server).
 */
export function pgbouncerUserlistEntries(
    plan: StackPlan,
    adminVerifier: string,
    roleVerifiers: Readonly<Record<string, string>>,
): UserlistEntry[] {
    return pgbouncerLoginUsers(plan).map((user) => {
        const verifier = user === plan.pgbouncer.adminUser ? adminVerifier : roleVerifiers[user];
        if (verifier === undefined) {
            throw new RenderError("userlist.txt", user, "no verifier");
        }
        return { user, verifier };
    });
}
