// Section 3's Redis on the rendered redis.conf: it loads as rendered, nothing runs without a
// login, and each kind of ACL user may do what REDIS_ACL_RULES says and no more.
import * as fs from "fs";
import Redis from "ioredis";
import { serviceEnv } from "../../render/connections";
import { redisClient, rejection } from "./support/clients";
import { Stack, useStack } from "./support/fixture";

const servers = useStack({ redis: true });

const opened: Redis[] = [];

afterEach(() => {
    for (const client of opened.splice(0)) {
        client.disconnect();
    }
});

async function connected(target: Parameters<typeof redisClient>[0], options: Parameters<typeof redisClient>[1] = {}): Promise<Redis> {
    const client = redisClient(target, options);
    opened.push(client);
    await client.connect();
    return client;
}

function login(stack: Stack, user: string, db = 0) {
    return { host: "127.0.0.1", port: stack.ports.redis, username: user, password: stack.credentials.redis[user], db };
}

/** Commands that administer the server or sweep the keyspace: all in @dangerous. */
const ADMIN_COMMANDS: string[][] = [
    ["CONFIG", "GET", "maxclients"],
    ["CONFIG", "SET", "maxclients", "10"],
    ["FLUSHALL"],
    ["FLUSHDB"],
    ["KEYS", "*"],
    ["ACL", "LIST"],
    ["ACL", "SETUSER", "intruder", "on", ">secret", "+@all"],
    ["CLIENT", "LIST"],
    ["CLIENT", "KILL", "TYPE", "normal"],
    ["SAVE"],
    ["BGREWRITEAOF"],
    ["REPLICAOF", "NO", "ONE"],
    ["SHUTDOWN", "NOSAVE"],
];

async function refusal(client: Redis, command: string[]): Promise<string> {
    const error = await rejection(client.call(command[0], ...command.slice(1)));
    return error.message;
}

servers.test("redis.conf loads as rendered: its port, directory, limits and users, with no command-line overrides", async (stack) => {
    const admin = await connected(login(stack, "admin"));
    const config = async (name: string) => ((await admin.call("CONFIG", "GET", name)) as string[])[1];
    const { redis } = stack.plan;
    expect(await config("port")).toBe(String(stack.ports.redis));
    expect(await config("bind")).toBe("127.0.0.1");
    expect(await config("dir")).toBe(stack.layout.redis.dataDirectory);
    expect(await config("databases")).toBe(String(redis.databases));
    expect(await config("appendonly")).toBe(redis.appendonly ? "yes" : "no");
    expect(await config("maxmemory-policy")).toBe(redis.maxmemoryPolicy);
    expect(await config("tcp-keepalive")).toBe(String(redis.tcpKeepaliveSeconds));
    expect(await config("protected-mode")).toBe("yes");
    const users = ((await admin.call("ACL", "USERS")) as string[]).sort();
    expect(users).toEqual(["default", ...redis.users.map((user) => user.name)].sort());
    const aclList = (await admin.call("ACL", "LIST")) as string[];
    expect(aclList.find((line) => line.startsWith("user default "))).toMatch(/^user default off /);
    expect(fs.readFileSync(stack.server("redis").logFile, "utf8")).toContain("Ready to accept connections");
}, 120_000);

servers.test("section 3.3: CONFIG GET maxclients as the admin user shows the plan's maxclients", async (stack) => {
    const admin = await connected(login(stack, "admin"));
    expect(await admin.call("CONFIG", "GET", "maxclients")).toEqual(["maxclients", String(stack.plan.redis.maxclients)]);
    expect(stack.plan.redis.maxclients).toBe(1000);
}, 120_000);

servers.test("without a login every command is refused with NOAUTH; a wrong password with WRONGPASS", async (stack) => {
    const anonymous = await connected({ host: "127.0.0.1", port: stack.ports.redis }, { enableReadyCheck: false });
    for (const command of [["PING"], ["GET", "x"], ["SET", "x", "1"], ["INFO"], ["SELECT", "1"]]) {
        expect({ command, message: await refusal(anonymous, command) }).toEqual({ command, message: expect.stringMatching(/^NOAUTH /) });
    }
    expect(await refusal(anonymous, ["AUTH", "backend", "not-the-password"])).toMatch(/^WRONGPASS /);
    // The default user is off: AUTH as it fails whatever the password.
    expect(await refusal(anonymous, ["AUTH", "default", ""])).toMatch(/^WRONGPASS /);
    expect(await refusal(anonymous, ["AUTH", "not-the-password"])).toMatch(/^WRONGPASS /);
    // Still not logged in.
    expect(await refusal(anonymous, ["PING"])).toMatch(/^NOAUTH /);
}, 120_000);

servers.test("section 3.2: each client's URL works on its own logical database", async (stack) => {
    const strings = stack.connectionStrings();
    const admin = await connected(login(stack, "admin"));
    for (const client of stack.plan.redis.clients) {
        const url = strings.redis[client.name];
        expect(url).toMatch(new RegExp(`^redis://${client.user}:[A-Za-z0-9]{32}@127\\.0\\.0\\.1:${stack.ports.redis}/${client.database}$`));
        const redis = await connected(url);
        const key = `zentoria:it:${client.name}`;
        expect(await redis.set(key, client.purpose)).toBe("OK");
        expect(await redis.get(key)).toBe(client.purpose);
        const info = String(await redis.call("CLIENT", "INFO"));
        expect(info).toMatch(new RegExp(`\\bdb=${client.database}\\b`));
        expect(info).toMatch(new RegExp(`\\buser=${client.user}\\b`));
        // The key lives in that database and no other.
        for (let db = 0; db < stack.plan.redis.databases; db++) {
            await admin.select(db);
            expect({ key, db, exists: await admin.exists(key) }).toEqual({ key, db, exists: db === client.database ? 1 : 0 });
        }
    }
    await admin.select(0);
    const keyspace = await admin.info("keyspace");
    for (const client of stack.plan.redis.clients) {
        expect(keyspace).toMatch(new RegExp(`^db${client.database}:keys=\\d+`, "m"));
    }
}, 120_000);

servers.test("each service's .env Redis variables log in (REDIS_*, and n8n's QUEUE_BULL_REDIS_*)", async (stack) => {
    const strings = stack.connectionStrings();
    let checkedQueue = false;
    for (const service of stack.plan.services) {
        const env = Object.fromEntries(serviceEnv(stack.plan, stack.credentials, stack.endpoints, service.name));
        const clients = stack.plan.redis.clients.filter((client) => client.services.includes(service.name));
        if (clients.length === 0) {
            expect(env.REDIS_HOST).toBeUndefined();
            continue;
        }
        const own = await connected({
            host: String(env.REDIS_HOST),
            port: Number(env.REDIS_PORT),
            username: String(env.REDIS_USERNAME),
            password: String(env.REDIS_PASSWORD),
            connectTimeout: Number(env.REDIS_CONNECT_TIMEOUT_MS),
        });
        expect(await own.call("ACL", "WHOAMI")).toBe(env.REDIS_USERNAME);
        for (const client of clients) {
            const url = String(env[`REDIS_${client.name.toUpperCase()}_URL`]);
            expect(url).toBe(strings.redis[client.name]);
            const redis = await connected(url);
            expect(await redis.call("ACL", "WHOAMI")).toBe(client.user);
        }
        if (env.QUEUE_BULL_REDIS_HOST !== undefined) {
            const queue = await connected({
                host: String(env.QUEUE_BULL_REDIS_HOST),
                port: Number(env.QUEUE_BULL_REDIS_PORT),
                username: String(env.QUEUE_BULL_REDIS_USERNAME),
                password: String(env.QUEUE_BULL_REDIS_PASSWORD),
                db: Number(env.QUEUE_BULL_REDIS_DB),
            });
            const queues = stack.plan.redis.clients.find((client) => client.name === "queues")!;
            expect(String(await queue.call("CLIENT", "INFO"))).toMatch(new RegExp(`\\bdb=${queues.database}\\b`));
            checkedQueue = true;
        }
    }
    expect(checkedQueue).toBe(true);
}, 120_000);

servers.test("service users are refused every @dangerous command (administration and keyspace sweeps)", async (stack) => {
    const serviceUsers = stack.plan.redis.users.filter((user) => user.kind === "service").map((user) => user.name);
    expect(serviceUsers.length).toBeGreaterThan(0);
    for (const user of serviceUsers) {
        const redis = await connected(login(stack, user));
        for (const command of ADMIN_COMMANDS) {
            expect({ user, command, message: await refusal(redis, command) }).toEqual({ user, command, message: expect.stringMatching(/^NOPERM /) });
        }
        // What an application needs still works, INFO included (ioredis' ready check).
        expect(await redis.info("server")).toContain("redis_version");
        expect(await redis.incr(`zentoria:it:counter:${user}`)).toBe(1);
        expect(await redis.expire(`zentoria:it:counter:${user}`, 60)).toBe(1);
    }
    // Still up and unchanged after all that.
    const admin = await connected(login(stack, "admin"));
    expect(await admin.call("CONFIG", "GET", "maxclients")).toEqual(["maxclients", String(stack.plan.redis.maxclients)]);
    expect(await admin.call("ACL", "USERS")).not.toContain("intruder");
}, 120_000);

servers.test("the pubsub user publishes and subscribes on any channel", async (stack) => {
    const url = stack.connectionStrings().redis.pubsub;
    const subscriber = await connected(url);
    const publisher = await connected(url);
    const received = new Promise<[string, string]>((resolve) => subscriber.on("message", (channel: string, message: string) => resolve([channel, message])));
    await subscriber.subscribe("zentoria:events");
    expect(await publisher.publish("zentoria:events", "hello")).toBe(1);
    expect(await received).toEqual(["zentoria:events", "hello"]);
}, 120_000);

servers.test("the healthcheck user, with the password file the container gets, may PING and nothing else", async (stack) => {
    const password = fs.readFileSync(stack.layout.redis.healthcheckPasswordFile, "utf8");
    const health = await connected({ host: "127.0.0.1", port: stack.ports.redis, username: "healthcheck", password }, { enableReadyCheck: false });
    expect(await health.ping()).toBe("PONG");
    for (const command of [["GET", "x"], ["SET", "x", "1"], ["INFO"], ["CONFIG", "GET", "maxclients"], ["CLIENT", "LIST"], ["SELECT", "1"], ["PUBLISH", "c", "m"]]) {
        expect({ command, message: await refusal(health, command) }).toEqual({ command, message: expect.stringMatching(/^NOPERM /) });
    }
}, 120_000);

servers.test("the monitor user runs section 5.3's INFO clients, INFO memory and CLIENT LIST, and reads no data", async (stack) => {
    const monitor = await connected(login(stack, "monitor"));
    const clients = await monitor.info("clients");
    expect(clients).toMatch(/^connected_clients:\d+/m);
    expect(clients).toMatch(/^maxclients:1000/m);
    expect(await monitor.info("memory")).toMatch(/^used_memory:\d+/m);
    const list = String(await monitor.call("CLIENT", "LIST"));
    expect(list).toMatch(/\buser=monitor\b/);
    expect(await monitor.call("CONFIG", "GET", "maxclients")).toEqual(["maxclients", "1000"]);
    expect(typeof (await monitor.dbsize())).toBe("number");
    for (const command of [["GET", "x"], ["SET", "x", "1"], ["KEYS", "*"], ["CONFIG", "SET", "maxclients", "10"], ["CLIENT", "KILL", "TYPE", "normal"], ["FLUSHALL"]]) {
        expect({ command, message: await refusal(monitor, command) }).toEqual({ command, message: expect.stringMatching(/^NOPERM /) });
    }
}, 120_000);
