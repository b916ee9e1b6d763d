// Backups under mocks and on the host's own shell (README: "Backups and restore"): the config
// section and its checks, what the program renders (archive settings, pg_hba line, the Redis user,
// the sidecar's scripts), the resources it registers, and the pure parts of `npm run backup` and
// `npm run restore`. The scripts run for real in tests/integration/backups.test.ts (PostgreSQL and
// Redis) and tests/e2e/backups.test.ts (Docker); Qdrant, which cannot run here, only below, against
// a stand-in of its snapshot API.
import { execFileSync, spawn } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { formatProblem, loadPlan, tryPlan } from "../../config";
import { archiveTimeline, chooseBaseBackup, chooseRdb, lsnValue, onTimeline, parseUserlist, restoreIdOf } from "../../ops/restore";
import { parseCatalog, serviceHealth } from "../../ops/backups";
import { parseArguments } from "../../scripts/restore";
import { archiveCommand, archiveSettings, renderBackupScript, renderPgpass, renderSchedule, renderSchedulerScript, restoreCommand } from "../../render/backup";
import { checkTargetTime, postgresRestoreScript, postgresTimestamp, recoverySettings, redisRestoreScript } from "../../render/backupRestore";
import { CONTAINER_LAYOUT } from "../../render/layout";
import { hbaRules } from "../../render/postgresql";
import { renderRedisAcl } from "../../render/redis";
import { DYNAMIC, MOCK_SUBNET, named, ofType, plain, recorded } from "./support/mocks";
import { rawConfig } from "./support/config";
import { buildTier, optionsOf } from "./support/tier";

const CONTAINER = "docker:index/container:Container";
const VOLUME = "docker:index/volume:Volume";

const planOf = (values: Record<string, unknown> = {}) => loadPlan(rawConfig(values)).plan;
const errorsOf = (values: Record<string, unknown>) =>
    tryPlan(rawConfig(values))
        .problems.filter((problem) => problem.severity === "error")
        .map(formatProblem);

describe("config: the backups section", () => {
    test("on by default: a daily base backup, seven kept, WAL archived within 5 minutes, on the stack's own backup volume", () => {
        const plan = planOf();
        expect(plan.backups).toEqual({
            enabled: true,
            volumeName: "zentoria-backups",
            hostDirectory: undefined,
            containerName: "zentoria-backup",
            configVolumeName: "zentoria-backup-config",
            intervalHours: 24,
            keepBaseBackups: 7,
            archiveTimeoutSeconds: 300,
            memory: "256m",
            role: { name: "zentoria_backup", connectionLimit: 2 },
            redisUser: "backup",
            services: ["postgres", "redis", "qdrant"],
        });
        expect(plan.redis.users.map((user) => user.name)).toContain("backup");
    });

    test("with tls.enabled the backups cover PostgreSQL only, and the plan warns, naming the key", () => {
        const { plan, problems } = tryPlan(rawConfig({ tls: { enabled: true } }));
        expect(plan?.backups.services).toEqual(["postgres"]);
        expect(problems.filter((problem) => problem.key === "backups.enabled")).toEqual([
            expect.objectContaining({ severity: "warning", message: expect.stringMatching(/PostgreSQL only: Redis and Qdrant then speak TLS only/) }),
        ]);
        const script = renderBackupScript(plan!, CONTAINER_LAYOUT);
        expect(script).toMatch(/^for service in postgres; do$/m);
        expect(script).not.toMatch(/backup_redis\(\)|backup_qdrant\(\)/);
    });

    test("one line per problem, naming the key, before anything is built", () => {
        expect(errorsOf({ backups: { intervalHours: 0, keepBaseBackups: 0, hostDirectory: "relative/dir" } })).toEqual([
            "zentoria:backups.intervalHours: Number must be greater than or equal to 1",
            "zentoria:backups.keepBaseBackups: Number must be greater than or equal to 1",
            "zentoria:backups.hostDirectory: must be an absolute directory path of letters, digits, '.', '_', '-' and '/'",
        ]);
        expect(errorsOf({ backups: { hostDirectory: "/srv/../etc" } })).toEqual(["zentoria:backups.hostDirectory: must not contain '..'"]);
        expect(errorsOf({ backups: { hostDirectory: "/srv/backups:rw" } })).toHaveLength(1);
        expect(errorsOf({ backups: { retention: 3 } })).toEqual(["zentoria:backups.retention: unknown key"]);
    });

    test("archiving is the program's while backups are on; PostgreSQL must keep WAL fit for it", () => {
        expect(errorsOf({ postgres: { settings: { archive_command: "true", archive_timeout: "1min", restore_command: "false" } } })).toEqual([
            "zentoria:postgres.settings.archive_command: is rendered by the program while backups are on: the program archives WAL into the backup volume (set backups.enabled)",
            "zentoria:postgres.settings.archive_timeout: is rendered by the program while backups are on: set backups.archiveTimeoutSeconds",
            "zentoria:postgres.settings.restore_command: is rendered by the program while backups are on: `npm run restore` sets it in the data directory for the restore only",
        ]);
        expect(errorsOf({ postgres: { settings: { wal_level: "minimal", max_wal_senders: 0 } } })).toEqual([
            'zentoria:postgres.settings.wal_level: must be "replica" or "logical" while backups are on: WAL archiving and base backups need it',
            "zentoria:postgres.settings.max_wal_senders: must be at least 2 while backups are on: a base backup streams its files and its WAL",
        ]);
        expect(errorsOf({ postgres: { settings: { max_replication_slots: 0 } } })).toEqual([
            "zentoria:postgres.settings.max_replication_slots: must be at least 1 while backups are on: a base backup holds a temporary slot",
        ]);
        // Off: the user's own archiving is theirs.
        expect(errorsOf({ backups: { enabled: false }, postgres: { settings: { archive_mode: "on", archive_command: "true" } } })).toEqual([]);
    });

    test("the backup role and Redis user are not the config's to take", () => {
        expect(errorsOf({ roles: { zentoria_backup: { access: "readonly", connectionLimit: 5, directConnections: 1 } } })).toEqual([
            "zentoria:roles.zentoria_backup: is the role the backups log in as (REPLICATION); choose another name",
        ]);
        const clients = { cache: { user: "backup" } };
        expect(errorsOf({ redis: { clients } })).toEqual(['zentoria:redis.clients.cache.user: "backup" is the Redis user the backups log in as']);
        expect(errorsOf({ backups: { enabled: false }, redis: { clients } })).toEqual([]);
    });

    test("the connection budget counts the base backup's replication connections and the backup Redis user", () => {
        const { budget } = loadPlan(rawConfig());
        expect([budget.postgres.replicationPeak, budget.postgres.maxWalSenders]).toEqual([2, 10]);
        expect(budget.redis.systemUsers).toEqual(["admin", "backup", "healthcheck", "monitor"]);
        const off = loadPlan(rawConfig({ backups: { enabled: false } })).budget;
        expect([off.postgres.replicationPeak, off.redis.systemUsers]).toEqual([0, ["admin", "healthcheck", "monitor"]]);
    });
});

describe("what the program renders for the backups", () => {
    test("postgresql.conf: archive_mode, the archive command into the backup volume, archive_timeout; nothing when off", () => {
        expect(archiveSettings(planOf(), CONTAINER_LAYOUT)).toEqual([
            ["archive_mode", "on"],
            ["archive_command", archiveCommand("/backups/postgres/wal")],
            ["archive_timeout", "300s"],
        ]);
        expect(archiveSettings(planOf({ backups: { enabled: false } }), CONTAINER_LAYOUT)).toEqual([]);
    });

    test("pg_hba.conf: the replication role from the stack's network only, for replication only", () => {
        const rules = hbaRules(planOf(), { subnet: MOCK_SUBNET, gateway: "172.30.0.1" });
        const replication = rules.filter((rule) => rule.databases.includes("replication"));
        expect(replication).toEqual([expect.objectContaining({ type: "host", users: ["zentoria_backup"], address: MOCK_SUBNET, method: "scram-sha-256" })]);
        expect(rules.indexOf(replication[0])).toBeLessThan(rules.findIndex((rule) => rule.method === "reject" && rule.type === "host"));
        expect(hbaRules(planOf({ backups: { enabled: false } }), { subnet: MOCK_SUBNET, gateway: "172.30.0.1" }).some((rule) => rule.databases.includes("replication"))).toBe(false);
    });

    test("users.acl: the backup user may run BGSAVE and LASTSAVE, nothing else, no key", () => {
        const plan = planOf();
        const hashes = Object.fromEntries(plan.redis.users.map((user) => [user.name, `#${"a".repeat(64)}`]));
        expect(renderRedisAcl(plan.redis, hashes)).toContain(`user backup reset on #${"a".repeat(64)} resetkeys resetchannels -@all +bgsave +lastsave\n`);
    });

    test("the sidecar's password file: libpq's format, ':' and '\\' escaped", () => {
        expect(renderPgpass(planOf(), "pa:ss\\word")).toBe("zentoria-postgres:5432:*:zentoria_backup:pa\\:ss\\\\word\n");
        expect(renderSchedule(planOf({ backups: { intervalHours: 6 } }))).toBe("21600 3600\n");
    });

    test("every script is valid bash", () => {
        const plan = planOf();
        const scripts = {
            "backup.sh": renderBackupScript(plan, CONTAINER_LAYOUT),
            "scheduler.sh": renderSchedulerScript(CONTAINER_LAYOUT),
            "restore (postgres)": postgresRestoreScript(
                { dataMount: "/d", pgdata: "/d/pgdata", baseBackup: "/b/base/20261203T180000Z", walArchive: "/b/wal", owner: "postgres:postgres", includeUnarchived: true },
                { restoreId: "20261203T190000Z", startWal: "000000010000000000000002", targetTime: "2026-12-03T18:30:00Z" },
            ),
            "restore (redis)": redisRestoreScript({ dataDirectory: "/data", rdb: "/b/redis/20261203T180000Z.rdb", owner: "redis:redis", appendonly: true }, "20261203T190000Z"),
        };
        for (const [name, script] of Object.entries(scripts)) {
            expect([name, execFileSync("bash", ["-n"], { input: script, encoding: "utf8" })]).toEqual([name, ""]);
        }
        expect(scripts["backup.sh"]).toContain("--manifest-checksums=SHA256");
        expect(scripts["backup.sh"]).toContain("pg_verifybackup");
    });
});

describe("archive_command and restore_command, run by the shell as PostgreSQL runs them", () => {
    let dir: string;
    const sh = (command: string, cwd: string) => {
        try {
            execFileSync("sh", ["-c", command], { cwd, stdio: "pipe" });
            return 0;
        } catch (error) {
            return (error as { status: number }).status;
        }
    };
    /** %p (relative to the data directory) and %f substituted the way PostgreSQL does. */
    const archive = (segment: string) => sh(archiveCommand(path.join(dir, "archive")).replace(/%p/g, `pg_wal/${segment}`).replace(/%f/g, segment), path.join(dir, "data"));

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "zentoria-archive-"));
        fs.mkdirSync(path.join(dir, "archive"));
        fs.mkdirSync(path.join(dir, "data", "pg_wal"), { recursive: true });
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    test("a new segment is archived compressed, with nothing half-written left", () => {
        const segment = "000000010000000000000003";
        const content = Buffer.concat([Buffer.from("wal record"), Buffer.alloc(64 * 1024)]);
        fs.writeFileSync(path.join(dir, "data", "pg_wal", segment), content);
        expect(archive(segment)).toBe(0);
        expect(fs.readdirSync(path.join(dir, "archive"))).toEqual([`${segment}.gz`]);
        expect(execFileSync("gzip", ["-dc", path.join(dir, "archive", `${segment}.gz`)]).equals(content)).toBe(true);
        expect(fs.statSync(path.join(dir, "archive", `${segment}.gz`)).size).toBeLessThan(content.length / 10);
    });

    test("the same segment again is accepted (PostgreSQL retries after a crash); different content is refused and never overwritten", () => {
        const segment = "000000010000000000000004";
        fs.writeFileSync(path.join(dir, "data", "pg_wal", segment), "first");
        expect(archive(segment)).toBe(0);
        const archived = fs.readFileSync(path.join(dir, "archive", `${segment}.gz`));
        expect(archive(segment)).toBe(0);
        fs.writeFileSync(path.join(dir, "data", "pg_wal", segment), "second");
        expect(archive(segment)).not.toBe(0);
        expect(fs.readFileSync(path.join(dir, "archive", `${segment}.gz`)).equals(archived)).toBe(true);
    });

    test("a missing archive directory fails the command, so PostgreSQL keeps the segment and retries", () => {
        fs.rmSync(path.join(dir, "archive"), { recursive: true });
        fs.writeFileSync(path.join(dir, "data", "pg_wal", "000000010000000000000005"), "x");
        expect(archive("000000010000000000000005")).not.toBe(0);
    });

    test("restore_command: the staged segment, or a failure PostgreSQL reads as 'not there'", () => {
        const staging = path.join(dir, "archive");
        fs.writeFileSync(path.join(staging, "000000010000000000000006.gz"), execFileSync("gzip", ["-c"], { input: "segment six" }));
        const restore = (segment: string) => sh(restoreCommand(staging).replace(/%p/g, "pg_wal/RECOVERYXLOG").replace(/%f/g, segment), path.join(dir, "data"));
        expect(restore("000000010000000000000006")).toBe(0);
        expect(fs.readFileSync(path.join(dir, "data", "pg_wal", "RECOVERYXLOG"), "utf8")).toBe("segment six");
        expect(restore("000000010000000000000007")).toBe(1);
    });
});

describe("the restore's choices and settings", () => {
    const base = (name: string, finishedAt: string, timeline = 1, startWal = "000000010000000000000002", endLsn?: string) => ({
        name,
        startedAt: finishedAt,
        finishedAt,
        startWal,
        timeline,
        endLsn,
        bytes: 1,
    });
    const backups = [base("20261201T000000Z", "2026-12-01T00:00:30.000Z"), base("20261202T000000Z", "2026-12-02T00:00:30.000Z")];

    test("the newest base backup that finished before the target; the newest of all for --latest", () => {
        expect(chooseBaseBackup(backups, "2026-12-02T00:00:30.000Z").name).toBe("20261202T000000Z");
        expect(chooseBaseBackup(backups, "2026-12-02T00:00:29.999Z").name).toBe("20261201T000000Z");
        expect(chooseBaseBackup(backups).name).toBe("20261202T000000Z");
        expect(() => chooseBaseBackup(backups, "2026-12-01T00:00:00Z")).toThrow(/no base backup finished before 2026-12-01T00:00:00Z: the oldest kept finished at 2026-12-01T00:00:30.000Z/);
        expect(() => chooseBaseBackup([], undefined)).toThrow(/no base backup yet/);
    });

    test("timelines: a backup starts a timeline's recovery only when it lies on that timeline's history", () => {
        const histories = [{ timeline: 2, ancestors: [{ timeline: 1, switchLsn: "0/50405A0" }] }];
        const beforeFork = base("20261203T193849Z", "2026-12-03T19:38:51.660Z", 1, "000000010000000000000004", "0/4000100");
        // Taken on timeline 1 after the restore forked timeline 2 off it: a branch nobody follows.
        const abandoned = base("20261203T193929Z", "2026-12-03T19:39:32.699Z", 1, "000000010000000000000007", "0/7000138");
        const onTwo = base("20261203T194100Z", "2026-12-03T19:41:02.000Z", 2, "000000020000000000000006", "0/6000138");
        expect(lsnValue("16/B374D848")).toBe(0x16b374d848n);
        expect([onTimeline(beforeFork, 2, histories), onTimeline(abandoned, 2, histories), onTimeline(onTwo, 2, histories)]).toEqual([true, false, true]);
        expect(onTimeline(onTwo, 1, histories)).toBe(false);
        // Without its end recorded, a backup counts from the start of its first segment.
        expect(onTimeline({ ...abandoned, endLsn: undefined }, 2, histories)).toBe(false);
        expect(onTimeline({ ...beforeFork, endLsn: undefined }, 2, histories)).toBe(true);
        expect(chooseBaseBackup([beforeFork, abandoned], undefined, 2, histories).name).toBe(beforeFork.name);
        expect(chooseBaseBackup([beforeFork, abandoned], undefined, 1, histories).name).toBe(abandoned.name);
        expect(() => chooseBaseBackup([abandoned], undefined, 2, histories)).toThrow(/no base backup lies on timeline 2's history/);
    });

    test("Redis: the newest RDB copy saved before the target", () => {
        const copies = [
            { name: "20261201T000000Z", savedAt: "2026-12-01T00:00:01.000Z", bytes: 1 },
            { name: "20261202T000000Z", savedAt: "2026-12-02T00:00:01.000Z", bytes: 1 },
        ];
        expect(chooseRdb(copies, "2026-12-01T12:00:00Z").name).toBe("20261201T000000Z");
        expect(chooseRdb(copies).name).toBe("20261202T000000Z");
    });

    test("recovery settings: restore_command from the staging copy, the target as PostgreSQL writes a time, exclusive, then promote", () => {
        expect(recoverySettings("/d/restore-wal-x", "2026-12-03T19:28:06.746+01:00", 2)).toEqual([
            ["restore_command", restoreCommand("/d/restore-wal-x")],
            ["recovery_target_time", "2026-12-03 18:28:06.746+00"],
            ["recovery_target_inclusive", "off"],
            ["recovery_target_timeline", "2"],
            ["recovery_target_action", "promote"],
        ]);
        expect(recoverySettings("/d/s").map(([name]) => name)).toEqual(["restore_command", "recovery_target_action"]);
        expect(postgresTimestamp("2026-12-03T18:05:00Z")).toBe("2026-12-03 18:05:00.000+00");
        expect(() => checkTargetTime("2026-12-03 18:05")).toThrow(/ISO 8601 time with a zone/);
        expect(() => checkTargetTime("yesterday")).toThrow(/ISO 8601/);
    });

    test("the restore scripts refuse what they cannot write safely", () => {
        const paths = { dataMount: "/d", pgdata: "/d/pgdata", baseBackup: "/b", walArchive: "/w", owner: "postgres:postgres", includeUnarchived: false };
        expect(() => postgresRestoreScript(paths, { restoreId: "now; rm -rf /", startWal: "000000010000000000000002" })).toThrow(/restore id/);
        expect(() => postgresRestoreScript(paths, { restoreId: "20261203T190000Z", startWal: "../x" })).toThrow(/WAL file name/);
        // Another stack's old WAL would not fit the restored cluster: only the archive's is staged.
        expect(postgresRestoreScript(paths, { restoreId: "20261203T190000Z", startWal: "000000010000000000000002" })).not.toContain("pg_wal/*");
        expect(restoreIdOf(new Date("2026-12-03T19:00:01.250Z"))).toBe("20261203T190001Z");
    });

    test("npm run restore's arguments: a stack, exactly one of --time and --latest, known services", () => {
        expect(parseArguments(["prod", "--latest"])).toMatchObject({ stack: "prod", services: ["postgres"], dryRun: false });
        expect((parseArguments(["prod", "--latest"]) as { targetTime?: string }).targetTime).toBeUndefined();
        expect(parseArguments(["prod", "--time", "2026-12-03T18:05:00Z", "--services", "postgres,redis", "--into", "inspect", "--dry-run"])).toMatchObject({
            stack: "prod",
            into: "inspect",
            targetTime: "2026-12-03T18:05:00Z",
            services: ["postgres", "redis"],
            dryRun: true,
        });
        expect(parseArguments(["prod"])).toEqual({ problem: "give exactly one of --time <timestamp> and --latest" });
        expect(parseArguments(["prod", "--latest", "--time", "2026-12-03T18:05:00Z"])).toEqual({ problem: "give exactly one of --time <timestamp> and --latest" });
        expect(parseArguments(["prod", "--time", "2026-12-03 18:05"])).toMatchObject({ problem: expect.stringMatching(/ISO 8601 time with a zone/) });
        expect(parseArguments(["prod", "--latest", "--services", "qdrant"])).toMatchObject({ problem: expect.stringMatching(/qdrant cannot be restored by this command/) });
        expect(parseArguments(["prod", "--latest", "--into", "prod"])).toMatchObject({ problem: expect.stringMatching(/names the stack itself/) });
        expect(parseArguments(["--latest"])).toEqual({ problem: "which stack? (the first argument)" });
    });

    test("the store's listing, the status of each service, userlist entries", () => {
        const run = (service: string, outcome: string, finishedAt: string) =>
            JSON.stringify({ service, outcome, trigger: "scheduled", startedAt: finishedAt, finishedAt, seconds: 3, bytes: 42, name: "20261203T180000Z", message: "a b" });
        const catalog = parseCatalog(
            [
                `BASE ${JSON.stringify(base("20261203T180000Z", "2026-12-03T18:00:09.000Z"))}`,
                'RDB 20261203T180010Z 93 {"name":"20261203T180010Z","savedAt":"2026-12-03T18:00:10.500Z","bytes":93}',
                "SNAPSHOT 20261203T180011Z 1024",
                `STATUS postgres ${run("postgres", "failed", "2026-12-03T19:00:00.000Z")}`,
                `STATUS postgres.success ${run("postgres", "success", "2026-12-03T18:00:09.000Z")}`,
                "HISTORY 00000002 1 0/50405A0 before 2026-12-03 19:39:10.123+00;",
                "HISTORY 00000003 1 0/50405A0 before 2026-12-03 19:39:10.123+00;2 0/A000000 no recovery target specified;",
                "SEGMENTS 000000010000000000000004 000000020000000000000005 000000010000000000000008",
            ].join("\n"),
        );
        expect(catalog.base.map((entry) => entry.name)).toEqual(["20261203T180000Z"]);
        expect(catalog.redis).toEqual([{ name: "20261203T180010Z", bytes: 93, savedAt: "2026-12-03T18:00:10.500Z" }]);
        expect(catalog.qdrant).toEqual([{ name: "20261203T180011Z", bytes: 1024 }]);
        // The newest segment by position: timeline 1 went on after timeline 2 was abandoned.
        expect([catalog.walFiles, catalog.newestWal, archiveTimeline(catalog)]).toEqual([3, "000000010000000000000008", 1]);
        expect(catalog.histories).toEqual([
            { timeline: 2, ancestors: [{ timeline: 1, switchLsn: "0/50405A0" }] },
            { timeline: 3, ancestors: [{ timeline: 1, switchLsn: "0/50405A0" }, { timeline: 2, switchLsn: "0/A000000" }] },
        ]);
        const now = Date.parse("2026-12-03T19:30:00Z");
        expect(serviceHealth(catalog.status.postgres, 24, now)).toBe("failed");
        expect(serviceHealth({ lastSuccess: catalog.status.postgres.lastSuccess, lastRun: catalog.status.postgres.lastSuccess }, 24, now)).toBe("ok");
        expect(serviceHealth({ lastSuccess: catalog.status.postgres.lastSuccess, lastRun: catalog.status.postgres.lastSuccess }, 24, now + 3 * 86400_000)).toBe("stale");
        expect(serviceHealth({}, 24, now)).toBe("none");
        expect(parseUserlist('"zentoria_app" "SCRAM-SHA-256$4096:a$b:c"\n"odd""name" "v"\n')).toEqual([
            { user: "zentoria_app", verifier: "SCRAM-SHA-256$4096:a$b:c" },
            { user: 'odd"name', verifier: "v" },
        ]);
    });
});

describe("resources: the backup store, the sidecar, the replication role", () => {
    beforeAll(async () => {
        await buildTier();
    });

    test("the backup volume is the stack's own, kept on every destroy, labelled as the backup service's", async () => {
        const built = await buildTier({ postgres: { retainDataOnDestroy: false }, redis: { retainDataOnDestroy: false } });
        expect(plain(named(VOLUME, "zentoria-backup-store-volume").inputs)).toEqual({
            name: "zentoria-backups",
            labels: [
                { label: "zentoria.stack", value: "zentoria" },
                { label: "zentoria.service", value: "backup" },
            ],
        });
        expect(optionsOf(built, VOLUME, "zentoria-backup-store-volume").retainOnDelete).toBe(true);
        expect(optionsOf(built, VOLUME, "zentoria-postgres-data").retainOnDelete).toBe(false);
    });

    test("PostgreSQL mounts the store where archive_command writes, and starts only once it is laid out", async () => {
        const built = await buildTier();
        const postgres = plain(named(CONTAINER, "zentoria-postgres").inputs);
        expect(postgres.volumes).toContainEqual({ volumeName: "zentoria-backups", containerPath: "/backups" });
        expect(optionsOf(built, CONTAINER, "zentoria-postgres").dependsOn).toContain(built.tier.backupStore!.files);
        const store = plain(named(DYNAMIC, "zentoria-backup-store-files").inputs);
        expect(store).toMatchObject({ store: "zentoria-backups", owner: "postgres:postgres", configVolume: "zentoria-backup-config", readable: ["status"] });
        expect(store.directories.sort()).toEqual(["postgres/base", "postgres/wal", "qdrant", "redis", "status"]);
        expect(store.files.map((file: { name: string; mode: string }) => `${file.name} ${file.mode}`).sort()).toEqual([
            "backup.sh 0755",
            "pgpass 0600",
            "qdrant.api-key 0600",
            "redis.password 0600",
            "schedule 0644",
            "scheduler.sh 0755",
        ]);
    });

    test("the sidecar: PostgreSQL's image, hardened, no port, the store and the sources it copies, a heartbeat healthcheck", async () => {
        const built = await buildTier();
        const sidecar = plain(named(CONTAINER, "zentoria-backup").inputs);
        expect(sidecar).toMatchObject({
            name: "zentoria-backup",
            entrypoints: ["/bin/bash"],
            command: ["/etc/zentoria-backup/scheduler.sh"],
            user: "postgres",
            readOnly: true,
            securityOpts: ["no-new-privileges:true"],
            capabilities: { drops: ["ALL"], adds: [] },
            memory: 256,
            restart: "unless-stopped",
        });
        expect(sidecar.ports).toBeUndefined();
        expect(sidecar.volumes).toEqual([
            { volumeName: "zentoria-backups", containerPath: "/backups" },
            { volumeName: "zentoria-backup-config", containerPath: "/etc/zentoria-backup", readOnly: true },
            { volumeName: "zentoria-redis-data", containerPath: "/sources/redis", readOnly: true },
            { volumeName: "zentoria-qdrant-snapshots", containerPath: "/sources/qdrant-snapshots", readOnly: true },
        ]);
        expect(sidecar.healthcheck.tests.join(" ")).toMatch(/stat -c %Y \/tmp\/zentoria-backup-heartbeat/);
        // PostgreSQL's own image: already on the host, with pg_basebackup and pg_verifybackup.
        expect(sidecar.image).toBe(plain(named(CONTAINER, "zentoria-postgres").inputs).image);
        const dependsOn = optionsOf(built, CONTAINER, "zentoria-backup").dependsOn as unknown[];
        expect(dependsOn).toEqual(expect.arrayContaining([built.tier.backupStore!.files, built.tier.backupAgent!.role, built.tier.postgres.container, built.tier.redis.container]));
    });

    test("the replication role: REPLICATION and LOGIN only, CONNECTION LIMIT 2, a SCRAM verifier (secret), kept with the data", async () => {
        const built = await buildTier();
        const role = named("postgresql:index/role:Role", "zentoria-backup-role");
        expect(plain(role.inputs)).toMatchObject({ name: "zentoria_backup", login: true, replication: true, connectionLimit: 2 });
        expect(plain(role.inputs).password).toMatch(/^SCRAM-SHA-256\$4096:/);
        expect(plain(role.inputs).roles).toBeUndefined();
        expect(optionsOf(built, "postgresql:index/role:Role", "zentoria-backup-role").retainOnDelete).toBe(true);
    });

    test("a host directory instead of the volume: bind-mounted into PostgreSQL and the sidecar, no backup volume", async () => {
        await buildTier({ backups: { hostDirectory: "/srv/zentoria-backups" } });
        expect(recorded.some((resource) => resource.name === "zentoria-backup-store-volume")).toBe(false);
        expect(plain(named(CONTAINER, "zentoria-postgres").inputs).volumes).toContainEqual({ hostPath: "/srv/zentoria-backups", containerPath: "/backups" });
        expect(plain(named(CONTAINER, "zentoria-backup").inputs).volumes[0]).toEqual({ hostPath: "/srv/zentoria-backups", containerPath: "/backups" });
        expect(plain(named(DYNAMIC, "zentoria-backup-store-files").inputs).store).toBe("/srv/zentoria-backups");
    });

    test("backups off: no store, no sidecar, no archiving, no replication login; the role goes if it was there", async () => {
        const built = await buildTier({ backups: { enabled: false } });
        expect(recorded.filter((resource) => /backup/.test(resource.name)).map((resource) => resource.name)).toEqual(["zentoria-backup-role-removal"]);
        expect(plain(named(DYNAMIC, "zentoria-backup-role-removal").inputs)).toMatchObject({ role: "zentoria_backup", socket: { container: "zentoria-postgres", superuser: "postgres" } });
        expect(plain(named(CONTAINER, "zentoria-postgres").inputs).volumes.map((volume: { containerPath: string }) => volume.containerPath)).not.toContain("/backups");
        expect(built.tier.backups).toMatchObject({ enabled: false });
        expect(built.tier.backups.store).toBeUndefined();
        expect(ofType(CONTAINER).map((resource) => resource.name)).not.toContain("zentoria-backup");
    });

    test("the backups output says where everything is, without a credential", async () => {
        const built = await buildTier();
        const info = built.tier.backups;
        expect(info).toMatchObject({
            enabled: true,
            store: "zentoria-backups",
            storeKind: "volume",
            sidecar: "zentoria-backup",
            mount: "/backups",
            postgres: { container: "zentoria-postgres", dataVolume: "zentoria-pgdata", pgdata: "/var/lib/postgresql/data/pgdata", dataVolumeLabels: { "zentoria.stack": "zentoria", "zentoria.service": "postgres", "zentoria.container": "404" } },
            redis: { container: "zentoria-redis", dataVolume: "zentoria-redis-data", appendonly: true },
        });
        expect(JSON.stringify(info)).not.toMatch(/example[0-9a-f]{25}/);
    });
});

describe("the Qdrant part of backup.sh against a stand-in of Qdrant's snapshot API", () => {
    // Qdrant cannot run here (no package, no image): a local HTTP server answers the two calls the
    // script makes the way Qdrant's API documents them (POST /snapshots?wait=true, DELETE
    // /snapshots/<name>), and writes the snapshot and its .checksum where Qdrant would.
    let dir: string;
    let server: http.Server;
    let port: number;
    let requests: Array<{ method: string; url: string; apiKey?: string }>;
    let corrupt = false;
    const apiKey = "qdrant-test-key-123";

    beforeAll(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "zentoria-qdrant-"));
        for (const sub of ["config", "snapshots", "store/qdrant", "store/status", "store/postgres/base", "store/postgres/wal", "store/redis"]) {
            fs.mkdirSync(path.join(dir, sub), { recursive: true });
        }
        fs.writeFileSync(path.join(dir, "config", "qdrant.api-key"), apiKey);
        fs.writeFileSync(path.join(dir, "config", "redis.password"), "x");
        fs.writeFileSync(path.join(dir, "config", "pgpass"), "", { mode: 0o600 });
        requests = [];
        server = http.createServer((request, response) => {
            requests.push({ method: request.method!, url: request.url!, apiKey: request.headers["api-key"] as string | undefined });
            if (request.headers["api-key"] !== apiKey) {
                response.writeHead(403).end('{"status":{"error":"Invalid api-key"}}');
            } else if (request.method === "POST" && request.url === "/snapshots?wait=true") {
                const name = "full-snapshot-2026-12-03-18-00-00.snapshot";
                const content = Buffer.from("a tar archive of every collection");
                fs.writeFileSync(path.join(dir, "snapshots", name), content);
                fs.writeFileSync(path.join(dir, "snapshots", `${name}.checksum`), corrupt ? "0".repeat(64) : createHash("sha256").update(content).digest("hex"));
                response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ result: { name, creation_time: "2026-12-03T18:00:00", size: content.length }, status: "ok", time: 0.01 }));
            } else if (request.method === "DELETE" && request.url!.startsWith("/snapshots/")) {
                response.writeHead(200).end('{"result":true,"status":"ok","time":0.001}');
            } else {
                response.writeHead(404).end();
            }
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        port = (server.address() as { port: number }).port;
    });
    afterAll(() => {
        server.close();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    /** backup.sh rendered for this directory; PostgreSQL and Redis point at a closed port, so only Qdrant's part can succeed. */
    function runScript(): Promise<{ code: number; stderr: string }> {
        const plan = planOf({ qdrant: { enabled: true } });
        const closed = { host: "127.0.0.1", port: 1 };
        const layout = { ...CONTAINER_LAYOUT, backups: { directory: path.join(dir, "store") } };
        const script = renderBackupScript(plan, layout, {
            sidecar: { configDirectory: path.join(dir, "config"), redisData: dir, qdrantSnapshots: path.join(dir, "snapshots"), heartbeat: path.join(dir, "hb") },
            endpoints: { postgres: closed, pgbouncer: closed, redis: closed, qdrant: { host: "127.0.0.1", httpPort: port, grpcPort: 1 } },
        });
        return new Promise((resolve) => {
            const child = spawn("bash", ["-s", "manual"], { stdio: ["pipe", "ignore", "pipe"] });
            let stderr = "";
            child.stderr.on("data", (chunk) => (stderr += chunk));
            child.on("close", (code) => resolve({ code: code ?? 1, stderr }));
            child.stdin.end(script);
        });
    }

    const qdrantStatus = () => JSON.parse(fs.readFileSync(path.join(dir, "store", "status", "qdrant.json"), "utf8"));

    test("a snapshot taken with the API key, copied, checked against Qdrant's checksum, then deleted from Qdrant", async () => {
        const result = await runScript();
        // PostgreSQL and Redis are not there: the run fails as a whole, Qdrant's part succeeds.
        expect(result.code).toBe(1);
        expect(qdrantStatus()).toMatchObject({ service: "qdrant", outcome: "success", message: "snapshot full-snapshot-2026-12-03-18-00-00.snapshot" });
        const copies = fs.readdirSync(path.join(dir, "store", "qdrant")).sort();
        expect(copies).toEqual([`${qdrantStatus().name}.snapshot`, `${qdrantStatus().name}.snapshot.sha256`]);
        expect(fs.readFileSync(path.join(dir, "store", "qdrant", copies[0]), "utf8")).toBe("a tar archive of every collection");
        expect(requests.map((request) => `${request.method} ${request.url} ${request.apiKey}`)).toEqual([
            `POST /snapshots?wait=true ${apiKey}`,
            `DELETE /snapshots/full-snapshot-2026-12-03-18-00-00.snapshot?wait=true ${apiKey}`,
        ]);
        expect(result.stderr).toMatch(/qdrant: \d{8}T\d{6}Z: 33 bytes/);
        expect(result.stderr).toMatch(/postgres: backup FAILED/);
    });

    test("a snapshot that does not match Qdrant's checksum is refused and not kept", async () => {
        corrupt = true;
        await new Promise((resolve) => setTimeout(resolve, 1100));
        await runScript();
        expect(qdrantStatus()).toMatchObject({ outcome: "failed", message: expect.stringMatching(/does not match Qdrant's checksum/) });
        expect(fs.readdirSync(path.join(dir, "store", "qdrant")).filter((file) => file.startsWith(qdrantStatus().name))).toEqual([]);
    });
});
