// What PostgreSQL and PgBouncer report while the clients run: backends per role
// (pg_stat_activity, as the superuser), and PgBouncer's SHOW POOLS and SHOW STATS (admin console).
import { Client } from "pg";
import type { BenchServers } from "./servers";
import type { PgbouncerObservation } from "./results";

interface StatsRow {
    xact: number;
    wait: number;
    avgWait: number;
    /** total_server_assignment_count (PgBouncer 1.23+), else undefined. */
    assignments?: number;
    /** total_client_parse_count, total_server_parse_count, total_bind_count (1.21+), else undefined. */
    clientParses?: number;
    serverParses?: number;
    binds?: number;
}

/** A SHOW STATS counter, or undefined when this PgBouncer has no such column. */
function counter(row: Record<string, unknown>, column: string): number | undefined {
    return row[column] === undefined || row[column] === null ? undefined : Number(row[column]);
}

export type StatsSnapshot = Record<string, StatsRow>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Observer {
    private superuserClient?: Client;
    private constructor(
        private readonly servers: BenchServers,
        /** The one admin console session: it takes one of PgBouncer's max_client_conn slots. */
        readonly console: Client,
        private readonly roles: string[],
    ) {}

    static async open(servers: BenchServers): Promise<Observer> {
        const roles = servers.plan.roles.filter((role) => role.access !== "superuser").map((role) => role.name);
        return new Observer(servers, await servers.adminConsole(), roles);
    }

    /** A superuser query; reconnects once (PostgreSQL may have been restarted). */
    private async superuserQuery<T extends Record<string, unknown>>(sql: string, values: unknown[] = []): Promise<T[]> {
        for (let attempt = 0; ; attempt++) {
            try {
                this.superuserClient ??= await this.servers.superuser();
                return (await this.superuserClient.query<T>(sql, values)).rows;
            } catch (error) {
                await this.superuserClient?.end().catch(() => undefined);
                this.superuserClient = undefined;
                if (attempt >= 1) {
                    throw error;
                }
                await sleep(200);
            }
        }
    }

    /** Client backends of the application roles (not the superuser's), by role. */
    async backends(): Promise<Record<string, number>> {
        const rows = await this.superuserQuery<{ usename: string; count: string }>(
            `select usename, count(*) as count from pg_stat_activity
              where backend_type = 'client backend' and usename = any($1::text[]) group by usename`,
            [this.roles],
        );
        return Object.fromEntries(rows.map((row) => [row.usename, Number(row.count)]));
    }

    /** Every client backend, the superuser's (this observer's own included). */
    async allClientBackends(): Promise<number> {
        const rows = await this.superuserQuery<{ count: string }>("select count(*) as count from pg_stat_activity where backend_type = 'client backend'");
        return Number(rows[0].count);
    }

    async checkpoint(): Promise<void> {
        await this.superuserQuery("CHECKPOINT");
    }

    async superuserExec(sql: string): Promise<void> {
        await this.superuserQuery(sql);
    }

    async show(command: string): Promise<Array<Record<string, unknown>>> {
        return (await this.console.query(command)).rows;
    }

    async stats(): Promise<StatsSnapshot> {
        const snapshot: StatsSnapshot = {};
        for (const row of await this.show("SHOW STATS")) {
            if (row.database === "pgbouncer") {
                continue;
            }
            snapshot[String(row.database)] = {
                xact: Number(row.total_xact_count),
                wait: Number(row.total_wait_time),
                avgWait: Number(row.avg_wait_time),
                assignments: counter(row, "total_server_assignment_count"),
                clientParses: counter(row, "total_client_parse_count"),
                serverParses: counter(row, "total_server_parse_count"),
                binds: counter(row, "total_bind_count"),
            };
        }
        return snapshot;
    }

    async pgbouncerClients(): Promise<number> {
        return (await this.show("SHOW CLIENTS")).length;
    }

    async pgbouncerServers(): Promise<number> {
        return (await this.show("SHOW SERVERS")).length;
    }

    /**
     * Waits until the previous run's connections are gone: no PgBouncer client but the console,
     * and no application backend but PgBouncer's own server connections.
     */
    async settle(timeoutMs = 30_000): Promise<{ settled: boolean; backends: number; pgbouncerServers: number; pgbouncerClients: number }> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            const backends = Object.values(await this.backends()).reduce((a, b) => a + b, 0);
            const pgbouncerServers = await this.pgbouncerServers();
            const pgbouncerClients = await this.pgbouncerClients();
            const settled = backends <= pgbouncerServers && pgbouncerClients <= 1;
            if (settled || Date.now() > deadline) {
                return { settled, backends, pgbouncerServers, pgbouncerClients };
            }
            await sleep(200);
        }
    }

    /** Samples once a second until stopped; PgBouncer's view only when `pgbouncer`. */
    sample(pgbouncer: boolean): Sampler {
        return new Sampler(this, pgbouncer);
    }

    async close(): Promise<void> {
        await Promise.all([this.console.end().catch(() => undefined), this.superuserClient?.end().catch(() => undefined)]);
    }
}

export class Sampler {
    private running = true;
    private readonly loop: Promise<void>;
    readonly backends = { max: 0, byRole: {} as Record<string, number> };
    readonly pools = { maxClientsWaiting: 0, maxServerActive: 0, maxServerConnections: 0, maxWaitMs: 0, avgWaitTimeShownMaxUs: 0 };
    errors = 0;

    constructor(
        private readonly observer: Observer,
        private readonly pgbouncer: boolean,
    ) {
        this.loop = this.run();
    }

    private async once(): Promise<void> {
        const byRole = await this.observer.backends();
        const total = Object.values(byRole).reduce((a, b) => a + b, 0);
        this.backends.max = Math.max(this.backends.max, total);
        for (const [role, count] of Object.entries(byRole)) {
            this.backends.byRole[role] = Math.max(this.backends.byRole[role] ?? 0, count);
        }
        if (!this.pgbouncer) {
            return;
        }
        let waiting = 0;
        let active = 0;
        let servers = 0;
        for (const row of await this.observer.show("SHOW POOLS")) {
            if (row.database === "pgbouncer") {
                continue;
            }
            const n = (key: string) => Number(row[key] ?? 0);
            waiting += n("cl_waiting");
            active += n("sv_active");
            servers += n("sv_active") + n("sv_idle") + n("sv_used") + n("sv_tested") + n("sv_login");
            this.pools.maxWaitMs = Math.max(this.pools.maxWaitMs, n("maxwait") * 1000 + n("maxwait_us") / 1000);
        }
        this.pools.maxClientsWaiting = Math.max(this.pools.maxClientsWaiting, waiting);
        this.pools.maxServerActive = Math.max(this.pools.maxServerActive, active);
        this.pools.maxServerConnections = Math.max(this.pools.maxServerConnections, servers);
        for (const row of Object.values(await this.observer.stats())) {
            this.pools.avgWaitTimeShownMaxUs = Math.max(this.pools.avgWaitTimeShownMaxUs, row.avgWait);
        }
    }

    private async run(): Promise<void> {
        while (this.running) {
            const started = Date.now();
            try {
                await this.once();
            } catch {
                // PostgreSQL may be restarting; the next sample reconnects.
                this.errors++;
            }
            await sleep(Math.max(50, 1000 - (Date.now() - started)));
        }
    }

    async stop(): Promise<void> {
        this.running = false;
        await this.loop;
    }
}

/**
 * PgBouncer's view of one run from SHOW STATS before and after it and the sampler's maxima. The
 * wait is per server assignment where PgBouncer counts assignments (1.23+, the meaning its
 * avg_wait_time has since then), else per transaction (1.18).
 */
export function pgbouncerObservation(before: StatsSnapshot, after: StatsSnapshot, sampler: Sampler, consoleClients: number): PgbouncerObservation {
    let transactions = 0;
    let waitUs = 0;
    let assignments: number | undefined;
    let prepared: PgbouncerObservation["preparedStatements"];
    let worstPool = "";
    let worstPoolMeanWaitMs = 0;
    const delta = (alias: string, key: "assignments" | "clientParses" | "serverParses" | "binds") => {
        const value = after[alias][key];
        return value === undefined ? undefined : value - (before[alias]?.[key] ?? 0);
    };
    for (const [alias, row] of Object.entries(after)) {
        const xact = row.xact - (before[alias]?.xact ?? 0);
        const wait = row.wait - (before[alias]?.wait ?? 0);
        const assigned = delta(alias, "assignments");
        transactions += xact;
        waitUs += wait;
        if (assigned !== undefined) {
            assignments = (assignments ?? 0) + assigned;
        }
        const clientParses = delta(alias, "clientParses");
        if (clientParses !== undefined) {
            prepared ??= { clientParses: 0, serverParses: 0, binds: 0 };
            prepared.clientParses += clientParses;
            prepared.serverParses += delta(alias, "serverParses") ?? 0;
            prepared.binds += delta(alias, "binds") ?? 0;
        }
        const per = assigned ?? xact;
        const mean = per > 0 ? wait / per / 1000 : 0;
        if (mean >= worstPoolMeanWaitMs && per > 0) {
            worstPoolMeanWaitMs = mean;
            worstPool = alias;
        }
    }
    const round = (value: number) => Math.round(value * 1000) / 1000;
    return {
        ...sampler.pools,
        maxWaitMs: round(sampler.pools.maxWaitMs),
        transactions,
        waitUs,
        ...(assignments === undefined ? {} : { serverAssignments: assignments, meanWaitPerAssignmentMs: assignments > 0 ? round(waitUs / assignments / 1000) : 0 }),
        meanWaitPerTransactionMs: transactions > 0 ? round(waitUs / transactions / 1000) : 0,
        worstPoolMeanWaitMs: round(worstPoolMeanWaitMs),
        worstPool,
        avgWaitTimeShownMaxUs: sampler.pools.avgWaitTimeShownMaxUs,
        ...(prepared && prepared.clientParses + prepared.binds > 0 ? { preparedStatements: prepared } : {}),
        consoleClients,
    };
}
