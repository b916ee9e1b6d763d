// `npm run emergency` on real PostgreSQL, PgBouncer 1.24 and Redis: postgres-terminate-idle ends
// the application roles' idle sessions and leaves the superuser's, the monitoring role's and
// PgBouncer's own alone; redis-kill-clients drops the services' clients and keeps the monitor's
// and the healthcheck's; without --yes neither changes anything.
import Redis from "ioredis";
import { Client } from "pg";
import { pgConfig } from "../../ops/console/connect";
import { StackOutputs } from "../../ops/console/outputs";
import { parseClientList } from "../../ops/console/redis";
import { connectPg, endAll, redisClient } from "./support/clients";
import { Stack, useStack } from "./support/fixture";
import { harnessOutputs, OPERATIONS_CONFIG, runEmergency } from "./support/operations";
import { LOOPBACK } from "./support/plan";

const pgClients: Client[] = [];
const redisClients: Redis[] = [];
afterAll(async () => {
    await endAll(pgClients);
    redisClients.forEach((client) => client.disconnect());
}, 60_000);

const servers = useStack({ postgres: true, pgbouncer: true, redis: true, config: OPERATIONS_CONFIG });

let outputs: StackOutputs;
beforeAll(() => {
    outputs = harnessOutputs(servers.stack);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function pid(client: Client): Promise<number> {
    return Number((await client.query("SELECT pg_backend_pid() AS pid")).rows[0].pid);
}

async function livePids(stack: Stack): Promise<Set<number>> {
    const superuser = await stack.superuser();
    try {
        const { rows } = await superuser.query("SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()");
        return new Set(rows.map((row) => Number(row.pid)));
    } finally {
        await superuser.end();
    }
}

async function pgbouncerServerPids(stack: Stack): Promise<number[]> {
    const admin = await connectPg(stack.adminConsoleConfig());
    try {
        return (await admin.query("SHOW SERVERS")).rows.map((row) => Number(row.remote_pid));
    } finally {
        await admin.end();
    }
}

/** A session that ran one query and now idles, as a service's direct connection does between uses. */
async function idleSession(url: string, application: string): Promise<{ client: Client; pid: number }> {
    const client = await connectPg(pgConfig(url, application));
    pgClients.push(client);
    return { client, pid: await pid(client) };
}

servers.test(
    "postgres-terminate-idle --older-than 1s: the application roles' idle sessions end; the monitoring session, the superuser and PgBouncer's server connections stay; without --yes nothing changes",
    async (stack) => {
        const strings = stack.connectionStrings();
        const apps = [
            await idleSession(strings.postgres.backend.zentoria_main.direct, "backend-migrations"),
            await idleSession(strings.postgres.backend.zentoria_vectors.direct, "backend-migrations"),
            await idleSession(strings.postgres.n8n.n8n.direct, "n8n-listen"),
        ];
        const monitoring = await idleSession(strings.operators.monitoring.zentoria_monitor, "exporter");
        const superuser = await idleSession(String(strings.operators.env.POSTGRES_SUPERUSER_URL), "operator-psql");
        // A pool in use, so that PgBouncer holds (idle) server connections of an application role.
        const pooled = await connectPg(pgConfig(strings.postgres.backend.zentoria_main.pooled, "backend"));
        pgClients.push(pooled);
        await pooled.query("SELECT 1");
        const pgbouncerPids = await pgbouncerServerPids(stack);
        expect(pgbouncerPids.length).toBeGreaterThanOrEqual(1);
        await sleep(1500);

        const before = await livePids(stack);
        const dry = await runEmergency(outputs, ["postgres-terminate-idle", "--older-than", "1s"]);
        expect({ code: dry.code, stderr: dry.stderr }).toEqual({ code: 0, stderr: "" });
        for (const app of apps) {
            expect(dry.stdout).toMatch(new RegExp(`^ {2}${app.pid} .* terminate$`, "m"));
        }
        expect(dry.stdout).toMatch(new RegExp(`^ {2}${monitoring.pid} +zentoria_monitor .* keep \\(monitoring role\\)$`, "m"));
        expect(dry.stdout).toMatch(new RegExp(`^ {2}${superuser.pid} +postgres .* keep \\(superuser\\)$`, "m"));
        for (const serverPid of pgbouncerPids) {
            expect(dry.stdout).toMatch(new RegExp(`^ {2}${serverPid} .* keep \\(PgBouncer's server connection\\)$`, "m"));
        }
        expect(dry.stdout).toContain("Dry run: nothing changed. Run again with --yes to terminate these 3 session(s) with pg_terminate_backend.");
        expect(await livePids(stack)).toEqual(before);

        const act = await runEmergency(outputs, ["postgres-terminate-idle", "--older-than", "1s", "--yes"]);
        expect({ code: act.code, stderr: act.stderr }).toEqual({ code: 0, stderr: "" });
        expect(act.stdout).toContain("Terminated 3 session(s).");
        // pg_terminate_backend signals; the backends end right after.
        for (let tries = 0; tries < 100 && apps.some((app) => before.has(app.pid)); tries++) {
            const live = await livePids(stack);
            if (apps.every((app) => !live.has(app.pid))) {
                break;
            }
            await sleep(100);
        }
        const after = await livePids(stack);
        expect(apps.filter((app) => after.has(app.pid))).toEqual([]);
        for (const app of apps) {
            await expect(app.client.query("SELECT 1")).rejects.toThrow();
        }
        expect([monitoring.pid, superuser.pid, ...pgbouncerPids].filter((kept) => !after.has(kept))).toEqual([]);
        expect((await monitoring.client.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
        expect((await superuser.client.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
        expect((await pooled.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);

        // Again: nothing left to terminate.
        const again = await runEmergency(outputs, ["postgres-terminate-idle", "--older-than", "1s", "--yes"]);
        expect(again.code).toBe(0);
        expect(again.stdout).toContain("No idle session to terminate: nothing to do.");
    },
    180_000,
);

servers.test("postgres-terminate-idle: a wrong --older-than is refused with one line, before anything is read", async () => {
    const run = await runEmergency(outputs, ["postgres-terminate-idle", "--older-than", "soon", "--yes"]);
    expect(run).toEqual({ code: 2, stdout: "", stderr: 'emergency: --older-than takes a duration such as 90s, 30m or 2h, not "soon"\n' });
}, 60_000);

servers.test("redis-kill-clients: the services' clients dropped, the monitor and the healthcheck still connected; without --yes nothing changes", async (stack) => {
    const strings = stack.connectionStrings();
    const connect = async (target: string | { username: string; password: string }) => {
        const client =
            typeof target === "string"
                ? redisClient(target)
                : redisClient({ host: LOOPBACK, port: stack.plan.redis.port, username: target.username, password: target.password }, { enableReadyCheck: false });
        redisClients.push(client);
        await client.connect();
        await client.ping();
        return client;
    };
    const services = [await connect(strings.redis.sessions), await connect(strings.redis.cache), await connect(strings.redis.queues)];
    const monitor = await connect(String(strings.operators.env.REDIS_MONITOR_URL));
    const healthcheck = await connect({ username: "healthcheck", password: stack.credentials.redis.healthcheck });
    /** Every client Redis has, as `<id>:<user>`, but the one asking. */
    const clients = async () => {
        const admin = redisClient(String(strings.operators.env.REDIS_ADMIN_URL));
        await admin.connect();
        try {
            const own = Number(await admin.client("ID"));
            return parseClientList(String(await admin.client("LIST")))
                .filter((client) => client.id !== own)
                .map((client) => `${client.id}:${client.user}`)
                .sort();
        } finally {
            admin.disconnect();
        }
    };
    const users = (list: string[]) => list.map((entry) => entry.split(":")[1]).sort();
    const before = await clients();
    expect(users(before)).toEqual(["backend", "backend", "healthcheck", "monitor", "n8n"]);

    const dry = await runEmergency(outputs, ["redis-kill-clients"]);
    expect({ code: dry.code, stderr: dry.stderr }).toEqual({ code: 0, stderr: "" });
    expect(dry.stdout).toContain("Dry run: nothing changed. Run again with --yes to close these 3 client(s) with CLIENT KILL.");
    expect(await clients()).toEqual(before);

    const act = await runEmergency(outputs, ["redis-kill-clients", "--yes"]);
    expect({ code: act.code, stderr: act.stderr }).toEqual({ code: 0, stderr: "" });
    expect(act.stdout).toContain("Closed 3 client(s).");
    expect(users(await clients())).toEqual(["healthcheck", "monitor"]);
    for (const service of services) {
        await expect(service.ping()).rejects.toThrow();
    }
    expect(await monitor.ping()).toBe("PONG");
    expect(await healthcheck.ping()).toBe("PONG");

    const again = await runEmergency(outputs, ["redis-kill-clients", "--yes"]);
    expect(again.stdout).toContain("No client to close: nothing to do.");
}, 120_000);
