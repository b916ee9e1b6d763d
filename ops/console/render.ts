// The status report as a terminal table. Pure: colour is the caller's choice (a TTY without
// NO_COLOR); without it the text is plain, so that logs and pipes get no escape codes.
import { Verdict } from "../../config/verdicts";
import { BackupServiceStatus, BackupsStatus, Events, PgbouncerStatus, PostgresStatus, QdrantStatus, RedisStatus, Report, Unreachable } from "./report";

const COLOURS: Record<Verdict, string> = { ok: "\x1b[32m", warning: "\x1b[33m", critical: "\x1b[31m" };
const RESET = "\x1b[0m";

export interface RenderOptions {
    colour: boolean;
}

type Cell = string | { text: string; verdict: Verdict };

const cellText = (cell: Cell) => (typeof cell === "string" ? cell : cell.text);

/** Columns padded to their widest cell; verdict cells coloured after padding, so colour never shifts a column. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly Cell[]>, options: RenderOptions, indent = "  "): string[] {
    const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => cellText(row[column] ?? "").length)));
    const line = (cells: readonly Cell[]) =>
        indent +
        cells
            .map((cell, column) => {
                const padded = column === cells.length - 1 ? cellText(cell) : cellText(cell).padEnd(widths[column]);
                return typeof cell !== "string" && options.colour ? `${COLOURS[cell.verdict]}${padded}${RESET}` : padded;
            })
            .join("  ")
            .trimEnd();
    return [line(headers), ...rows.map(line)];
}

const verdictCell = (verdict: Verdict): Cell => ({ text: verdict, verdict });

function verdictWord(verdict: Verdict, options: RenderOptions): string {
    return options.colour ? `${COLOURS[verdict]}${verdict}${RESET}` : verdict;
}

const percent = (value: number | undefined) => (value === undefined ? "" : ` (${Math.round(value)}%)`);

function milliseconds(value: number | undefined): string {
    if (value === undefined) {
        return "-";
    }
    return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
}

function duration(seconds: number): string {
    if (seconds < 120) {
        return `${Math.round(seconds)} s`;
    }
    return seconds < 7200 ? `${Math.round(seconds / 60)} min` : `${(seconds / 3600).toFixed(1)} h`;
}

function eventsText(figure: Events): string {
    return `${figure.count} in the last ${duration(figure.windowSeconds)}`;
}

function heading(title: string, verdict: Verdict, options: RenderOptions): string {
    return `${title}: ${verdictWord(verdict, options)}`;
}

function unreachableLines(name: string, section: Unreachable, options: RenderOptions): string[] {
    return [heading(`${name} at ${section.endpoint}`, section.verdict, options), `  unreachable: ${section.error}`];
}

function pgbouncerLines(status: PgbouncerStatus, options: RenderOptions): string[] {
    const lines = [heading(`PgBouncer ${status.version.replace(/^PgBouncer\s*/, "")} at ${status.endpoint}`, status.verdict, options)];
    lines.push(`  all clients: ${status.clients.used} of max_client_conn ${status.clients.limit ?? "?"}${percent(status.clients.percent)}: ${verdictWord(status.clients.verdict, options)}`);
    const rows = status.pools.map((pool) => [
        pool.database,
        pool.user,
        `${pool.clients.active}/${pool.clients.waiting}`,
        pool.clients.limit === undefined ? "-" : `${pool.clients.limit}${percent(pool.clients.percent)}`,
        `${pool.servers.active}/${pool.servers.idle}`,
        pool.servers.limit === undefined ? "-" : `${pool.servers.limit}${percent(pool.servers.percent)}`,
        milliseconds(pool.wait.perTransactionMs) + (pool.wait.oldestWaitingMs > 0 ? ` (oldest ${milliseconds(pool.wait.oldestWaitingMs)})` : ""),
        pool.errors ? String(pool.errors.count) : "-",
        verdictCell(pool.verdict),
    ]);
    if (rows.length === 0) {
        lines.push("  pools: none yet (PgBouncer makes a pool on its first client)");
    } else {
        lines.push(...table(["pool", "user", "clients act/wait", "client limit", "servers act/idle", "pool_size", "wait/xact", "errors", "verdict"], rows, options));
    }
    if (status.errorsUnavailable) {
        lines.push(`  pool errors: not shown (${status.errorsUnavailable})`);
    } else if (status.otherErrors) {
        const window = status.pools[0]?.errors ?? status.otherErrors;
        lines.push(`  pool errors (PgBouncer's log) in the last ${duration(window.windowSeconds)}; outside the pools: ${status.otherErrors.count}: ${verdictWord(status.otherErrors.verdict, options)}`);
    }
    return lines;
}

function postgresLines(status: PostgresStatus, options: RenderOptions): string[] {
    const lines = [heading(`PostgreSQL ${status.version} at ${status.endpoint}`, status.verdict, options)];
    lines.push(`  connections: ${status.connections.used} of max_connections ${status.connections.limit ?? "?"}${percent(status.connections.percent)}: ${verdictWord(status.connections.verdict, options)}`);
    lines.push(...table(["database", "connections", "limit", "verdict"], status.databases.map((row) => [row.name, String(row.used), `${row.limit ?? "-"}${percent(row.percent)}`, verdictCell(row.verdict)]), options));
    lines.push(
        ...table(
            ["role", "connections", "CONNECTION LIMIT", "verdict"],
            status.roles.map((row) => [row.name, String(row.used), row.superuser ? "superuser (none)" : `${row.limit ?? "none"}${percent(row.percent)}`, verdictCell(row.verdict)]),
            options,
        ),
    );
    lines.push(...table(["application", "state", "connections"], status.applications.map((row) => [row.applicationName || "(none)", row.state, String(row.count)]), options));
    const long = status.longQueries;
    if (long.queries.length === 0) {
        lines.push(`  queries running longer than ${long.thresholdSeconds} s: none: ${verdictWord(long.verdict, options)}`);
    } else {
        lines.push(`  queries running longer than ${long.thresholdSeconds} s: ${long.queries.length}: ${verdictWord(long.verdict, options)}`);
        lines.push(
            ...table(
                ["pid", "role", "application", "state", "running", "query"],
                long.queries.map((query) => [String(query.pid), query.role, query.applicationName, query.state, duration(query.seconds), query.query.replace(/\s+/g, " ").slice(0, 60)]),
                options,
                "    ",
            ),
        );
    }
    return lines;
}

function redisLines(status: RedisStatus, options: RenderOptions): string[] {
    const levels = (warning: number, critical: number) => `warning above ${warning}, critical above ${critical}`;
    const memory =
        status.memory.maxmemory > 0
            ? `${status.memory.usedHuman} of maxmemory ${status.memory.maxmemoryHuman}${percent((100 * status.memory.used) / status.memory.maxmemory)}`
            : `${status.memory.usedHuman} (no maxmemory)`;
    return [
        heading(`Redis ${status.version} at ${status.endpoint}`, status.verdict, options),
        `  connected clients: ${status.connected.clients}${status.connected.maxclients === undefined ? "" : ` of maxclients ${status.connected.maxclients}`} (${levels(status.connected.levels.warning, status.connected.levels.critical)}): ${verdictWord(status.connected.verdict, options)}`,
        `  blocked clients: ${status.blocked.clients} (${levels(status.blocked.levels.warning, status.blocked.levels.critical)}): ${verdictWord(status.blocked.verdict, options)}`,
        `  rejected connections: ${eventsText(status.rejected)}: ${verdictWord(status.rejected.verdict, options)}`,
        `  memory: ${memory}`,
    ];
}

function qdrantLines(status: QdrantStatus, options: RenderOptions): string[] {
    const names = status.collections.length > 0 ? ` (${status.collections.join(", ")})` : "";
    return [
        heading(`Qdrant ${status.version} at ${status.endpoint}`, status.verdict, options),
        `  reachable with the read-only key; ${status.collections.length} collection(s)${names}; its API reports no connection figures`,
    ];
}

/** Bytes in binary units, one decimal from KiB on. */
export function byteSize(bytes: number): string {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
        value /= 1024;
        unit += 1;
    }
    return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

const utc = (iso: string) => iso.replace("T", " ").replace(/(\.\d+)?Z$/, " UTC");

function lastRunText(run: BackupServiceStatus["lastRun"]): string {
    if (!run) {
        return "-";
    }
    return `${run.outcome} ${utc(run.finishedAt)}${run.outcome === "failed" && run.message ? `: ${run.message}` : ""}`;
}

function backupsLines(status: BackupsStatus, options: RenderOptions): string[] {
    const lines = [heading(`Backups in ${status.endpoint} (every ${status.intervalHours} h)`, status.verdict, options)];
    const rows = status.services.map((service) => [
        service.service,
        service.lastSuccess ? utc(service.lastSuccess.finishedAt) : service.health === "none" ? "no backup yet" : "none",
        service.lastSuccess ? byteSize(service.lastSuccess.bytes) : "-",
        lastRunText(service.lastRun),
        { text: service.health === "ok" || service.health === "none" ? service.verdict : `${service.verdict} (${service.health})`, verdict: service.verdict },
    ]);
    lines.push(...table(["service", "last success", "size", "last run", "verdict"], rows, options));
    return lines;
}

export function renderReport(report: Report, options: RenderOptions): string {
    const when = report.at.replace("T", " ").replace(/\.\d+Z$/, " UTC");
    const blocks = [
        [`Stack ${report.stack}: ${verdictWord(report.verdict, options)} (${when})`],
        report.pgbouncer.reachable ? pgbouncerLines(report.pgbouncer, options) : unreachableLines("PgBouncer", report.pgbouncer, options),
        report.postgres.reachable ? postgresLines(report.postgres, options) : unreachableLines("PostgreSQL", report.postgres, options),
        report.redis.reachable ? redisLines(report.redis, options) : unreachableLines("Redis", report.redis, options),
        report.qdrant === undefined ? ["Qdrant: not deployed (qdrant.enabled: false)"] : report.qdrant.reachable ? qdrantLines(report.qdrant, options) : unreachableLines("Qdrant", report.qdrant, options),
        ...(report.backups === undefined ? [] : [report.backups.reachable ? backupsLines(report.backups, options) : unreachableLines("Backups", report.backups, options)]),
    ];
    return `${blocks.map((block) => block.join("\n")).join("\n\n")}\n`;
}
