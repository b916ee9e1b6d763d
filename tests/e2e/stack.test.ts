// `pulumi up` for real on a Docker engine: a fresh stack from create to destroy, with the
// exported connection strings used the way the services use them.
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { randomBytes } from "crypto";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { Client } from "pg";
import Redis from "ioredis";
import { ciImages, copyProject, docker, freePort, readStackConfig, requireTools, writeStackConfig } from "./support/project";

jest.setTimeout(15 * 60 * 1000);

interface PoolUrls {
    pooled: string;
    direct: string;
}
interface ConnectionStrings {
    postgres: Record<string, Record<string, PoolUrls>>;
    redis: Record<string, string>;
    pgbouncerAdmin: string;
}

const prefix = `zentoria-e2e-${randomBytes(3).toString("hex")}`;
const containers = [`${prefix}-postgres`, `${prefix}-pgbouncer`, `${prefix}-redis`, `${prefix}-backup`];
const volumes = [`${prefix}-pgdata`, `${prefix}-redis-data`];
/** Kept on every destroy (README: "Backups and restore"): removed by the clean-up only. */
const backupVolumes = [`${prefix}-backups`, `${prefix}-backup-config`];
const timings: Record<string, number> = {};

let project: string;
let stateDir: string;
let configFile: string;
let stack: Stack;
let strings: ConnectionStrings;

async function timed<T>(name: string, action: () => Promise<T>): Promise<T> {
    const start = process.hrtime.bigint();
    try {
        return await action();
    } finally {
        timings[name] = Number(process.hrtime.bigint() - start) / 1e9;
    }
}

/** SQLAlchemy's asyncpg URL with libpq's scheme: same login, usable by node-postgres. */
function asLibpq(url: string): string {
    return url.replace(/^postgresql\+asyncpg:/, "postgresql:");
}

async function query(url: string, sql: string, params: unknown[] = []): Promise<any[]> {
    // The servers run without TLS; node-postgres treats sslmode=prefer as require.
    const client = new Client({ connectionString: url.replace(/sslmode=prefer/, "sslmode=disable") });
    await client.connect();
    try {
        return (await client.query(sql, params)).rows;
    } finally {
        await client.end();
    }
}

async function hostStrings(): Promise<ConnectionStrings> {
    const outputs = await stack.outputs();
    expect(outputs.hostConnectionStrings.secret).toBe(true);
    return outputs.hostConnectionStrings.value as ConnectionStrings;
}

function updateConfig(edit: (config: Record<string, any>) => void): void {
    const document = readStackConfig(configFile);
    edit(document.config);
    writeStackConfig(configFile, document);
}

function volumeExists(name: string): boolean {
    return docker("volume", "ls", "-q", "--filter", `name=^${name}$`) === name;
}

beforeAll(async () => {
    requireTools();
    const images = ciImages();
    project = copyProject();
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "zentoria-e2e-state-"));
    configFile = path.join(project, "Pulumi.e2e.yaml");
    const base = readStackConfig(path.join(__dirname, "Pulumi.e2e.yaml"));
    base.config["zentoria:prefix"] = prefix;
    base.config["zentoria:postgres"] = { ...base.config["zentoria:postgres"], image: images.postgres15, hostPort: await freePort() };
    base.config["zentoria:pgbouncer"] = { image: images.pgbouncer, hostPort: await freePort() };
    base.config["zentoria:redis"] = { image: images.redis, hostPort: await freePort() };
    writeStackConfig(configFile, base);

    const pulumiCommand = await PulumiCommand.get({ skipVersionCheck: true });
    stack = await LocalWorkspace.createStack(
        { stackName: "e2e", workDir: project },
        {
            pulumiCommand,
            secretsProvider: "passphrase",
            envVars: {
                PULUMI_BACKEND_URL: `file://${stateDir}`,
                PULUMI_CONFIG_PASSPHRASE: randomBytes(16).toString("hex"),
                PULUMI_SKIP_UPDATE_CHECK: "true",
            },
        },
    );
});

afterAll(async () => {
    // Whatever happened above, leave no container or volume behind.
    try {
        await stack?.destroy({ configFile });
    } catch (error) {
        process.stderr.write(`cleanup destroy failed: ${(error as Error).message}\n`);
    }
    for (const name of containers) {
        try {
            docker("rm", "-f", name);
        } catch {
            // already gone
        }
    }
    for (const name of [...volumes, ...backupVolumes]) {
        try {
            docker("volume", "rm", "-f", name);
        } catch {
            // already gone
        }
    }
    process.stdout.write(`e2e timings (seconds): ${JSON.stringify(timings)}\n`);
    if (process.env.ZENTORIA_E2E_TIMINGS) {
        fs.writeFileSync(process.env.ZENTORIA_E2E_TIMINGS, JSON.stringify(timings, null, 2) + "\n");
    }
});

test("pulumi up on a fresh stack: every container healthy", async () => {
    const result = await timed("coldUp", () => stack.up({ configFile }));
    expect(result.summary.result).toBe("succeeded");
    for (const name of containers) {
        expect([name, docker("inspect", "-f", "{{.State.Health.Status}}", name)]).toEqual([name, "healthy"]);
    }
    strings = await hostStrings();
});

test("each service logs in through PgBouncer with the exported strings and runs a query", async () => {
    for (const [service, databases] of Object.entries(strings.postgres)) {
        for (const [database, urls] of Object.entries(databases)) {
            const pooled = new URL(asLibpq(urls.pooled));
            const rows = await query(pooled.toString(), "select current_user as role, current_database() as database");
            expect([service, rows[0].role, rows[0].database]).toEqual([service, decodeURIComponent(pooled.username), database]);
            const direct = await query(asLibpq(urls.direct), "select 1 as one");
            expect(direct[0].one).toBe(1);
        }
    }
    const wrong = new URL(strings.postgres.backend.zentoria_main.pooled);
    wrong.password = "not-the-password";
    await expect(query(wrong.toString(), "select 1")).rejects.toThrow(/SASL authentication failed|password authentication failed/);
});

test("role CONNECTION LIMITs hold on the deployed server", async () => {
    // readonly has no pools, so nothing but this test holds its connections.
    const env = ((await stack.outputs()).env.value as Record<string, string>).operators;
    const inNetwork = new URL(/^READONLY_ZENTORIA_MAIN_URL=(.*)$/m.exec(env)![1].replace(/^'(.*)'$/, "$1"));
    const direct = new URL(strings.postgres.backend.zentoria_main.direct);
    inNetwork.host = direct.host;
    const url = inNetwork.toString().replace(/sslmode=prefer/, "sslmode=disable");
    const limit = (await query(url, "select rolconnlimit from pg_roles where rolname = current_user"))[0].rolconnlimit;
    expect(limit).toBe(10);
    const clients: Client[] = [];
    try {
        for (let i = 0; i < limit; i++) {
            const client = new Client({ connectionString: url });
            await client.connect();
            clients.push(client);
        }
        await expect(query(url, "select 1")).rejects.toThrow(/too many connections for role "readonly"/);
    } finally {
        await Promise.all(clients.map((client) => client.end()));
    }
});

function rawRedisReply(port: number, command: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const socket = net.connect(port, "127.0.0.1", () => socket.write(`${command}\r\n`));
        socket.once("data", (data) => {
            resolve(data.toString());
            socket.destroy();
        });
        socket.once("error", reject);
    });
}

test("Redis: authentication required, each service's URL works on its database", async () => {
    expect(await rawRedisReply(Number(new URL(strings.redis.cache).port), "PING")).toMatch(/^-NOAUTH/);
    for (const [client, url] of Object.entries(strings.redis)) {
        const redis = new Redis(url, { maxRetriesPerRequest: 1 });
        try {
            if (client === "pubsub") {
                // Publish/subscribe only (the default clients' access): no key.
                expect(await redis.publish("e2e:events", client)).toBe(0);
                await expect(redis.get("e2e:sessions")).rejects.toThrow(/NOPERM/);
            } else {
                // The queue user reaches Bull's keys only.
                const key = client === "queues" ? "bull:e2e" : `e2e:${client}`;
                await redis.set(key, client);
                expect(await redis.get(key)).toBe(client);
            }
            expect(Number((await redis.client("INFO")).toString().match(/ db=(\d+) /)?.[1])).toBe(Number(new URL(url).pathname.slice(1)));
        } finally {
            redis.disconnect();
        }
    }
});

test("pulumi preview --expect-no-changes, and a no-op pulumi up", async () => {
    const preview = await stack.preview({ configFile, expectNoChanges: true });
    expect(Object.keys(preview.changeSummary).filter((kind) => kind !== "same")).toEqual([]);
    const noop = await timed("noopUp", () => stack.up({ configFile }));
    expect(Object.keys(noop.summary.resourceChanges ?? {}).filter((kind) => kind !== "same")).toEqual([]);
});

test("a pool size and a PostgreSQL setting change: data kept, new values live", async () => {
    const main = strings.postgres.backend.zentoria_main.pooled;
    await query(main, "create table if not exists e2e_rows (id serial primary key, note text not null)");
    await query(main, "insert into e2e_rows (note) values ($1)", ["written before the update"]);
    updateConfig((config) => {
        config["zentoria:services"] = { backend: { pools: { zentoria_main: { poolSize: 12 } } } };
        config["zentoria:postgres"] = { ...config["zentoria:postgres"], settings: { work_mem: "8MB" } };
    });
    const result = await timed("updateUp", () => stack.up({ configFile }));
    expect(result.summary.result).toBe("succeeded");
    strings = await hostStrings();
    const rows = await query(strings.postgres.backend.zentoria_main.pooled, "select note from e2e_rows");
    expect(rows.map((row) => row.note)).toEqual(["written before the update"]);
    expect((await query(strings.postgres.backend.zentoria_main.pooled, "show work_mem"))[0].work_mem).toBe("8MB");
    const databases = await query(strings.pgbouncerAdmin.replace(/$/, "?sslmode=disable"), "SHOW DATABASES");
    expect(databases.find((entry) => entry.name === "zentoria_main")?.pool_size).toBe(12);
});

test("the state file holds no plaintext credential", async () => {
    const stateFiles = (fs.readdirSync(stateDir, { recursive: true }) as string[])
        .map((file) => path.join(stateDir, file))
        .filter((file) => file.endsWith(".json") && fs.statSync(file).isFile());
    expect(stateFiles.length).toBeGreaterThan(0);
    const state = stateFiles.map((file) => fs.readFileSync(file, "utf8")).join("\n");
    const passwords = new Set<string>();
    for (const databases of Object.values(strings.postgres)) {
        for (const urls of Object.values(databases)) {
            passwords.add(decodeURIComponent(new URL(asLibpq(urls.pooled)).password));
        }
    }
    for (const url of [...Object.values(strings.redis), strings.pgbouncerAdmin]) {
        passwords.add(decodeURIComponent(new URL(url).password));
    }
    expect(passwords.size).toBeGreaterThanOrEqual(6);
    for (const password of passwords) {
        expect(state.includes(password)).toBe(false);
    }
});

let savedState: Awaited<ReturnType<Stack["exportStack"]>>;

test("pulumi destroy removes the containers and keeps the data volumes", async () => {
    savedState = await stack.exportStack();
    const result = await timed("destroy", () => stack.destroy({ configFile }));
    expect(result.summary.result).toBe("succeeded");
    for (const name of containers) {
        expect(docker("ps", "-a", "-q", "--filter", `name=^${name}$`)).toBe("");
    }
    for (const name of volumes) {
        expect([name, volumeExists(name)]).toEqual([name, true]);
    }
});

test("the state saved before destroy brings the stack back onto its data (README: Recovering after destroy)", async () => {
    await stack.importStack(savedState);
    // The containers and the network are gone; the roles and databases are on the kept volume.
    const gone = (savedState.deployment.resources as Array<{ urn: string; type: string }>)
        .filter((resource) => resource.type === "docker:index/container:Container" || resource.type === "docker:index/network:Network")
        .map((resource) => resource.urn);
    // The three servers, the backup sidecar and the network.
    expect(gone.length).toBe(5);
    await stack.refresh({ configFile, target: gone });
    await stack.up({ configFile });
    strings = await hostStrings();
    const rows = await query(strings.postgres.backend.zentoria_main.pooled, "select note from e2e_rows");
    expect(rows.map((row) => row.note)).toEqual(["written before the update"]);
});

test("the documented opt-in deletes the volumes with the stack", async () => {
    updateConfig((config) => {
        config["zentoria:postgres"] = { ...config["zentoria:postgres"], retainDataOnDestroy: false };
        config["zentoria:redis"] = { ...config["zentoria:redis"], retainDataOnDestroy: false };
    });
    await stack.up({ configFile });
    await stack.destroy({ configFile });
    for (const name of volumes) {
        expect([name, volumeExists(name)]).toEqual([name, false]);
    }
});
