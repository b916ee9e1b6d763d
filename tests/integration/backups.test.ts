// Backups on real servers (README: "Backups and restore"): PostgreSQL 15 and Redis from Debian on
// the dev plan's rendered files, with the WAL archive the rendered archive_command writes; the
// sidecar's rendered backup.sh run as it is (on the host, pointed at these servers instead of the
// network names); the restore's rendered scripts run on the data directories; recovery done by
// PostgreSQL itself. What only Docker can show (the sidecar container, the volumes, `npm run
// restore` end to end) is tests/e2e/backups.test.ts.
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Client } from "pg";
import { catalogScript, parseCatalog } from "../../ops/backups";
import { BACKUP_DIRECTORIES, backupPath, backupRoleStatements, renderBackupScript, renderPgpass, SidecarLayout, SidecarTargets } from "../../render/backup";
import { postgresRestoreScript, RECOVERY_SETTINGS, redisRestoreScript } from "../../render/backupRestore";
import { SCRAM_SALT_BYTES, scramSha256Verifier } from "../../render/hashing";
import { BINARIES } from "./support/binaries";
import { redisClient } from "./support/clients";
import { configPlan, LOOPBACK, randomPassword, testEndpoints } from "./support/plan";
import { run, serverUser, ServerProcess } from "./support/processes";
import { Stack } from "./support/stack";

jest.setTimeout(10 * 60 * 1000);

const PG_BIN = path.dirname(BINARIES.postgres.path);
/** No Qdrant here (no package): its part of backup.sh is the unit tests' (tests/unit/backupScripts.test.ts). */
const CONFIG = { qdrant: { enabled: false } };
/** backup.sh finds pg_basebackup, pg_verifybackup and pg_archivecleanup on PATH, as in the image. */
const SCRIPT_ENV = { PATH: `${PG_BIN}:/usr/sbin:/usr/bin:/sbin:/bin` };

let stack: Stack;
let sidecar: SidecarLayout;
let targets: SidecarTargets;
const owner = serverUser();

function chown(target: string): void {
    fs.chownSync(target, owner.uid, owner.gid);
}

function ownedDirectory(dir: string): void {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    chown(dir);
}

function ownedFile(file: string, content: string, mode: number): void {
    fs.writeFileSync(file, content, { mode });
    fs.chmodSync(file, mode);
    chown(file);
}

const store = (directory: keyof typeof BACKUP_DIRECTORIES) => backupPath(stack.layout, directory);

/** Renders backup.sh for `keep` base backups and runs it as the server's OS user. */
async function runBackup(keep = stack.plan.backups.keepBaseBackups) {
    const plan = keep === stack.plan.backups.keepBaseBackups ? stack.plan : configPlan(stack.ports, { ...CONFIG, backups: { keepBaseBackups: keep } }).plan;
    const script = path.join(sidecar.configDirectory, `backup-keep-${keep}.sh`);
    ownedFile(script, renderBackupScript(plan, stack.layout, targets), 0o755);
    return run("bash", [script, "manual"], { asServerUser: true, env: SCRIPT_ENV, timeoutMs: 5 * 60_000 });
}

function statusOf(service: string, which = ""): Record<string, any> {
    return JSON.parse(fs.readFileSync(path.join(store("status"), `${service}${which}.json`), "utf8"));
}

async function superuser(database = "postgres"): Promise<Client> {
    return stack.superuser(database);
}

async function sql(query: string, database = "postgres"): Promise<any[]> {
    const client = await superuser(database);
    try {
        return (await client.query(query)).rows;
    } finally {
        await client.end();
    }
}

async function waitFor(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        try {
            if (await probe()) {
                return;
            }
        } catch {
            // not yet
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`${what}: not within ${timeoutMs / 1000} s\n${stack.logTails()}`);
}

async function switchAndWaitForArchive(): Promise<string> {
    const [{ segment }] = await sql("SELECT pg_walfile_name(pg_switch_wal() - 1) AS segment");
    await waitFor(`${segment} archived`, () => fs.existsSync(path.join(store("wal"), `${segment}.gz`)));
    return segment;
}

/** Inserts ids from..to, one transaction each (as the services write). */
async function insertRows(from: number, to: number): Promise<void> {
    const client = await superuser("zentoria_main");
    try {
        for (let id = from; id <= to; id++) {
            await client.query("INSERT INTO backup_rows (id) VALUES ($1)", [id]);
        }
    } finally {
        await client.end();
    }
}

beforeAll(async () => {
    stack = await Stack.create({ postgres: true, redis: true, config: CONFIG });
    await stack.start();
    // The replication role the program creates through the provider (components/backups.ts).
    const password = randomPassword();
    for (const statement of backupRoleStatements(stack.plan, scramSha256Verifier(password, randomBytes(SCRAM_SALT_BYTES)))) {
        await sql(statement);
    }
    sidecar = {
        configDirectory: path.join(stack.dir, "backup-config"),
        redisData: stack.layout.redis.dataDirectory,
        qdrantSnapshots: path.join(stack.dir, "qdrant-snapshots"),
        heartbeat: path.join(stack.dir, "backup-heartbeat"),
    };
    targets = { sidecar, endpoints: testEndpoints(stack.plan) };
    ownedDirectory(sidecar.configDirectory);
    ownedFile(path.join(sidecar.configDirectory, "pgpass"), renderPgpass(stack.plan, password, targets), 0o600);
    ownedFile(path.join(sidecar.configDirectory, "redis.password"), stack.credentials.redis[stack.plan.backups.redisUser], 0o600);
    for (const directory of ["base", "redis", "qdrant", "status"] as const) {
        ownedDirectory(store(directory));
    }
    // The harness's Redis data directory is the server's: let the backup user read dump.rdb.
    fs.chmodSync(stack.layout.redis.dataDirectory, 0o755);
    await sql("CREATE TABLE backup_rows (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())", "zentoria_main");
});

afterAll(async () => {
    await stack?.stop(false);
});

test("archive_command: every finished segment in the archive, compressed, and PostgreSQL counts no failure", async () => {
    await insertRows(1, 10);
    const segment = await switchAndWaitForArchive();
    const gunzip = await run("gzip", ["-t", path.join(store("wal"), `${segment}.gz`)]);
    expect(gunzip.code).toBe(0);
    const size = await run("sh", ["-c", `gzip -dc ${path.join(store("wal"), `${segment}.gz`)} | wc -c`]);
    expect(Number(size.stdout.trim())).toBe(16 * 1024 * 1024);
    const [archiver] = await sql("SELECT archived_count::int, failed_count::int, last_archived_wal FROM pg_stat_archiver");
    expect(archiver.failed_count).toBe(0);
    expect(archiver.last_archived_wal >= segment).toBe(true);
    // Nothing half-written is left behind.
    expect(fs.readdirSync(store("wal")).filter((file) => file.endsWith(".tmp"))).toEqual([]);
});

test("a backup run: a base backup verified against its SHA-256 manifest, a Redis RDB copy, status and metrics", async () => {
    const redis = redisClient(stack.connectionStrings().redis.sessions);
    try {
        await redis.connect();
        for (let i = 1; i <= 5; i++) {
            await redis.set(`backed-up:${i}`, String(i));
        }
    } finally {
        redis.disconnect();
    }
    const result = await runBackup();
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: expect.stringMatching(/postgres: \d{8}T\d{6}Z: \d+ bytes in \d+ s \(manual\)/) });
    expect(result.stderr).toMatch(/redis: \d{8}T\d{6}Z: \d+ bytes/);

    const postgres = statusOf("postgres");
    expect(postgres).toMatchObject({ service: "postgres", outcome: "success", trigger: "manual" });
    const base = path.join(store("base"), postgres.name);
    expect(fs.readFileSync(path.join(base, "backup_manifest"), "utf8")).toMatch(/"Checksum-Algorithm": "SHA256"/);
    // The kept backup verifies again, from what is on disk.
    const verify = await run(path.join(PG_BIN, "pg_verifybackup"), [base], { asServerUser: true, env: SCRIPT_ENV, timeoutMs: 120_000 });
    expect(verify.stdout).toMatch(/backup successfully verified/);
    const meta = JSON.parse(fs.readFileSync(`${base}.json`, "utf8"));
    expect(meta).toMatchObject({ name: postgres.name, startWal: expect.stringMatching(/^00000001[0-9A-F]{16}$/), timeline: 1, endLsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/), bytes: postgres.bytes, verified: true });
    expect(Date.parse(meta.finishedAt)).toBeGreaterThan(Date.parse(meta.startedAt));

    const redisStatus = statusOf("redis");
    const rdb = path.join(store("redis"), `${redisStatus.name}.rdb`);
    expect(fs.readFileSync(rdb).subarray(0, 5).toString()).toBe("REDIS");
    const sha = await run("sh", ["-c", `sha256sum < ${rdb} | cut -d' ' -f1`]);
    expect(sha.stdout.trim()).toBe(fs.readFileSync(`${rdb}.sha256`, "utf8").trim());

    const metrics = fs.readFileSync(path.join(store("status"), "metrics.prom"), "utf8");
    expect(metrics).toMatch(/^zentoria_backup_last_success_timestamp_seconds\{service="postgres"\} \d{10}$/m);
    expect(metrics).toMatch(new RegExp(`^zentoria_backup_last_success_size_bytes\\{service="redis"\\} ${redisStatus.bytes}$`, "m"));
    expect(metrics).toMatch(/^zentoria_backup_last_run_success\{service="postgres"\} 1$/m);

    // What `npm run backup -- <stack> --status` and `npm run restore` read, from the same store.
    const listing = await run("bash", ["-c", catalogScript(stack.layout.backups.directory)]);
    const catalog = parseCatalog(listing.stdout);
    expect(catalog.base.map((entry) => entry.name)).toEqual([postgres.name]);
    expect(catalog.redis.map((entry) => entry.name)).toEqual([redisStatus.name]);
    expect(catalog.status.postgres.lastSuccess?.name).toBe(postgres.name);
    expect(catalog.walFiles).toBeGreaterThan(0);
});

test("a failing backup: exit status 1, a FAILED line, the status says so and keeps the last success", async () => {
    const lastSuccess = statusOf("postgres", ".success");
    await sql(`ALTER ROLE ${stack.plan.backups.role.name} NOLOGIN`);
    try {
        const result = await runBackup();
        expect(result.code).toBe(1);
        expect(result.stderr).toMatch(/postgres: backup FAILED \(manual\): pg_basebackup: .*not permitted to log in/);
        expect(statusOf("postgres")).toMatchObject({ outcome: "failed", message: expect.stringMatching(/not permitted to log in/) });
        expect(statusOf("postgres", ".success")).toEqual(lastSuccess);
        // The other services still ran.
        expect(statusOf("redis").outcome).toBe("success");
        expect(fs.readFileSync(path.join(store("status"), "metrics.prom"), "utf8")).toMatch(/^zentoria_backup_last_run_success\{service="postgres"\} 0$/m);
        expect(fs.readFileSync(path.join(store("status"), "last-run"), "utf8")).toMatch(/^\d+ failed\n$/);
        expect(fs.readdirSync(store("base")).filter((name) => name.startsWith(".partial"))).toEqual([]);
    } finally {
        await sql(`ALTER ROLE ${stack.plan.backups.role.name} LOGIN`);
    }
});

test("retention: the newest base backups kept, the WAL archive pruned back to the oldest kept one", async () => {
    for (let run = 0; run < 2; run++) {
        await insertRows(1000 + run * 10, 1009 + run * 10);
        await switchAndWaitForArchive();
        await new Promise((resolve) => setTimeout(resolve, 1100));
        const result = await runBackup(2);
        expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    }
    const kept = fs.readdirSync(store("base")).filter((name) => /^\d{8}T\d{6}Z$/.test(name)).sort();
    expect(kept).toHaveLength(2);
    const oldestStart = JSON.parse(fs.readFileSync(path.join(store("base"), `${kept[0]}.json`), "utf8")).startWal as string;
    const segments = fs.readdirSync(store("wal")).filter((file) => /^[0-9A-F]{24}\.gz$/.test(file));
    expect(segments.filter((file) => file.slice(8, 24) < oldestStart.slice(8, 24))).toEqual([]);
    expect(segments.length).toBeGreaterThan(0);
    await sql("DELETE FROM backup_rows WHERE id >= 1000", "zentoria_main");
});

test("point-in-time restore with the rendered restore script: exactly the rows committed before the target", async () => {
    const backup = await runBackup();
    expect(backup.code).toBe(0);
    const baseName = statusOf("postgres").name;
    await insertRows(11, 200);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const target = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await insertRows(201, 300);
    await sql("DROP TABLE backup_rows", "zentoria_main");

    // Stopped without archiving the current segment: the restore stages the old pg_wal's tail.
    await stack.server("postgresql").stop("SIGINT");
    const dataMount = path.dirname(stack.postgresDataDir);
    const meta = JSON.parse(fs.readFileSync(path.join(store("base"), `${baseName}.json`), "utf8"));
    const restoreId = "20261203T190000Z";
    const script = postgresRestoreScript(
        {
            dataMount,
            pgdata: stack.postgresDataDir,
            baseBackup: path.join(store("base"), baseName),
            walArchive: store("wal"),
            owner: `${owner.uid}:${owner.gid}`,
            includeUnarchived: true,
        },
        { restoreId, startWal: meta.startWal, targetTime: target, timeline: 1 },
    );
    const prepared = await run("bash", ["-c", script], { timeoutMs: 5 * 60_000 });
    expect({ code: prepared.code, stderr: prepared.stderr }).toEqual({ code: 0, stderr: "" });
    expect(prepared.stdout).toMatch(/moved the current data directory aside/);
    expect(prepared.stdout).toMatch(/staged \d+ archived and [1-9]\d* unarchived WAL segments/);
    expect(fs.existsSync(path.join(stack.postgresDataDir, "recovery.signal"))).toBe(true);

    const restored = ServerProcess.start(
        "postgresql-restored",
        BINARIES.postgres.path,
        ["-D", stack.postgresDataDir, "-c", `config_file=${stack.layout.postgres.configFile}`],
        path.join(stack.logDir, "postgresql-restored.log"),
    );
    stack.servers.push(restored);
    await waitFor("recovery finished and promoted", async () => (await sql("SELECT pg_is_in_recovery() AS r"))[0].r === false, 300_000);

    const [rows] = await sql("SELECT count(*)::int AS count, max(id) AS max FROM backup_rows", "zentoria_main");
    expect(rows).toEqual({ count: 200, max: 200 });
    const [{ timeline }] = await sql("SELECT timeline_id AS timeline FROM pg_control_checkpoint()");
    expect(timeline).toBe(2);
    expect(fs.existsSync(path.join(stack.postgresDataDir, "recovery.signal"))).toBe(false);

    // The restore's last steps: the recovery settings go, archiving goes on on the new timeline.
    for (const setting of RECOVERY_SETTINGS) {
        await sql(`ALTER SYSTEM RESET ${setting}`);
    }
    expect(fs.readFileSync(path.join(stack.postgresDataDir, "postgresql.auto.conf"), "utf8")).not.toMatch(/restore_command|recovery_target/);
    const segment = await switchAndWaitForArchive();
    expect(segment.startsWith("00000002")).toBe(true);
    expect(fs.existsSync(path.join(store("wal"), "00000002.history.gz"))).toBe(true);
    expect(fs.existsSync(path.join(dataMount, `pgdata.before-restore-${restoreId}`))).toBe(true);
});

test("Redis: the RDB copy comes back, with its append-only file rebuilt from it", async () => {
    const url = stack.connectionStrings().redis.sessions;
    const before = redisClient(url);
    try {
        await before.connect();
        await before.set("written-after-the-backup", "x");
    } finally {
        before.disconnect();
    }
    const copy = statusOf("redis", ".success").name;
    await stack.server("redis").stop("SIGTERM");
    const dataDirectory = stack.layout.redis.dataDirectory;
    const restoreId = "20261203T190500Z";
    const script = redisRestoreScript(
        { dataDirectory, rdb: path.join(store("redis"), `${copy}.rdb`), owner: `${owner.uid}:${owner.gid}`, appendonly: stack.plan.redis.appendonly },
        restoreId,
    );
    const result = await run("bash", ["-c", script], { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" }, timeoutMs: 5 * 60_000 });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: "" });
    expect(result.stdout).toMatch(/^db0:keys=5,/m);
    expect(fs.readdirSync(path.join(dataDirectory, "appendonlydir")).some((file) => file.endsWith(".manifest"))).toBe(true);
    expect(fs.readdirSync(path.join(dataDirectory, `before-restore-${restoreId}`)).sort()).toEqual(expect.arrayContaining(["appendonlydir", "dump.rdb"]));

    const restarted = ServerProcess.start("redis-restored", BINARIES.redisServer.path, [stack.layout.redis.configFile], path.join(stack.logDir, "redis-restored.log"));
    stack.servers.push(restarted);
    const after = redisClient({ host: LOOPBACK, port: stack.plan.redis.port, username: "backend", password: stack.credentials.redis.backend });
    try {
        await waitFor("Redis answering", async () => {
            if (after.status !== "ready") {
                await after.connect();
            }
            return (await after.ping()) === "PONG";
        });
        expect(await after.mget("backed-up:1", "backed-up:5", "written-after-the-backup")).toEqual(["1", "5", null]);
    } finally {
        after.disconnect();
    }
});
