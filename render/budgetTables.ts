// The connection budget as text tables, for `npm run plan` and the `budget` stack output.
import { ConnectionBudget } from "../config/budget";

type Cell = string | number;

export function textTable(headers: readonly string[], rows: ReadonlyArray<readonly Cell[]>): string {
    const cells = [headers, ...rows.map((row) => row.map(String))];
    const widths = headers.map((_, column) => Math.max(...cells.map((row) => String(row[column] ?? "").length)));
    const line = (row: readonly Cell[]) =>
        row
            .map((cell, column) => (typeof cell === "number" ? String(cell).padStart(widths[column]) : String(cell).padEnd(widths[column])))
            .join("  ")
            .trimEnd();
    return [line(headers), widths.map((width) => "-".repeat(width)).join("  "), ...rows.map(line)].join("\n") + "\n";
}

const pct = (used: number, limit: number) => `${Math.round((100 * used) / limit)}%`;

export function budgetTables(budget: ConnectionBudget): Record<string, string> {
    const { pools, databases, roles, postgres, clients, redis, qdrant } = budget;
    const withExporters = roles.some((role) => role.exporters > 0);
    return {
        pools: textTable(
            ["pgbouncer database", "service", "role", "database", "warm", "steady", "peak", "clients", "max_db_connections", "use"],
            pools.map((p) => [p.alias, p.service, p.role, p.database, p.warm, p.steady, p.peak, p.maxClientConnections, p.entryLimit, pct(p.peak, p.entryLimit)]),
        ),
        databases: textTable(
            ["postgresql database", "pgbouncer databases", "peak"],
            databases.map((d) => [d.database, d.aliases.join(","), d.peak]),
        ),
        // The exporters' column only where monitoring is on: a stack without it keeps its tables.
        roles: textTable(
            ["role", "access", "pooled peak", "pgbouncer cap", "direct", ...(withExporters ? ["exporters"] : []), "program", "peak", "connection limit", "use"],
            roles.map((r) => [
                r.role,
                r.access,
                r.pooledPeak,
                r.pgbouncerCap ?? "-",
                r.direct,
                ...(withExporters ? [r.exporters] : []),
                r.program,
                r.peak,
                r.limitBinds ? r.connectionLimit : `${r.connectionLimit} (not enforced: superuser)`,
                r.limitBinds ? pct(r.peak, r.connectionLimit) : "-",
            ]),
        ),
        postgres: textTable(
            ["postgresql", "connections", "limit", "headroom", "use"],
            [
                ["non-superuser peak", postgres.regularPeak, postgres.availableToRegularRoles, postgres.availableToRegularRoles - postgres.regularPeak, pct(postgres.regularPeak, postgres.availableToRegularRoles)],
                [
                    "with the superuser's",
                    postgres.regularPeak + postgres.superuserPeak,
                    postgres.maxConnections,
                    postgres.maxConnections - postgres.regularPeak - postgres.superuserPeak,
                    pct(postgres.regularPeak + postgres.superuserPeak, postgres.maxConnections),
                ],
                ["role limits (sum)", postgres.roleLimitSum, postgres.availableToRegularRoles, postgres.availableToRegularRoles - postgres.roleLimitSum, pct(postgres.roleLimitSum, postgres.availableToRegularRoles)],
                ...(postgres.replicationPeak > 0
                    ? [["base backups (max_wal_senders)", postgres.replicationPeak, postgres.maxWalSenders, postgres.maxWalSenders - postgres.replicationPeak, pct(postgres.replicationPeak, postgres.maxWalSenders)] as Cell[]]
                    : []),
            ],
        ),
        clients: textTable(
            ["pgbouncer clients", "connections", "limit", "headroom", "use"],
            [
                ...clients.services.map((s) => [s.service, s.maxClientConnections, "", "", ""] as Cell[]),
                [clients.exporterConsoleSessions > 0 ? `admin console (pgbouncer_exporter ${clients.exporterConsoleSessions})` : "admin console", clients.consoleClients, "", "", ""],
                ["total", clients.total, clients.maxClientConn, clients.maxClientConn - clients.total, pct(clients.total, clients.maxClientConn)],
                [
                    "file descriptors",
                    clients.fileDescriptorsNeeded,
                    clients.fileDescriptorLimit,
                    clients.fileDescriptorLimit - clients.fileDescriptorsNeeded,
                    pct(clients.fileDescriptorsNeeded, clients.fileDescriptorLimit),
                ],
            ],
        ),
        redis: textTable(
            ["redis client", "user", "db", "max connections", "purpose"],
            [
                ...redis.clients.map((c) => [c.name, c.user, c.database, c.maxConnections, c.purpose] as Cell[]),
                [redis.systemUsers.join("/"), "", "", redis.systemConnections, "operations"],
                ...(redis.exporterConnections > 0 ? [["redis_exporter", "monitor", "", redis.exporterConnections, "monitoring (section 5.3)"] as Cell[]] : []),
                ["total", "", "", redis.total, `warning > ${redis.warningClients}, critical > ${redis.criticalClients}, maxclients ${redis.maxclients} (${pct(redis.total, redis.maxclients)})`],
            ],
        ),
        qdrant: textTable(
            ["qdrant operation", "concurrency", "timeout (s)"],
            [
                ...qdrant.operations.map((o) => [o.name, o.concurrency, o.timeoutSeconds] as Cell[]),
                ["total", qdrant.totalConcurrency, `http maxSockets ${qdrant.httpMaxSockets}${qdrant.enabled ? "" : " (qdrant disabled)"}`],
            ],
        ),
    };
}
