// postgresql.conf and pg_hba.conf from the plan.
import { PostgresPlan, StackPlan } from "../config/plan";
import { renderedHeader } from "./header";
import { ServerLayout } from "./layout";
import { postgresConfName, postgresConfValue, RenderError } from "./quote";

type Setting = readonly [string, string | number | boolean];

function programSettings(plan: StackPlan, layout: ServerLayout): Setting[] {
    const postgres: PostgresPlan = plan.postgres;
    return [
        ["listen_addresses", layout.listenAddress === "0.0.0.0" ? "*" : layout.listenAddress],
        ["port", postgres.port],
        ["max_connections", postgres.maxConnections],
        ["superuser_reserved_connections", postgres.superuserReservedConnections],
        ["hba_file", layout.postgres.hbaFile],
        ["unix_socket_directories", layout.postgres.socketDirectory],
        ["password_encryption", "scram-sha-256"],
        ["shared_buffers", postgres.sharedBuffers],
        // Section 6.1's idle timeout; statement_timeout is set per role (section 6.1's query
        // timeout) so that the superuser's maintenance is not cut off.
        ["idle_in_transaction_session_timeout", `${plan.timeouts.idleSeconds}s`],
    ];
}

export function renderPostgresqlConf(plan: StackPlan, layout: ServerLayout): string {
    const lines = [renderedHeader("#", "postgresql.conf")];
    const programNames = new Set<string>();
    for (const [name, value] of programSettings(plan, layout)) {
        programNames.add(name);
        lines.push(`${postgresConfName(name)} = ${postgresConfValue(value, name)}\n`);
    }
    if (plan.postgres.extraSettings.length > 0) {
        lines.push("\n# zentoria:postgres.settings\n");
        for (const [name, value] of plan.postgres.extraSettings) {
            // A later line wins in postgresql.conf: the program's own settings stay its own.
            if (programNames.has(name.toLowerCase()) || /^include/i.test(name)) {
                throw new RenderError("postgresql.conf", name, "is the program's own setting or a directive");
            }
            lines.push(`${postgresConfName(name)} = ${postgresConfValue(value, name)}\n`);
        }
    }
    return lines.join("");
}

/**
 * Local socket logins are peer-authenticated (the image's init scripts run as the postgres OS
 * user); every TCP login needs a SCRAM password.
 */
export function renderPgHbaConf(): string {
    return [
        renderedHeader("#", "pg_hba.conf"),
        "# TYPE  DATABASE  USER  ADDRESS    METHOD\n",
        "local   all       all             peer\n",
        "host    all       all   0.0.0.0/0  scram-sha-256\n",
        "host    all       all   ::/0       scram-sha-256\n",
    ].join("");
}
