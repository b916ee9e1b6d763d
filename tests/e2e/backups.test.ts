// Backups that have been restored (README: "Backups and restore"), on a real stack on Docker:
// rows written through PgBouncer, a base backup taken by `npm run backup`, more rows, a noted
// time, more rows, the table dropped; `npm run restore --time` brings back exactly the rows
// committed before the noted time, Redis its keys from the backup, and the services connect
// again through the exported strings. Then the data volume is deleted outright and
// `npm run restore --latest` brings PostgreSQL back from the backup volume alone, and
// `--into` restores it into a second stack (another prefix) for inspection. A destroy with the
// default settings keeps the backup volume.
import { spawn } from "child_process";
import * as path from "path";
import { randomBytes } from "crypto";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import Redis from "ioredis";
import { Client } from "pg";
import { ConnectionStrings, Deployment, removeDockerObjects } from "./support/deployment";
import { ciImages, docker, freePort, REPO_ROOT, writeStackConfig } from "./support/project";

jest.setTimeout(20 * 60 * 1000);

const prefix = `zentoria-bk-${randomBytes(3).toString("hex")}`;
const backupVolume = `${prefix}-backups`;
let deployment: Deployment;
let strings: ConnectionStrings;
const timings: Record<string, number> = {};

interface CommandResult {
    code: number;
    output: string;
}

/** `npm run <script> -- <args>` against the test's stack, its output kept (and echoed on failure). */
function npmRun(script: "backup" | "restore", args: string[]): Promise<CommandResult> {
    const workspace = deployment.stack.workspace as LocalWorkspace;
    const env = { ...process.env, ...workspace.envVars };
    return new Promise((resolve, reject) => {
        const started = Date.now();
        const child = spawn("npx", ["ts-node", "--transpile-only", path.join("scripts", `${script}.ts`), "e2e", "--project-dir", deployment.project, ...args], {
            cwd: REPO_ROOT,
            env,
            stdio: ["ignore", "pipe", "pipe"],
        });
        let output = "";
        child.stdout.on("data", (chunk) => (output += chunk));
        child.stderr.on("data", (chunk) => (output += chunk));
        child.on("error", reject);
        child.on("close", (code) => {
            const name = `${script} ${args.filter((arg) => arg.startsWith("--") && arg !== "--time").join(" ")}`.trim();
            timings[name] = (Date.now() - started) / 1000;
            resolve({ code: code ?? 1, output });
        });
    });
}

function expectSuccess(result: CommandResult): void {
    if (result.code !== 0) {
        throw new Error(`exit status ${result.code}:\n${result.output}`);
    }
}

async function query(url: string, sql: string, params: unknown[] = []): Promise<any[]> {
    const client = new Client({ connectionString: url.replace(/sslmode=prefer/, "sslmode=disable") });
    await client.connect();
    try {
        return (await client.query(sql, params)).rows;
    } finally {
        await client.end();
    }
}

/** One transaction per row, through the pooled (PgBouncer) URL, as a service writes. */
async function insertRows(table: string, from: number, to: number): Promise<void> {
    const client = new Client({ connectionString: strings.postgres.backend.zentoria_main.pooled });
    await client.connect();
    try {
        for (let id = from; id <= to; id++) {
            await client.query(`INSERT INTO ${table} (id) VALUES ($1)`, [id]);
        }
    } finally {
        await client.end();
    }
}

async function countAndMax(table: string): Promise<{ count: number; max: number }> {
    const [row] = await query(strings.postgres.backend.zentoria_main.pooled, `SELECT count(*)::int AS count, max(id) AS max FROM ${table}`);
    return row;
}

async function withRedis<T>(action: (redis: Redis) => Promise<T>): Promise<T> {
    const redis = new Redis(strings.redis.sessions, { maxRetriesPerRequest: 1 });
    try {
        return await action(redis);
    } finally {
        redis.disconnect();
    }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function superuserSql(sql: string): string {
    return docker("exec", `${prefix}-postgres`, "psql", "-X", "-At", "-h", "/var/run/postgresql", "-U", "postgres", "-d", "postgres", "-c", sql);
}

beforeAll(async () => {
    removeDockerObjects(prefix);
    const images = ciImages();
    deployment = await Deployment.create(prefix, {
        "zentoria:bindAddress": "127.0.0.1",
        "zentoria:postgres": { image: images.postgres15, pgvector: false, hostPort: await freePort() },
        "zentoria:pgbouncer": { image: images.pgbouncer, hostPort: await freePort() },
        "zentoria:redis": { image: images.redis, hostPort: await freePort() },
        // No Qdrant stand-in exists (no package, no image reachable): its backups are unit-tested only.
        "zentoria:qdrant": { enabled: false },
    });
    await deployment.up("coldUp");
    strings = await deployment.hostStrings();
}, 20 * 60 * 1000);

afterAll(async () => {
    await deployment?.destroyAndClean();
    removeDockerObjects(prefix);
    process.stdout.write(`backups e2e timings (seconds): ${JSON.stringify({ ...deployment?.timings, ...timings })}\n`);
}, 20 * 60 * 1000);

test("the sidecar runs beside the servers, healthy, and PostgreSQL archives into the backup volume", async () => {
    expect(docker("inspect", "-f", "{{.State.Health.Status}}", `${prefix}-backup`)).toBe("healthy");
    expect(docker("volume", "inspect", "-f", "{{index .Labels \"zentoria.service\"}}", backupVolume)).toBe("backup");
    expect(superuserSql("SHOW archive_mode")).toBe("on");
    const segment = superuserSql("SELECT pg_walfile_name(pg_switch_wal() - 1)");
    const archived = () => docker("run", "--rm", "-v", `${backupVolume}:/b:ro`, "--entrypoint", "ls", ciImages().postgres15, "/b/postgres/wal").split("\n");
    const deadline = Date.now() + 60_000;
    while (!archived().includes(`${segment}.gz`) && Date.now() < deadline) {
        await sleep(1000);
    }
    expect(archived()).toContain(`${segment}.gz`);
});

test("npm run restore --time brings back exactly the rows committed before the noted time, and Redis its keys", async () => {
    await query(strings.postgres.backend.zentoria_main.direct, "CREATE TABLE numbered (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())");
    await insertRows("numbered", 1, 100);
    await withRedis(async (redis) => {
        await redis.mset("e2e:before:1", "one", "e2e:before:2", "two", "e2e:before:3", "three");
    });

    const backup = await npmRun("backup", []);
    expectSuccess(backup);
    expect(backup.output).toMatch(/postgres: \d{8}T\d{6}Z: \d+ bytes in \d+ s \(manual\)/);
    expect(backup.output).toMatch(/redis: \d{8}T\d{6}Z: \d+ bytes/);
    const status = await npmRun("backup", ["--status"]);
    expectSuccess(status);
    expect(status.output).toMatch(/^postgres\s+ok\s+\d{4}-\d{2}-\d{2}T/m);
    expect(status.output).toMatch(/^redis\s+ok\s+/m);

    await insertRows("numbered", 101, 200);
    await sleep(1500);
    const noted = new Date().toISOString();
    await sleep(1500);
    await insertRows("numbered", 201, 300);
    await query(strings.postgres.backend.zentoria_main.direct, "DROP TABLE numbered");
    await withRedis(async (redis) => {
        await redis.set("e2e:after", "written after the backup");
        await redis.del("e2e:before:1");
    });

    const postgresBefore = docker("inspect", "-f", "{{.State.StartedAt}}", `${prefix}-postgres`);
    const dryRun = await npmRun("restore", ["--time", noted, "--services", "postgres,redis", "--dry-run"]);
    expectSuccess(dryRun);
    expect(dryRun.output).toMatch(/dry run: nothing is changed/);
    expect(dryRun.output).toMatch(/PAUSE PgBouncer/);
    expect(docker("inspect", "-f", "{{.State.StartedAt}}", `${prefix}-postgres`)).toBe(postgresBefore);
    await expect(countAndMax("numbered")).rejects.toThrow(/does not exist/);

    const restore = await npmRun("restore", ["--time", noted, "--services", "postgres,redis"]);
    expectSuccess(restore);
    expect(restore.output).toMatch(/postgres: verified: timeline 2/);
    expect(restore.output).toMatch(/postgres: PgBouncer \S+: RESUME/);

    // Through the exported strings again: PgBouncer's pooled URL, and the direct one.
    strings = await deployment.hostStrings();
    expect(await countAndMax("numbered")).toEqual({ count: 200, max: 200 });
    expect((await query(strings.postgres.n8n.n8n.pooled, "SELECT current_user AS role"))[0].role).toBe("n8n_app");
    expect((await query(strings.postgres.backend.zentoria_main.direct, "SELECT count(*)::int AS count FROM numbered"))[0].count).toBe(200);
    // The recovery settings are gone from the data directory.
    expect(superuserSql("SELECT count(*) FROM pg_file_settings WHERE name LIKE 'recovery_target%' OR name = 'restore_command'")).toBe("0");
    await withRedis(async (redis) => {
        expect(await redis.mget("e2e:before:1", "e2e:before:2", "e2e:before:3", "e2e:after")).toEqual(["one", "two", "three", null]);
    });
});

test("the data volume deleted outright: npm run restore --latest brings PostgreSQL back from the backup volume alone", async () => {
    await query(strings.postgres.backend.zentoria_main.direct, "CREATE TABLE later (id int PRIMARY KEY)");
    await insertRows("later", 1, 20);
    expectSuccess(await npmRun("backup", []));
    await insertRows("later", 21, 30);
    // Archived, so that the backup volume holds every committed row (archive_timeout bounds this otherwise).
    superuserSql("SELECT pg_switch_wal()");
    await sleep(3000);

    docker("rm", "-f", `${prefix}-postgres`);
    docker("volume", "rm", `${prefix}-pgdata`);
    expect(docker("volume", "ls", "-q", "--filter", `name=^${prefix}-pgdata$`)).toBe("");

    const restore = await npmRun("restore", ["--latest"]);
    expectSuccess(restore);
    expect(restore.output).toMatch(/created volume \S+-pgdata again/);

    strings = await deployment.hostStrings();
    expect(docker("inspect", "-f", "{{.State.Health.Status}}", `${prefix}-postgres`)).toBe("healthy");
    expect(await countAndMax("later")).toEqual({ count: 30, max: 30 });
    expect(await countAndMax("numbered")).toEqual({ count: 200, max: 200 });
    // The recreated volume is the one the stack declares: nothing to change.
    await deployment.expectNoChanges();
});

test("npm run restore --into another stack: the source's rows there, through that stack's own strings; the source untouched", async () => {
    // A second stack of the same project and state backend, as `npm run restore -- <stack> --into <other>` expects.
    const inspectPrefix = `${prefix}-in`;
    const inspectConfig = path.join(deployment.project, "Pulumi.inspect.yaml");
    const images = ciImages();
    writeStackConfig(inspectConfig, {
        config: {
            "zentoria:prefix": inspectPrefix,
            "zentoria:bindAddress": "127.0.0.1",
            "zentoria:postgres": { image: images.postgres15, pgvector: false, hostPort: await freePort() },
            "zentoria:pgbouncer": { image: images.pgbouncer, hostPort: await freePort() },
            "zentoria:redis": { image: images.redis, hostPort: await freePort() },
            "zentoria:qdrant": { enabled: false },
        },
    });
    const inspect = await Stack.create("inspect", deployment.stack.workspace);
    try {
        const up = await inspect.up({ configFile: inspectConfig });
        expect(up.summary.result).toBe("succeeded");
        const sourceStarted = docker("inspect", "-f", "{{.State.StartedAt}}", `${prefix}-postgres`);

        const restore = await npmRun("restore", ["--latest", "--into", "inspect"]);
        expectSuccess(restore);
        expect(restore.output).toMatch(/of stack e2e/);

        const inspectStrings = (await inspect.outputs()).hostConnectionStrings.value as ConnectionStrings;
        const rows = async (url: string, table: string) => (await query(url, `SELECT count(*)::int AS count, max(id) AS max FROM ${table}`))[0];
        // The restored roles have the inspect stack's passwords: its pooled and direct strings work.
        expect(await rows(inspectStrings.postgres.backend.zentoria_main.pooled, "later")).toEqual({ count: 30, max: 30 });
        expect(await rows(inspectStrings.postgres.backend.zentoria_main.direct, "numbered")).toEqual({ count: 200, max: 200 });
        expect((await query(inspectStrings.postgres.n8n.n8n.pooled, "SELECT current_user AS role"))[0].role).toBe("n8n_app");
        // The source kept running, with its own rows.
        expect(docker("inspect", "-f", "{{.State.StartedAt}}", `${prefix}-postgres`)).toBe(sourceStarted);
        expect(await countAndMax("later")).toEqual({ count: 30, max: 30 });
    } finally {
        await inspect.destroy({ configFile: inspectConfig }).catch((error) => process.stderr.write(`inspect destroy failed: ${(error as Error).message}\n`));
        await inspect.workspace.removeStack("inspect").catch(() => undefined);
        removeDockerObjects(inspectPrefix);
    }
});

test("pulumi destroy with the default settings keeps the backup volume and its backups", async () => {
    await deployment.stack.destroy({ configFile: deployment.configFile });
    expect(docker("volume", "ls", "-q", "--filter", `name=^${backupVolume}$`)).toBe(backupVolume);
    const kept = docker("run", "--rm", "-v", `${backupVolume}:/b:ro`, "--entrypoint", "ls", ciImages().postgres15, "/b/postgres/base").split("\n");
    expect(kept.filter((name) => /^\d{8}T\d{6}Z$/.test(name)).length).toBeGreaterThanOrEqual(2);
});
