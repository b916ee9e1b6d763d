// postgresql.conf, pg_hba.conf and pg_ident.conf from the plan.
import { PostgresPlan, StackPlan } from "../config/plan";
import { MAINTENANCE_DATABASE } from "../config/validate";
import { archiveSettings } from "./backup";
import { renderedHeader } from "./header";
import { ServerLayout } from "./layout";
import { postgresConfName, postgresConfValue, RenderError } from "./quote";
import { tlsFiles, tlsUse } from "./tls";

export type PostgresSettingValue = string | number | boolean;
export type PostgresSetting = readonly [string, PostgresSettingValue];

/** What the program derives from the plan: PostgreSQL must run exactly so. */
function programSettings(plan: StackPlan, layout: ServerLayout): PostgresSetting[] {
    const postgres: PostgresPlan = plan.postgres;
    return [
        ["listen_addresses", layout.listenAddress === "0.0.0.0" ? "*" : layout.listenAddress],
        ["port", postgres.port],
        ["max_connections", postgres.maxConnections],
        ["superuser_reserved_connections", postgres.superuserReservedConnections],
        ["hba_file", layout.postgres.hbaFile],
        ["ident_file", layout.postgres.identFile],
        ["unix_socket_directories", layout.postgres.socketDirectory],
        ["password_encryption", "scram-sha-256"],
        ["shared_buffers", postgres.sharedBuffers],
        // Section 6.1's idle timeout; statement_timeout is set per role (section 6.1's query
        // timeout) so that the superuser's maintenance is not cut off.
        ["idle_in_transaction_session_timeout", `${plan.timeouts.idleSeconds}s`],
        ...tlsSettings(plan, layout),
    ];
}

/** TLS (issue 11): the certificate and key on the config volume; all reloadable. */
function tlsSettings(plan: StackPlan, layout: ServerLayout): PostgresSetting[] {
    if (!plan.tls.enabled) {
        return [];
    }
    const files = tlsFiles(layout.postgres.configDirectory);
    return [
        ["ssl", true],
        ["ssl_cert_file", files.certificateFile],
        ["ssl_key_file", files.keyFile],
        ["ssl_min_protocol_version", "TLSv1.2"],
    ];
}

/**
 * What initdb writes into the postgresql.conf that `-c config_file=` replaces (pitfall 23):
 * without these the server runs on built-in defaults (C messages, GMT, `simple` text search,
 * so no stemming).
 */
function localeSettings(postgres: PostgresPlan): PostgresSetting[] {
    return [
        ["datestyle", "iso, mdy"],
        ["default_text_search_config", postgres.textSearchConfig],
        ["lc_messages", postgres.locale],
        ["lc_monetary", postgres.locale],
        ["lc_numeric", postgres.locale],
        ["lc_time", postgres.locale],
        ["log_timezone", postgres.timezone],
        ["timezone", postgres.timezone],
    ];
}

/** Every setting postgresql.conf carries, in file order. */
export function postgresSettings(plan: StackPlan, layout: ServerLayout): PostgresSetting[] {
    return [...programSettings(plan, layout), ...localeSettings(plan.postgres), ...archiveSettings(plan, layout), ...plan.postgres.extraSettings];
}

export function renderPostgresqlConf(plan: StackPlan, layout: ServerLayout): string {
    const line = ([name, value]: PostgresSetting) => `${postgresConfName(name)} = ${postgresConfValue(value, name)}\n`;
    const archive = archiveSettings(plan, layout);
    const ownSettings = [...programSettings(plan, layout), ...localeSettings(plan.postgres), ...archive];
    const programNames = new Set(ownSettings.map(([name]) => name));
    const lines = [renderedHeader("#", "postgresql.conf"), ...programSettings(plan, layout).map(line)];
    lines.push("\n# what initdb would have written (locale, time zone, text search)\n", ...localeSettings(plan.postgres).map(line));
    if (archive.length > 0) {
        lines.push("\n# zentoria:backups: continuous WAL archiving into the backup volume\n", ...archive.map(line));
    }
    if (plan.postgres.extraSettings.length > 0) {
        lines.push("\n# zentoria:postgres.settings\n");
        for (const [name, value] of plan.postgres.extraSettings) {
            // A later line wins in postgresql.conf: the program's own settings stay its own.
            if (programNames.has(name.toLowerCase()) || /^include/i.test(name)) {
                throw new RenderError("postgresql.conf", name, "is the program's own setting or a directive");
            }
            lines.push(line([name, value]));
        }
    }
    return lines.join("");
}

/** Addresses of the stack's Docker network, known once Docker has created it. */
export interface NetworkAddresses {
    /** The network's subnet: every container on it, and the Docker host through the gateway. */
    subnet: string;
    /**
     * The host side of the network. Connections to ports published on the host's loopback
     * address reach the containers from here (docker-proxy, or the hairpin NAT without it):
     * the Pulumi postgresql provider and every tool on the Docker host.
     */
    gateway: string;
}

export interface HbaRule {
    type: "local" | "host" | "hostssl" | "hostnossl";
    databases: readonly string[];
    users: readonly string[];
    /** CIDR; absent for local rules. */
    address?: string;
    method: string;
    comment: string;
}

/** The databases each login role may connect to: what its grants and pools name, nothing else. */
export function databasesByRole(plan: StackPlan): Map<string, string[]> {
    const byRole = new Map<string, Set<string>>();
    const add = (role: string, database: string) => byRole.set(role, (byRole.get(role) ?? new Set<string>()).add(database));
    for (const grant of plan.grants) {
        add(grant.role, grant.database);
    }
    for (const pool of plan.pools) {
        add(pool.role, pool.database);
    }
    for (const role of plan.roles.filter((candidate) => candidate.access === "monitoring")) {
        // pg_monitor's views are cluster-wide; the maintenance database is where they are read.
        add(role.name, MAINTENANCE_DATABASE);
    }
    return new Map([...byRole].sort(([a], [b]) => a.localeCompare(b)).map(([role, databases]) => [role, [...databases].sort()]));
}

const hostCidr = (address: string) => (address.includes(":") ? `${address}/128` : `${address}/32`);

/**
 * Who may log in to which database from where, most specific first and a reject last:
 * the superuser over the socket (peer, mapped from the OS user the containers run as) and from
 * the network's gateway (the provider through the published port), never from a container;
 * each other role only to the databases it has grants or pools in.
 */
export function hbaRules(plan: StackPlan, network: NetworkAddresses): HbaRule[] {
    const superuser = plan.postgres.superuser;
    const tls = tlsUse(plan);
    // TLS (issue 11): on the network only with tls.inNetwork; from beyond the host always.
    const networkType = tls.inNetwork ? "hostssl" : "host";
    const rules: HbaRule[] = [
        { type: "local", databases: ["all"], users: [superuser], method: `peer map=${IDENT_MAP}`, comment: "the superuser, from inside the container (docker exec)" },
        { type: "local", databases: ["all"], users: ["all"], method: "reject", comment: "nobody else over the socket" },
        ...gatewayPlainTextReject(plan, network),
        {
            type: networkType,
            databases: ["all"],
            users: [superuser],
            address: hostCidr(network.gateway),
            method: "scram-sha-256",
            comment: "the superuser from the Docker host (the Pulumi provider, operators)",
        },
    ];
    const byRole = [...databasesByRole(plan)].filter(([role]) => role !== superuser);
    for (const [role, databases] of byRole) {
        rules.push({ type: networkType, databases, users: [role], address: network.subnet, method: "scram-sha-256", comment: `${role}: its databases only` });
    }
    if (tls.published) {
        for (const [role, databases] of byRole) {
            for (const anywhere of ["0.0.0.0/0", "::/0"]) {
                rules.push({ type: "hostssl", databases, users: [role], address: anywhere, method: "scram-sha-256", comment: `${role}: its databases through the published port, TLS only` });
            }
        }
    }
    if (plan.backups.enabled) {
        const role = plan.backups.role.name;
        rules.push({ type: networkType, databases: ["replication"], users: [role], address: network.subnet, method: "scram-sha-256", comment: `${role}: base backups (replication only), from the backup sidecar` });
    }
    rules.push(
        { type: "host", databases: ["all"], users: ["all"], address: "0.0.0.0/0", method: "reject", comment: "everything else" },
        { type: "host", databases: ["all"], users: ["all"], address: "::/0", method: "reject", comment: "everything else" },
    );
    return rules;
}

/**
 * With ports published beyond the host, connections to them can reach the container from the
 * network's gateway: Docker masquerades the host's own connections to its public address, and
 * its userland proxy forwards from there. So the gateway must use TLS like everyone outside.
 */
export function gatewayPlainTextReject(plan: StackPlan, network: NetworkAddresses): HbaRule[] {
    if (!tlsUse(plan).published) {
        return [];
    }
    return [
        {
            type: "hostnossl",
            databases: ["all"],
            users: ["all"],
            address: hostCidr(network.gateway),
            method: "reject",
            comment: "plain text from the gateway: published-port connections arrive from there too",
        },
    ];
}

function hbaField(value: string, where: string): string {
    if (!/^[A-Za-z0-9_.:/=-]+$/.test(value)) {
        throw new RenderError("pg_hba.conf", where, "cannot be written unquoted", value);
    }
    return value;
}

export function renderPgHbaConf(rules: readonly HbaRule[]): string {
    const lines = rules.map((rule) => {
        const databases = rule.databases.map((database) => hbaField(database, "database")).join(",");
        const users = rule.users.map((user) => hbaField(user, "user")).join(",");
        const address = rule.address === undefined ? "" : hbaField(rule.address, "address");
        const method = rule.method.split(" ").map((part) => hbaField(part, "method")).join(" ");
        if (/[\r\n]/.test(rule.comment)) {
            throw new RenderError("pg_hba.conf", "comment", "must be one line", rule.comment);
        }
        return `# ${rule.comment}\n${[rule.type, databases, users, address, method].filter((field) => field !== "").join("  ")}\n`;
    });
    return [renderedHeader("#", "pg_hba.conf"), ...lines].join("");
}

/** The ident map that lets the containers' OS user `postgres` log in as the plan's superuser. */
export const IDENT_MAP = "superuser";
export const CONTAINER_OS_USER = "postgres";

export function renderPgIdentConf(plan: StackPlan): string {
    return [renderedHeader("#", "pg_ident.conf"), "# MAPNAME  SYSTEM-USERNAME  PG-USERNAME\n", `${IDENT_MAP}  ${CONTAINER_OS_USER}  ${hbaField(plan.postgres.superuser, "user")}\n`].join("");
}
