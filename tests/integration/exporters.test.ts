// The three exporters as the program configures them (render/monitoring.ts), each against a real
// server: they log in with the credentials in their files, report what the alert rules read, open
// no more connections than the budget counts (config/plan.ts EXPORTER_CONNECTIONS), and Redis'
// monitor user allows exactly what redis_exporter sends.
import * as fs from "fs";
import Redis from "ioredis";
import { Client } from "pg";
import { EXPORTER_CONNECTIONS, StackPlan } from "../../config/plan";
import { redisPasswordHash } from "../../render/hashing";
import {
    LONG_QUERY_METRIC,
    pgbouncerExporterFiles,
    pgbouncerExporterSettings,
    postgresExporterFiles,
    postgresExporterSettings,
    redisExporterFiles,
    redisExporterSettings,
} from "../../render/monitoring";
import { REDIS_EXPORTER_COMMANDS, renderRedisAcl } from "../../render/redis";
import { connectPg, endAll, pgConfigFromLibpqUrl, redisClient } from "./support/clients";
import { RunningExporter, sampleValue, startExporter } from "./support/exporters";
import { useStack } from "./support/fixture";
import { configPlan } from "./support/plan";

const MONITORING_ON = { prefix: "zentoria", bindAddress: "127.0.0.1", monitoring: { enabled: true } };

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

describe("redis_exporter as the monitor user", () => {
    const servers = useStack({ redis: true, config: MONITORING_ON });
    let exporter: RunningExporter | undefined;
    afterAll(() => exporter?.stop());

    /** `command` as the admin user, on a connection of its own (ACL LOAD drops the connections of reloaded users). */
    async function asAdmin(...command: string[]): Promise<unknown> {
        const { stack } = servers;
        const client = redisClient({ host: "127.0.0.1", port: stack.ports.redis, username: "admin", password: stack.credentials.redis.admin });
        await client.connect();
        try {
            return await client.call(command[0], ...command.slice(1));
        } finally {
            client.disconnect();
        }
    }

    /** The ACL users of `plan` loaded into the running server (the file of record, then ACL LOAD), and the ACL log emptied. */
    async function loadAcl(plan: StackPlan): Promise<void> {
        const { stack } = servers;
        const hashes = Object.fromEntries(Object.entries(stack.credentials.redis).map(([user, password]) => [user, redisPasswordHash(password)]));
        fs.writeFileSync(stack.layout.redis.aclFile, renderRedisAcl(plan.redis, hashes));
        await asAdmin("ACL", "LOAD");
        await asAdmin("ACL", "LOG", "RESET");
    }

    /** What the ACL refused since the last reset: user, reason, command. */
    async function refused(): Promise<string[]> {
        const entries = (await asAdmin("ACL", "LOG")) as unknown[][];
        const objects = entries.map((entry) => {
            const fields = Object.fromEntries(Array.from({ length: entry.length / 2 }, (_, index) => [String(entry[2 * index]), entry[2 * index + 1]]));
            return `${fields.username} ${fields.reason} ${fields.object}`;
        });
        return [...new Set(objects)].sort();
    }

    servers.test(
        "it logs in with its password file; without the exporter's commands the monitor is refused exactly those, with them nothing",
        async (stack) => {
            expect(stack.plan.redis.monitorExporter).toBe(true);
            const settings = redisExporterSettings(stack.plan);
            exporter = await startExporter("redis-exporter", settings.command, settings.envs, redisExporterFiles(stack.plan, stack.credentials.redis.monitor), [stack.plan.redis.hostname]);
            // The monitor as it is without monitoring: what the exporter sends beyond it is refused.
            const withoutExporter = configPlan(stack.ports, { ...MONITORING_ON, monitoring: { enabled: false } }).plan;
            await loadAcl(withoutExporter);
            const partial = await exporter.metrics();
            expect(sampleValue(partial, "redis_up")).toBe(1);
            expect(await refused()).toEqual(REDIS_EXPORTER_COMMANDS.map((command) => `monitor command ${command.slice(1)}`).sort());

            // As rendered with monitoring on: nothing refused, and the figures the rules read are there.
            await loadAcl(stack.plan);
            const metrics = await exporter.metrics();
            await exporter.metrics();
            expect(await refused()).toEqual([]);
            expect(sampleValue(metrics, "redis_up")).toBe(1);
            for (const name of ["redis_connected_clients", "redis_blocked_clients", "redis_rejected_connections_total"]) {
                expect({ name, value: sampleValue(metrics, name) }).toEqual({ name, value: expect.any(Number) });
            }
            // Its connection is gone after the scrape (the budget counts one, while it scrapes).
            const clients = String(await asAdmin("CLIENT", "LIST")).split("\n").filter((line) => line.includes("user=monitor"));
            expect(clients.length).toBeLessThanOrEqual(EXPORTER_CONNECTIONS.redis);
        },
        180_000,
    );

    /** A figure read until two reads in a row agree (and `wanted` holds), for at most a minute: other connections come and go on a busy machine. */
    async function settledValue(read: () => Promise<number>, wanted: (value: number) => boolean = () => true): Promise<number> {
        const deadline = Date.now() + 60_000;
        let previous = await read();
        for (;;) {
            await new Promise((resolve) => setTimeout(resolve, 500));
            const value = await read();
            if ((value === previous && wanted(value)) || Date.now() > deadline) {
                return value;
            }
            previous = value;
        }
    }

    servers.test("connected_clients counts clients as section 5.3 means it", async (stack) => {
        const connected = async () => sampleValue(await exporter!.metrics(), "redis_connected_clients")!;
        // Two equal reads in a row: the connections of earlier tests have closed.
        const before = await settledValue(connected);
        const extra: Redis[] = [];
        try {
            for (let index = 0; index < 5; index++) {
                const client = redisClient({ host: "127.0.0.1", port: stack.ports.redis, username: "healthcheck", password: stack.credentials.redis.healthcheck, enableReadyCheck: false });
                await client.connect();
                extra.push(client);
            }
            expect(await settledValue(connected, (value) => value === before + 5)).toBe(before + 5);
        } finally {
            extra.forEach((client) => client.disconnect());
        }
    }, 180_000);
});

describe("pgbouncer_exporter and postgres_exporter as the monitoring role", () => {
    const servers = useStack({ postgres: true, pgbouncer: true });
    const exporters: RunningExporter[] = [];
    afterAll(() => exporters.forEach((exporter) => exporter.stop()));

    /** The stack's servers, with the files the program renders for monitoring on (same ports, names and role). */
    const monitoringPlan = () => configPlan(servers.stack.ports, MONITORING_ON).plan;
    const monitorPassword = () => servers.stack.credentials.postgres[monitoringPlan().monitoring.role];

    servers.test(
        "postgres_exporter: in with its password file, section 5.2's figures out, at most the connections the budget counts",
        async (stack) => {
            const plan = monitoringPlan();
            const settings = postgresExporterSettings(plan);
            const exporter = await startExporter("postgres-exporter", settings.command, settings.envs, postgresExporterFiles(monitorPassword()), [plan.postgres.hostname]);
            exporters.push(exporter);
            const superuser = await stack.superuser();
            const sleeper = await connectPg({ ...stack.superuserConfig(), application_name: "integration-test-long-query" });
            const sleeperPid = Number((await sleeper.query("select pg_backend_pid() as pid")).rows[0].pid);
            const running = sleeper.query("select pg_sleep(60)").catch((error: Error) => error);
            try {
                await sleep(3000);
                // Scrape while counting the exporter's sessions.
                let most = 0;
                let metrics = "";
                const scrapes = (async () => {
                    for (let round = 0; round < 3; round++) {
                        metrics = await exporter.metrics();
                    }
                })();
                let done = false;
                scrapes.finally(() => (done = true));
                while (!done) {
                    const { rows } = await superuser.query("select count(*)::int as sessions from pg_stat_activity where application_name = 'postgres_exporter'");
                    most = Math.max(most, rows[0].sessions);
                    await sleep(20);
                }
                await scrapes;
                expect(sampleValue(metrics, "pg_up")).toBe(1);
                expect(most).toBeGreaterThanOrEqual(1);
                expect(most).toBeLessThanOrEqual(EXPORTER_CONNECTIONS.postgres);
                const { rows } = await superuser.query("select distinct usename from pg_stat_activity where application_name = 'postgres_exporter'");
                expect(rows.map((row) => row.usename)).toEqual([plan.monitoring.role]);
                // Section 5.2: the superuser's query, seen by the monitoring role, with its age.
                const age = sampleValue(metrics, LONG_QUERY_METRIC, { usename: plan.postgres.superuser, state: "active", datname: "postgres" });
                expect(age).toBeGreaterThanOrEqual(3);
                expect(age).toBeLessThan(60);
                // Connections by role and state, including background ones the rules leave out.
                expect(sampleValue(metrics, "pg_stat_activity_count", { usename: plan.postgres.superuser, state: "active", backend_type: "client backend" })).toBeGreaterThanOrEqual(1);
            } finally {
                await superuser.query("select pg_cancel_backend($1)", [sleeperPid]);
                await running;
                await endAll([superuser, sleeper]);
            }
        },
        240_000,
    );

    servers.test(
        "pgbouncer_exporter: in through its password file, one admin console session as the stats user, every pool's figures",
        async (stack) => {
            const plan = monitoringPlan();
            const settings = pgbouncerExporterSettings(plan);
            const exporter = await startExporter("pgbouncer-exporter", settings.command, settings.envs, pgbouncerExporterFiles(plan, monitorPassword()), [plan.pgbouncer.hostname]);
            exporters.push(exporter);
            const pool = plan.pools.find((candidate) => candidate.alias === "zentoria_main_n8n")!;
            const clients: Client[] = [];
            const admin = await connectPg(stack.adminConsoleConfig());
            try {
                for (let index = 0; index < 3; index++) {
                    clients.push(await connectPg(pgConfigFromLibpqUrl(stack.connectionStrings().postgres[pool.service][pool.database].pooled)));
                }
                await exporter.metrics();
                const metrics = await exporter.metrics();
                expect(sampleValue(metrics, "pgbouncer_up")).toBe(1);
                const labels = { database: pool.alias, user: pool.role };
                expect(sampleValue(metrics, "pgbouncer_pools_client_active_connections", labels)! + sampleValue(metrics, "pgbouncer_pools_client_waiting_connections", labels)!).toBe(3);
                for (const name of ["pgbouncer_pools_server_active_connections", "pgbouncer_used_clients", "pgbouncer_stats_client_wait_seconds_total", "pgbouncer_stats_sql_transactions_pooled_total"]) {
                    expect({ name, value: sampleValue(metrics, name) }).toEqual({ name, value: expect.any(Number) });
                }
                const consoleSessions = (await admin.query("SHOW CLIENTS")).rows.filter((row) => row.database === "pgbouncer" && row.user === plan.monitoring.role);
                expect(consoleSessions).toHaveLength(EXPORTER_CONNECTIONS.pgbouncerConsole);
            } finally {
                await endAll([...clients, admin]);
            }
        },
        240_000,
    );
});
