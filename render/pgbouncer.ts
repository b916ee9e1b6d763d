// pgbouncer.ini and userlist.txt from the plan: sorted, escaped, byte-identical for an
// unchanged plan, so nothing restarts for nothing.
import { StackPlan } from "../config/plan";
import { renderedHeader } from "./header";
import { CONTAINER_LAYOUT, ServerLayout } from "./layout";
import { MONITORING_LAYOUT } from "./monitoring";
import { pgbouncerConnstrValue, pgbouncerKey, pgbouncerList, pgbouncerValue, RenderError, userlistField } from "./quote";
import { tlsFiles, tlsUse } from "./tls";

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
    return overrideTls(entries, plan, layout).sort(([a], [b]) => a.localeCompare(b));
}

/** PgBouncer's HBA file, next to pgbouncer.ini (used only with TLS: it tells TLS from plain text by source). */
export const PGBOUNCER_HBA_FILE_NAME = "pgbouncer_hba.conf";

/**
 * TLS (issue 11): the client side speaks TLS; an HBA file requires it from beyond the Docker
 * host (and on the network with tls.inNetwork). The server side to PostgreSQL verifies the
 * server's certificate with tls.inNetwork, and stays PgBouncer's default (prefer) otherwise.
 */
function overrideTls(entries: Array<[string, string | number]>, plan: StackPlan, layout: ServerLayout): Array<[string, string | number]> {
    const tls = tlsUse(plan);
    if (!tls.servers) {
        return entries;
    }
    const files = tlsFiles(layout.pgbouncer.configDirectory);
    const tlsEntries: Array<[string, string | number]> = [
        ["auth_type", "hba"],
        ["auth_hba_file", `${layout.pgbouncer.configDirectory}/${PGBOUNCER_HBA_FILE_NAME}`],
        ["client_tls_sslmode", tls.inNetwork ? "require" : "prefer"],
        ["client_tls_cert_file", files.certificateFile],
        ["client_tls_key_file", files.keyFile],
        ["client_tls_protocols", "secure"],
    ];
    if (tls.inNetwork) {
        tlsEntries.push(["server_tls_sslmode", "verify-full"], ["server_tls_ca_file", files.caFile]);
    }
    const replaced = new Set(tlsEntries.map(([key]) => key));
    return [...entries.filter(([key]) => !replaced.has(key)), ...tlsEntries];
}

/** PgBouncer's hba file (TLS only): the same addresses as pg_hba.conf's, by whether TLS is required. */
export function renderPgbouncerHba(plan: StackPlan, network: { subnet: string; gateway: string }): string {
    const tls = tlsUse(plan);
    const field = (value: string) => {
        if (!/^[0-9a-f.:/]+$/.test(value)) {
            throw new RenderError(PGBOUNCER_HBA_FILE_NAME, "address", "cannot be written unquoted", value);
        }
        return value;
    };
    const lines = [
        renderedHeader("#", PGBOUNCER_HBA_FILE_NAME),
        "# PgBouncer's own tools in its container (healthcheck, the live-change console)\n",
        "host  all  all  127.0.0.1/32  scram-sha-256\n",
        ...(tls.published
            ? [
                  "# plain text from the gateway: published-port connections arrive from there too (Docker's masquerade, its userland proxy)\n",
                  `hostnossl  all  all  ${field(network.gateway)}/32  reject\n`,
              ]
            : []),
        `# the stack's network (and the Docker host through its gateway)${tls.inNetwork ? ", TLS only" : ""}\n`,
        `${tls.inNetwork ? "hostssl" : "host"}  all  all  ${field(network.subnet)}  scram-sha-256\n`,
    ];
    if (tls.published) {
        // listen_addr is IPv4 (0.0.0.0): no IPv6 client reaches PgBouncer.
        lines.push("# through the published port from beyond the Docker host: TLS only\n", "hostssl  all  all  0.0.0.0/0  scram-sha-256\n");
    }
    lines.push("# everything else\n", "host  all  all  0.0.0.0/0  reject\n");
    return lines.join("");
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
