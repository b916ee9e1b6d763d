// Issue 13: every kind of change a user makes to a running stack, applied by `pulumi up` while
// clients work through PgBouncer (and Redis), with what the clients saw counted.
import { execFileSync } from "child_process";
import * as fs from "fs";
import { Client } from "pg";
import Redis from "ioredis";
import { CONTAINERS, DefaultStack, identities } from "../support/defaultStack";
import { createBankSchema, LoadReport, PostgresLoad, RedisLoad } from "../support/load";
import { docker } from "../support/project";

export interface ChangeResult {
    change: string;
    /** How the program applied it. */
    action: "reload" | "restart behind PAUSE" | "live (CONFIG SET)" | "replace";
    upSeconds: number;
    postgres: LoadReport;
    redis?: LoadReport;
}

/** Clients through PgBouncer during every change (issue 13: at least 100). */
export const POOLED_CLIENTS = 100;
const REDIS_CLIENTS = 20;

async function one<T = Record<string, unknown>>(url: string, sql: string): Promise<T> {
    const client = new Client({ connectionString: url.replace(/sslmode=prefer/, "sslmode=disable") });
    await client.connect();
    try {
        return (await client.query(sql)).rows[0] as T;
    } finally {
        await client.end();
    }
}

/** An in-network URL of the operators' .env as the Docker host reaches it (the published port). */
export function operatorUrl(env: string, variable: string, hostPort: number): string {
    const match = new RegExp(`^${variable}=(.*)$`, "m").exec(env);
    if (!match) {
        throw new Error(`no ${variable} in the operators' .env`);
    }
    const url = new URL(match[1].replace(/^'(.*)'$/, "$1"));
    url.hostname = "127.0.0.1";
    url.port = String(hostPort);
    return url.toString();
}

/** Rows of one PgBouncer admin console command, through the host-side admin URL. */
async function consoleRows(adminUrl: string, command: string): Promise<Array<Record<string, any>>> {
    const admin = new Client({ connectionString: adminUrl });
    await admin.connect();
    try {
        return (await admin.query(command)).rows;
    } finally {
        await admin.end();
    }
}

export function describeLiveChanges(stack: DefaultStack, results: ChangeResult[]): void {
    let pgLoad: PostgresLoad;
    let redisLoad: RedisLoad;
    let pooledUrl: string;

    beforeAll(async () => {
        const strings = await stack.deployment.hostStrings();
        pooledUrl = strings.postgres.backend.zentoria_main.pooled;
        await createBankSchema(strings.postgres.backend.zentoria_main.direct);
        // What every up costs whatever it changes (the program run, a diff of every resource), idle
        // and under the load: the reference the changes' own times are read against.
        await stack.deployment.up("noopUpIdle");
        pgLoad = await PostgresLoad.start(pooledUrl, POOLED_CLIENTS);
        redisLoad = await RedisLoad.start(strings.redis.cache, REDIS_CLIENTS, "e2e:load:");
        // Warm up, then start every change's count from zero.
        await new Promise((resolve) => setTimeout(resolve, 3000));
        await stack.deployment.up("noopUpLoaded");
        pgLoad.snapshot();
        redisLoad.snapshot();
    }, 5 * 60 * 1000);

    afterAll(async () => {
        await pgLoad?.stopIfRunning();
        await redisLoad?.stopIfRunning();
        if (process.env.ZENTORIA_CHANGES_RESULTS) {
            const { coldUp, noopUpIdle, noopUpLoaded } = stack.deployment.timings;
            const figures = { coldUpSeconds: coldUp, noopUpIdleSeconds: noopUpIdle, noopUpLoadedSeconds: noopUpLoaded, clients: POOLED_CLIENTS, redisClients: REDIS_CLIENTS, changes: results };
            fs.writeFileSync(process.env.ZENTORIA_CHANGES_RESULTS, JSON.stringify(figures, null, 2) + "\n");
        }
    }, 5 * 60 * 1000);

    /** Applies `edit` with `pulumi up` under the load; the loads' figures for exactly that up. */
    async function applyUnderLoad(change: string, action: ChangeResult["action"], edit: (config: Record<string, any>) => void): Promise<ChangeResult> {
        pgLoad.snapshot();
        redisLoad.snapshot();
        stack.deployment.editConfig(edit);
        await stack.deployment.up(change);
        // Let clients that waited in PgBouncer's queue finish before reading their figures.
        await new Promise((resolve) => setTimeout(resolve, 2000));
        const result: ChangeResult = { change, action, upSeconds: stack.deployment.timings[change], postgres: pgLoad.snapshot(), redis: redisLoad.snapshot() };
        results.push(result);
        return result;
    }

    function expectNoClientNoticed(result: ChangeResult): void {
        expect({ change: result.change, failures: result.postgres.failures, samples: result.postgres.failureSamples, disconnects: result.postgres.disconnects }).toEqual({
            change: result.change,
            failures: 0,
            samples: [],
            disconnects: 0,
        });
        expect(result.postgres.transactions).toBeGreaterThan(0);
        expect({ change: result.change, redisFailures: result.redis?.failures, redisDisconnects: result.redis?.disconnects }).toEqual({ change: result.change, redisFailures: 0, redisDisconnects: 0 });
    }

    const TIMEOUT = 10 * 60 * 1000;

    test("a pool size change: RELOAD, same containers, no client noticed", async () => {
        const before = identities();
        const result = await applyUnderLoad("pool size", "reload", (config) => {
            config["zentoria:services"] = { backend: { pools: { zentoria_main: { poolSize: 25 } } } };
        });
        expectNoClientNoticed(result);
        expect(identities()).toEqual(before);
        const databases = await consoleRows((await stack.deployment.hostStrings()).pgbouncerAdmin, "SHOW DATABASES");
        expect(databases.find((row) => row.name === "zentoria_main")?.pool_size).toBe(25);
    }, TIMEOUT);

    test("a PgBouncer timeout change: RELOAD, no client noticed", async () => {
        const before = identities();
        const result = await applyUnderLoad("PgBouncer timeout", "reload", (config) => {
            config["zentoria:pgbouncer"] = { ...config["zentoria:pgbouncer"], reservePoolTimeoutSeconds: 3 };
        });
        expectNoClientNoticed(result);
        expect(identities()).toEqual(before);
        const settings = await consoleRows((await stack.deployment.hostStrings()).pgbouncerAdmin, "SHOW CONFIG");
        expect(settings.find((row) => row.key === "reserve_pool_timeout")?.value).toBe("3");
    }, TIMEOUT);

    test("a work_mem change: PostgreSQL reloads, no client noticed", async () => {
        const before = identities();
        const result = await applyUnderLoad("work_mem", "reload", (config) => {
            config["zentoria:postgres"] = { ...config["zentoria:postgres"], settings: { work_mem: "8MB" } };
        });
        expectNoClientNoticed(result);
        expect(identities()).toEqual(before);
        expect((await one<{ work_mem: string }>(pooledUrl, "SHOW work_mem")).work_mem).toBe("8MB");
    }, TIMEOUT);

    test("a role's CONNECTION LIMIT change: ALTER ROLE, and max_connections (derived from it) restarts PostgreSQL behind PAUSE", async () => {
        const before = identities();
        const maxConnectionsBefore = Number((await one<{ max_connections: string }>(pooledUrl, "SHOW max_connections")).max_connections);
        const result = await applyUnderLoad("CONNECTION LIMIT", "restart behind PAUSE", (config) => {
            config["zentoria:roles"] = { ...config["zentoria:roles"], zentoria_app: { connectionLimit: 100 } };
        });
        expectNoClientNoticed(result);
        const after = identities();
        expect(after.postgres.id).toBe(before.postgres.id);
        expect(after.postgres.startedAt).not.toBe(before.postgres.startedAt);
        expect({ pgbouncer: after.pgbouncer, redis: after.redis }).toEqual({ pgbouncer: before.pgbouncer, redis: before.redis });
        const strings = await stack.deployment.hostStrings();
        expect((await one<{ rolconnlimit: number }>(strings.postgres.backend.zentoria_main.direct, "SELECT rolconnlimit FROM pg_roles WHERE rolname = 'zentoria_app'")).rolconnlimit).toBe(100);
        // The limit went from 95 to 100; max_connections holds every role at its limit.
        expect(Number((await one<{ max_connections: string }>(pooledUrl, "SHOW max_connections")).max_connections)).toBe(maxConnectionsBefore + 5);
    }, TIMEOUT);

    test("a password rotation: the new password works, the old one is refused, connected clients keep working", async () => {
        const before = identities();
        const oldUrl = pooledUrl;
        const result = await applyUnderLoad("password rotation", "reload", (config) => {
            config["zentoria:roles"] = { ...config["zentoria:roles"], zentoria_app: { ...config["zentoria:roles"].zentoria_app, rotation: 1 } };
        });
        expectNoClientNoticed(result);
        expect(identities()).toEqual(before);
        const strings = await stack.deployment.hostStrings();
        const newUrl = strings.postgres.backend.zentoria_main.pooled;
        expect(new URL(newUrl).password).not.toBe(new URL(oldUrl).password);
        expect((await one<{ who: string }>(newUrl, "SELECT current_user AS who")).who).toBe("zentoria_app");
        await expect(one(oldUrl, "SELECT 1")).rejects.toThrow(/SASL authentication failed|password authentication failed/);
        expect((await one<{ one: number }>(strings.postgres.backend.zentoria_main.direct, "SELECT 1 AS one")).one).toBe(1);
        expect(new URL((await stack.deployment.envFiles()).backend.match(/^DATABASE_URL=(.*)$/m)![1].replace(/^'(.*)'$/, "$1")).password).toBe(new URL(newUrl).password);
        pooledUrl = newUrl;
    }, TIMEOUT);

    test("a Redis maxclients change: CONFIG SET on the running server, no Redis client noticed", async () => {
        const before = identities();
        const result = await applyUnderLoad("Redis maxclients", "live (CONFIG SET)", (config) => {
            config["zentoria:redis"] = { ...config["zentoria:redis"], maxclients: 1200 };
        });
        expectNoClientNoticed(result);
        expect(identities()).toEqual(before);
        const admin = new Redis(operatorUrl((await stack.deployment.envFiles()).operators, "REDIS_ADMIN_URL", stack.ports.redis), { maxRetriesPerRequest: 1 });
        try {
            expect(await admin.call("CONFIG", "GET", "maxclients")).toEqual(["maxclients", "1200"]);
        } finally {
            admin.disconnect();
        }
        // The file of record says the same: a restart brings the new value back.
        expect(docker("exec", "zentoria-redis", "grep", "^maxclients", "/usr/local/etc/redis/redis.conf")).toBe("maxclients 1200");
    }, TIMEOUT);

    test("a shared_buffers change: the same PostgreSQL container restarts behind PAUSE; no pooled transaction fails", async () => {
        const before = identities();
        const result = await applyUnderLoad("shared_buffers", "restart behind PAUSE", (config) => {
            config["zentoria:postgres"] = { ...config["zentoria:postgres"], sharedBuffers: "192MB" };
        });
        expectNoClientNoticed(result);
        const after = identities();
        expect(after.postgres.id).toBe(before.postgres.id);
        expect(after.postgres.startedAt).not.toBe(before.postgres.startedAt);
        expect((await one<{ shared_buffers: string }>(pooledUrl, "SHOW shared_buffers")).shared_buffers).toBe("192MB");
    }, TIMEOUT);

    test("after all of them: the preview expects no changes, and a no-op up changes nothing", async () => {
        await stack.deployment.expectNoChanges();
        const noop = await stack.deployment.up("noopUp");
        expect(Object.keys(noop.summary.resourceChanges ?? {}).filter((kind) => kind !== "same")).toEqual([]);
    }, TIMEOUT);

    test("a PgBouncer image change replaces its container: clients reconnect, and the stack works", async () => {
        const before = identities();
        // Another image of the same PgBouncer: what a version bump of pgbouncer.image does.
        const nextImage = `${stack.images.pgbouncer}-e2e-next`;
        execFileSync("docker", ["build", "--quiet", "--tag", nextImage, "-"], {
            input: `FROM ${stack.images.pgbouncer}\nLABEL zentoria.e2e=next-image\n`,
            env: { ...process.env, DOCKER_BUILDKIT: "0" },
        });
        try {
            const result = await applyUnderLoad("PgBouncer image", "replace", (config) => {
                config["zentoria:pgbouncer"] = { ...config["zentoria:pgbouncer"], image: nextImage };
            });
            const after = identities();
            expect(after.pgbouncer.id).not.toBe(before.pgbouncer.id);
            expect({ postgres: after.postgres, redis: after.redis }).toEqual({ postgres: before.postgres, redis: before.redis });
            // What the README says clients see: their connections to PgBouncer are closed with the old container.
            expect(result.postgres.disconnects).toBeGreaterThan(0);
            expect((await one<{ one: number }>(pooledUrl, "SELECT 1 AS one")).one).toBe(1);
        } finally {
            await pgLoad.stop();
        }
    }, TIMEOUT);

    test("what was applied live is on disk too: after a restart of every container the new values stay", async () => {
        await redisLoad.stop();
        for (const name of Object.values(CONTAINERS)) {
            docker("restart", name);
        }
        for (const name of Object.values(CONTAINERS)) {
            await waitHealthy(name);
        }
        const adminUrl = (await stack.deployment.hostStrings()).pgbouncerAdmin;
        expect((await consoleRows(adminUrl, "SHOW DATABASES")).find((row) => row.name === "zentoria_main")?.pool_size).toBe(25);
        expect((await consoleRows(adminUrl, "SHOW CONFIG")).find((row) => row.key === "reserve_pool_timeout")?.value).toBe("3");
        expect((await one<{ work_mem: string }>(pooledUrl, "SHOW work_mem")).work_mem).toBe("8MB");
        expect((await one<{ shared_buffers: string }>(pooledUrl, "SHOW shared_buffers")).shared_buffers).toBe("192MB");
        const admin = new Redis(operatorUrl((await stack.deployment.envFiles()).operators, "REDIS_ADMIN_URL", stack.ports.redis), { maxRetriesPerRequest: 1 });
        try {
            expect(await admin.call("CONFIG", "GET", "maxclients")).toEqual(["maxclients", "1200"]);
        } finally {
            admin.disconnect();
        }
    }, TIMEOUT);
}

async function waitHealthy(name: string): Promise<void> {
    const deadline = Date.now() + 180_000;
    while (docker("inspect", "-f", "{{.State.Health.Status}}", name) !== "healthy") {
        if (Date.now() > deadline) {
            throw new Error(`${name} not healthy within 180 s after a restart`);
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
    }
}
