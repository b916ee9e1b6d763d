// `npm run restore`: PostgreSQL to a point in time (or the latest), Redis to its newest RDB copy
// before that point, from a stack's backup store into the same stack or another one, with the
// Docker CLI only. What it does, in order (planRestore lists it; --dry-run prints it and stops):
//
//   PostgreSQL  PAUSE PgBouncer; archive the source's current WAL segment; stop PostgreSQL; move
//               the data directory aside on its volume, copy the base backup in, stage the WAL,
//               set up recovery (render/backupRestore.ts); start PostgreSQL (or, when its
//               container is gone, `pulumi up` creates it); wait until recovery has promoted;
//               verify; put the stack's current passwords back on its roles; drop the recovery
//               settings and the old data directory; RESUME PgBouncer. Any failure after the
//               data directory moved puts it back and starts PostgreSQL on it again.
//   Redis       stop Redis; move its files aside, load the RDB copy (and rebuild the AOF from
//               it); start Redis and wait until healthy; drop the old files.
import type { BackupsInfo } from "../components/backups";
import { containerHealth, containerState, docker, dockerChecked, waitFor } from "../components/live/dockerCli";
import { PgbouncerConsoleAccess, pgbouncerCommand, PostgresSocketAccess, postgresReady, postgresSql } from "../components/live/consoles";
import { BACKUP_DIRECTORIES } from "../render/backup";
import {
    checkTargetTime,
    postgresCleanupScript,
    postgresRestoreScript,
    postgresRollbackScript,
    RECOVERY_SETTINGS,
    redisCleanupScript,
    redisRestoreScript,
    redisRollbackScript,
    restoreDirectories,
} from "../render/backupRestore";
import { sqlIdentifier, sqlLiteral } from "../render/quote";
import { BackupCatalog, BaseBackup, RdbCopy, readCatalog, runScript, TimelineHistory } from "./backups";
import type { DeployedStack } from "./stack";

export type RestoreService = "postgres" | "redis";
export const RESTORE_SERVICES: readonly RestoreService[] = ["postgres", "redis"];

export class RestoreError extends Error {}

const STORE = "/backups";
/** Capabilities of the throw-away containers that move and chown files on the volumes. */
const FILE_CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER"];

export interface RestoreRequest {
    /** Whose backups. */
    source: DeployedStack;
    /** Where to: the source itself, or another stack (--into) for inspection. */
    target: DeployedStack;
    /** recovery_target_time, ISO 8601 with a zone; absent: the latest there is. */
    targetTime?: string;
    services: readonly RestoreService[];
    dryRun: boolean;
    /** Keep the data from before the restore on the volume after a verified restore. */
    keepPrevious: boolean;
    /** How long PostgreSQL may take to recover (ms). */
    recoveryTimeoutMs: number;
    /** Creates a container of the target stack again (pulumi refresh + up) when it is gone. */
    recreateContainer(container: string): Promise<void>;
    log(line: string): void;
    /** The restore's own start (names the aside and staging directories). */
    now?: Date;
}

export interface RestorePlan {
    restoreId: string;
    postgres?: { base: BaseBackup; targetTime?: string; timeline: number; container: "running" | "stopped" | "missing"; dataVolume: boolean };
    redis?: { copy: RdbCopy; container: "running" | "stopped" | "missing" };
    steps: string[];
}

export function restoreIdOf(now: Date): string {
    return now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "Z");
}

/** A WAL position ("16/B374D848") as a number. */
export function lsnValue(lsn: string): bigint {
    const [high, low] = lsn.split("/");
    return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
}

/** Where a WAL segment starts (16 MB segments, the images' default). */
function segmentStart(segment: string): bigint {
    return (BigInt(`0x${segment.slice(8, 16)}`) << 32n) + BigInt(`0x${segment.slice(16, 24)}`) * 0x1000000n;
}

/**
 * Whether recovery along `timeline` can start from `backup`: taken on that timeline, or on one
 * of its ancestors and consistent before the history left it. (A backup of a branch that a
 * restore abandoned, or of one a rolled-back restore started, cannot.)
 */
export function onTimeline(backup: BaseBackup, timeline: number, histories: readonly TimelineHistory[]): boolean {
    if (backup.timeline === timeline) {
        return true;
    }
    const ancestor = histories.find((history) => history.timeline === timeline)?.ancestors.find((entry) => entry.timeline === backup.timeline);
    if (!ancestor) {
        return false;
    }
    const end = backup.endLsn ? lsnValue(backup.endLsn) : segmentStart(backup.startWal);
    return end <= lsnValue(ancestor.switchLsn);
}

/**
 * The timeline a restore follows: the one the source server writes now, or, with the server
 * gone, the one of the archive's newest segment. Not simply the highest: a restore that was
 * rolled back leaves a timeline behind that nobody continued.
 */
export function archiveTimeline(catalog: BackupCatalog): number {
    if (catalog.newestWal) {
        return parseInt(catalog.newestWal.slice(0, 8), 16);
    }
    return catalog.base.length > 0 ? catalog.base[catalog.base.length - 1].timeline : 1;
}

/**
 * The newest base backup on the timeline's history that finished before the target (any, for
 * the latest): its end is after its consistency point, so recovery from it can reach the target.
 */
export function chooseBaseBackup(backups: readonly BaseBackup[], targetTime?: string, timeline?: number, histories: readonly TimelineHistory[] = []): BaseBackup {
    if (backups.length === 0) {
        throw new RestoreError("the backup store holds no base backup yet: take one with `npm run backup -- <stack>`");
    }
    const onHistory = timeline === undefined ? backups : backups.filter((backup) => onTimeline(backup, timeline, histories));
    if (onHistory.length === 0) {
        throw new RestoreError(`no base backup lies on timeline ${timeline}'s history (the backups kept: ${backups.map((backup) => `${backup.name} on timeline ${backup.timeline}`).join(", ")})`);
    }
    if (targetTime === undefined) {
        return onHistory[onHistory.length - 1];
    }
    const target = Date.parse(targetTime);
    const usable = onHistory.filter((backup) => Date.parse(backup.finishedAt) <= target);
    if (usable.length === 0) {
        throw new RestoreError(`no base backup finished before ${targetTime}: the oldest kept finished at ${onHistory[0].finishedAt}`);
    }
    return usable[usable.length - 1];
}

/** The newest RDB copy saved before the target (Redis has no log to replay: it comes back as of then). */
export function chooseRdb(copies: readonly RdbCopy[], targetTime?: string): RdbCopy {
    if (copies.length === 0) {
        throw new RestoreError("the backup store holds no Redis copy yet");
    }
    const usable = targetTime === undefined ? copies : copies.filter((copy) => Date.parse(copy.savedAt) <= Date.parse(targetTime));
    if (usable.length === 0) {
        throw new RestoreError(`no Redis copy saved before ${targetTime}: the oldest was saved at ${copies[0].savedAt}`);
    }
    return usable[usable.length - 1];
}

async function volumeExists(name: string, dockerHost?: string): Promise<boolean> {
    return (await docker(["volume", "inspect", name], { dockerHost, timeoutMs: 30_000 })).code === 0;
}

function socketOf(info: BackupsInfo): PostgresSocketAccess {
    return { container: info.postgres.container, superuser: info.postgres.superuser, socketDirectory: info.postgres.socketDirectory, port: info.postgres.port };
}

function consoleOf(stack: DeployedStack): PgbouncerConsoleAccess | undefined {
    const { pgbouncer } = stack.backups;
    return stack.pgbouncerAdminPassword ? { container: pgbouncer.container, port: pgbouncer.port, adminUser: pgbouncer.adminUser, adminPassword: stack.pgbouncerAdminPassword } : undefined;
}

/** What the restore will do, from the catalog and the containers' state; changes nothing. */
export async function planRestore(request: RestoreRequest, catalog: BackupCatalog): Promise<RestorePlan> {
    const { source, target } = request;
    const info = target.backups;
    const dockerHost = info.dockerHost;
    const restoreId = restoreIdOf(request.now ?? new Date());
    const into = source.name === target.name ? "" : ` of stack ${target.name}`;
    const plan: RestorePlan = { restoreId, steps: [] };
    const step = (text: string) => plan.steps.push(text);
    if (request.services.includes("postgres")) {
        const timeline = (await liveTimeline(source.backups)) ?? archiveTimeline(catalog);
        const base = chooseBaseBackup(catalog.base, request.targetTime, timeline, catalog.histories);
        const container = await containerState(info.postgres.container, dockerHost);
        const dataVolume = await volumeExists(info.postgres.dataVolume, dockerHost);
        plan.postgres = { base, targetTime: request.targetTime, timeline, container, dataVolume };
        const { aside, staging } = restoreDirectories({ dataMount: info.postgres.dataMount }, restoreId);
        step(
            `PostgreSQL${into}: base backup ${base.name} of stack ${source.name} (finished ${base.finishedAt}, ${base.bytes} bytes), ` +
                `then WAL from ${base.startWal} along timeline ${timeline} ${request.targetTime ? `up to the last transaction committed before ${request.targetTime}` : "to the end of the archive"}`,
        );
        step(`PAUSE PgBouncer ${info.pgbouncer.container} (clients wait instead of failing)`);
        step(`archive the current WAL segment of ${source.backups.postgres.container} (pg_switch_wal) and wait for it`);
        step(container === "missing" ? `${info.postgres.container} is gone: nothing to stop` : `stop ${info.postgres.container}`);
        step(
            dataVolume
                ? `on volume ${info.postgres.dataVolume}: move ${info.postgres.pgdata} aside to ${aside}`
                : `create volume ${info.postgres.dataVolume} again (it is gone)`,
        );
        step(`copy the base backup to ${info.postgres.pgdata}, stage its WAL in ${staging}, write the recovery settings and recovery.signal`);
        step(container === "missing" ? `pulumi refresh of ${info.postgres.container}, then pulumi up: the container is created again on the restored data` : `start ${info.postgres.container}`);
        step("wait until PostgreSQL has replayed the WAL and promoted (a new timeline)");
        step("verify: out of recovery, every database answers a query");
        step(`put the stack's current passwords back on its roles (from ${info.pgbouncer.configVolume} and ${info.postgres.configVolume})`);
        step(`ALTER SYSTEM RESET ${RECOVERY_SETTINGS.join(", ")}; remove ${staging}${request.keepPrevious ? "" : ` and ${aside}`}`);
        step(`RESUME PgBouncer ${info.pgbouncer.container}`);
        step("on a failure after the move: put the old data directory back and start PostgreSQL on it");
    }
    if (request.services.includes("redis")) {
        const copy = chooseRdb(catalog.redis, request.targetTime);
        const container = await containerState(info.redis.container, dockerHost);
        plan.redis = { copy, container };
        step(`Redis${into}: RDB copy ${copy.name} of stack ${source.name} (saved ${copy.savedAt}, ${copy.bytes} bytes)`);
        step(`stop ${info.redis.container}; on volume ${info.redis.dataVolume}: move its files into before-restore-${restoreId}, load the copy${info.redis.appendonly ? " and rebuild the append-only file from it" : ""}`);
        step(`start ${info.redis.container} and wait until it is healthy; remove the old files${request.keepPrevious ? " (kept: --keep-previous)" : ""}`);
    }
    return plan;
}

/** The timeline the source server writes now, when it runs. */
async function liveTimeline(source: BackupsInfo): Promise<number | undefined> {
    const socket = socketOf(source);
    if ((await containerState(socket.container, source.dockerHost)) !== "running" || !(await postgresReady(socket, source.dockerHost))) {
        return undefined;
    }
    const hex = (await postgresSql(socket, "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)", "postgres", source.dockerHost).catch(() => "")).trim();
    return /^[0-9A-F]{8}$/.test(hex) ? parseInt(hex, 16) : undefined;
}

/** Archives the source's current WAL segment, so that the archive reaches now (best effort). */
async function archiveCurrentWal(source: BackupsInfo, log: (line: string) => void): Promise<void> {
    const socket = socketOf(source);
    if ((await containerState(socket.container, source.dockerHost)) !== "running" || !(await postgresReady(socket, source.dockerHost))) {
        log(`${socket.container} is not running: the restore uses what the archive holds`);
        return;
    }
    const segment = (await postgresSql(socket, "SELECT pg_walfile_name(pg_switch_wal() - 1)", "postgres", source.dockerHost)).trim();
    try {
        await waitFor(
            `WAL segment ${segment} archived`,
            async () => (await postgresSql(socket, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver", "postgres", source.dockerHost)).trim() >= segment,
            120_000,
        );
        log(`archived the current WAL segment ${segment}`);
    } catch (error) {
        log(`warning: ${(error as Error).message}; the restore stages the unarchived WAL of the old data directory instead`);
    }
}

async function stopContainer(container: string, seconds: number, dockerHost?: string): Promise<void> {
    await dockerChecked(`stopping ${container}`, ["stop", "--time", String(seconds), container], { dockerHost, timeoutMs: (seconds + 60) * 1000 });
}

async function startContainer(container: string, dockerHost?: string): Promise<void> {
    await dockerChecked(`starting ${container}`, ["start", container], { dockerHost, timeoutMs: 120_000 });
}

async function restartCount(container: string, dockerHost?: string): Promise<number> {
    const result = await docker(["container", "inspect", "--format", "{{.RestartCount}}", container], { dockerHost, timeoutMs: 30_000 });
    return result.code === 0 ? Number(result.stdout.trim()) : -1;
}

async function logTail(container: string, dockerHost?: string): Promise<string> {
    const result = await docker(["logs", "--tail", "15", container], { dockerHost, timeoutMs: 30_000 });
    return (result.stdout + result.stderr).trim();
}

/** Waits until PostgreSQL has left recovery; fails early when the server stops (a target it cannot reach). */
async function waitForPromotion(info: BackupsInfo, timeoutMs: number, log: (line: string) => void): Promise<void> {
    const socket = socketOf(info);
    const dockerHost = info.dockerHost;
    const restarts = await restartCount(socket.container, dockerHost);
    const deadline = Date.now() + timeoutMs;
    let reported = "";
    while (Date.now() < deadline) {
        if ((await restartCount(socket.container, dockerHost)) !== restarts || (await containerState(socket.container, dockerHost)) !== "running") {
            throw new RestoreError(`PostgreSQL stopped during recovery (for a target after the end of the archive, use --latest):\n${await logTail(socket.container, dockerHost)}`);
        }
        if (await postgresReady(socket, dockerHost)) {
            const inRecovery = (await postgresSql(socket, "SELECT pg_is_in_recovery()", "postgres", dockerHost).catch(() => "t")).trim();
            if (inRecovery === "f") {
                return;
            }
            const replayed = (await postgresSql(socket, "SELECT coalesce(pg_last_xact_replay_timestamp()::text, '')", "postgres", dockerHost).catch(() => "")).trim();
            if (replayed && replayed !== reported) {
                log(`recovering: replayed transactions up to ${replayed}`);
                reported = replayed;
            }
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    throw new RestoreError(`PostgreSQL did not finish recovery within ${Math.round(timeoutMs / 1000)} s (--recovery-timeout)`);
}

/** A query in every database, as the superuser over the socket; returns what it saw. */
async function verifyPostgres(info: BackupsInfo): Promise<string> {
    const socket = socketOf(info);
    const state = (await postgresSql(socket, "SELECT pg_is_in_recovery(), (SELECT timeline_id FROM pg_control_checkpoint())", "postgres", info.dockerHost)).trim();
    const [inRecovery, timeline] = state.split("|");
    if (inRecovery !== "f") {
        throw new RestoreError(`PostgreSQL is still in recovery after promotion (${state})`);
    }
    const databases = (await postgresSql(socket, "SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname", "postgres", info.dockerHost)).trim().split("\n");
    const counts: string[] = [];
    for (const database of databases) {
        const tables = (await postgresSql(socket, "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace", database, info.dockerHost)).trim();
        counts.push(`${database} (${tables} tables)`);
    }
    return `timeline ${timeline}; databases: ${counts.join(", ")}`;
}

/** A file from one of the target's volumes (a throw-away container, read-only mount). */
async function volumeFile(info: BackupsInfo, volume: string, file: string): Promise<string> {
    // Root that may read files of any owner (userlist.txt is PgBouncer's, mode 0600), nothing else.
    const result = await runScript(info.image, `cat /volume/${file}`, { volumes: [`${volume}:/volume:ro`], user: "0:0", capabilities: ["DAC_READ_SEARCH"], dockerHost: info.dockerHost, timeoutMs: 120_000 });
    if (result.code !== 0) {
        throw new RestoreError(`cannot read ${file} from volume ${volume}: ${result.stderr.trim()}`);
    }
    return result.stdout;
}

/** userlist.txt's entries: "user" "verifier", a " inside a field doubled. */
export function parseUserlist(text: string): Array<{ user: string; verifier: string }> {
    const entries: Array<{ user: string; verifier: string }> = [];
    for (const line of text.split("\n")) {
        const fields = [...line.matchAll(/"((?:[^"]|"")*)"/g)].map((match) => match[1].replace(/""/g, '"'));
        if (fields.length === 2) {
            entries.push({ user: fields[0], verifier: fields[1] });
        }
    }
    return entries;
}

/**
 * The restored data has the roles' passwords of when the backup was taken; the stack's
 * PgBouncer and provider have the current ones. Each role whose verifier differs gets the one
 * the stack has now (PgBouncer's userlist, the superuser's verifier file).
 */
async function resyncPasswords(info: BackupsInfo, log: (line: string) => void): Promise<void> {
    const wanted = parseUserlist(await volumeFile(info, info.pgbouncer.configVolume, "userlist.txt"));
    wanted.push({ user: info.postgres.superuser, verifier: (await volumeFile(info, info.postgres.configVolume, "superuser-verifier")).trim() });
    const socket = socketOf(info);
    const rows = (await postgresSql(socket, "SELECT rolname || '|' || coalesce(rolpassword, '') FROM pg_authid", "postgres", info.dockerHost)).trim().split("\n");
    const current = new Map(rows.map((row) => [row.slice(0, row.indexOf("|")), row.slice(row.indexOf("|") + 1)]));
    const changed: string[] = [];
    for (const { user, verifier } of wanted) {
        if (user === info.pgbouncer.adminUser || !current.has(user)) {
            if (user !== info.pgbouncer.adminUser) {
                log(`warning: role ${user} is not in the restored data (created after the backup): run \`pulumi up --refresh\` to create it`);
            }
            continue;
        }
        if (current.get(user) !== verifier && verifier.startsWith("SCRAM-SHA-256$")) {
            await postgresSql(socket, `ALTER ROLE ${sqlIdentifier(user)} PASSWORD ${sqlLiteral(verifier)}`, "postgres", info.dockerHost);
            changed.push(user);
        }
    }
    log(changed.length > 0 ? `put the stack's current passwords back on: ${changed.join(", ")}` : "the roles' passwords are the stack's current ones");
}

async function dropRecoverySettings(info: BackupsInfo): Promise<void> {
    const statements = RECOVERY_SETTINGS.map((setting) => `ALTER SYSTEM RESET ${setting};`).join("\n");
    await postgresSql(socketOf(info), `${statements}\nSELECT pg_reload_conf();`, "postgres", info.dockerHost);
}

async function createVolume(name: string, labels: Record<string, string>, dockerHost?: string): Promise<void> {
    const args = ["volume", "create", ...Object.entries(labels).flatMap(([label, value]) => ["--label", `${label}=${value}`]), name];
    await dockerChecked(`creating volume ${name}`, args, { dockerHost, timeoutMs: 60_000 });
}

async function restorePostgres(request: RestoreRequest, plan: RestorePlan, log: (line: string) => void): Promise<void> {
    const { source, target } = request;
    const info = target.backups;
    const chosen = plan.postgres!;
    const dockerHost = info.dockerHost;
    const pgbouncer = consoleOf(target);
    const pgbouncerUp = pgbouncer && (await containerState(pgbouncer.container, dockerHost)) === "running";
    if (pgbouncerUp) {
        await pgbouncerCommand(pgbouncer!, "PAUSE", dockerHost, 180_000);
        log(`PgBouncer ${pgbouncer!.container}: PAUSE`);
    } else {
        log(`PgBouncer ${info.pgbouncer.container} is not running (or its console password was not read): nothing to pause`);
    }
    let moved = false;
    try {
        await archiveCurrentWal(source.backups, log);
        if (chosen.container === "running") {
            await stopContainer(info.postgres.container, info.postgres.stopSeconds, dockerHost);
            log(`stopped ${info.postgres.container}`);
        }
        if (!chosen.dataVolume) {
            await createVolume(info.postgres.dataVolume, info.postgres.dataVolumeLabels, dockerHost);
            log(`created volume ${info.postgres.dataVolume} again`);
        }
        const script = postgresRestoreScript(
            {
                dataMount: info.postgres.dataMount,
                pgdata: info.postgres.pgdata,
                baseBackup: `${STORE}/${BACKUP_DIRECTORIES.base}/${chosen.base.name}`,
                walArchive: `${STORE}/${BACKUP_DIRECTORIES.wal}`,
                owner: "postgres:postgres",
                // The old data directory's WAL belongs to this cluster only when restoring into the same stack.
                includeUnarchived: source.name === target.name,
            },
            { restoreId: plan.restoreId, startWal: chosen.base.startWal, targetTime: chosen.targetTime, timeline: chosen.timeline },
        );
        const prepared = await runScript(info.image, script, {
            volumes: [`${info.postgres.dataVolume}:${info.postgres.dataMount}`, `${source.backups.store}:${STORE}:ro`],
            user: "0:0",
            capabilities: FILE_CAPABILITIES,
            dockerHost,
            timeoutMs: 6 * 3600 * 1000,
        });
        if (prepared.code !== 0) {
            throw new RestoreError(`preparing the data directory failed: ${(prepared.stderr || prepared.stdout).trim()}`);
        }
        moved = chosen.dataVolume;
        prepared.stdout
            .trim()
            .split("\n")
            .forEach((line) => log(line));
        if (chosen.container === "missing") {
            await request.recreateContainer(info.postgres.container);
        } else {
            await startContainer(info.postgres.container, dockerHost);
            log(`started ${info.postgres.container}: recovering`);
        }
        await waitForPromotion(info, request.recoveryTimeoutMs, log);
        log(`verified: ${await verifyPostgres(info)}`);
        await resyncPasswords(info, log);
        await dropRecoverySettings(info);
        const cleanup = await runScript(info.image, postgresCleanupScript({ dataMount: info.postgres.dataMount }, plan.restoreId, request.keepPrevious), {
            volumes: [`${info.postgres.dataVolume}:${info.postgres.dataMount}`],
            user: "0:0",
            capabilities: FILE_CAPABILITIES,
            dockerHost,
            timeoutMs: 3600 * 1000,
        });
        log(cleanup.code === 0 ? cleanup.stdout.trim() || "removed the staged WAL and the data directory from before the restore" : `warning: clean-up failed: ${cleanup.stderr.trim()}`);
    } catch (error) {
        if (moved) {
            await rollbackPostgres(info, plan.restoreId, log);
        }
        throw error;
    } finally {
        if (pgbouncerUp) {
            await pgbouncerCommand(pgbouncer!, "RESUME", dockerHost).then(
                () => log(`PgBouncer ${pgbouncer!.container}: RESUME`),
                (error) => log(`warning: PgBouncer RESUME failed: ${(error as Error).message}`),
            );
        }
    }
}

async function rollbackPostgres(info: BackupsInfo, restoreId: string, log: (line: string) => void): Promise<void> {
    const dockerHost = info.dockerHost;
    log("the restore failed: putting the data directory from before it back");
    if ((await containerState(info.postgres.container, dockerHost)) === "running") {
        await stopContainer(info.postgres.container, info.postgres.stopSeconds, dockerHost);
    }
    const result = await runScript(info.image, postgresRollbackScript({ dataMount: info.postgres.dataMount, pgdata: info.postgres.pgdata }, restoreId), {
        volumes: [`${info.postgres.dataVolume}:${info.postgres.dataMount}`],
        user: "0:0",
        capabilities: FILE_CAPABILITIES,
        dockerHost,
    });
    if (result.code !== 0) {
        log(`rollback failed: ${result.stderr.trim()}; the old data directory is ${restoreDirectories({ dataMount: info.postgres.dataMount }, restoreId).aside}`);
        return;
    }
    log(result.stdout.trim());
    if ((await containerState(info.postgres.container, dockerHost)) !== "missing") {
        await startContainer(info.postgres.container, dockerHost);
        await waitFor(`${info.postgres.container} ready`, () => postgresReady(socketOf(info), dockerHost), 300_000).catch((error) => log(`warning: ${(error as Error).message}`));
        log(`started ${info.postgres.container} on the data from before the restore`);
    }
}

async function restoreRedis(request: RestoreRequest, plan: RestorePlan, log: (line: string) => void): Promise<void> {
    const { source, target } = request;
    const info = target.backups;
    const dockerHost = info.dockerHost;
    const chosen = plan.redis!;
    const volumes = [`${info.redis.dataVolume}:${info.redis.dataDirectory}`, `${source.backups.store}:${STORE}:ro`];
    if (chosen.container === "running") {
        await stopContainer(info.redis.container, info.redis.stopSeconds, dockerHost);
        log(`stopped ${info.redis.container}`);
    }
    const script = redisRestoreScript(
        { dataDirectory: info.redis.dataDirectory, rdb: `${STORE}/${BACKUP_DIRECTORIES.redis}/${chosen.copy.name}.rdb`, owner: "redis:redis", appendonly: info.redis.appendonly },
        plan.restoreId,
    );
    const result = await runScript(info.redis.image, script, { volumes, user: "0:0", capabilities: FILE_CAPABILITIES, dockerHost, timeoutMs: 3600 * 1000 });
    try {
        if (result.code !== 0) {
            throw new RestoreError(`restoring Redis' files failed: ${(result.stderr || result.stdout).trim()}`);
        }
        result.stdout
            .trim()
            .split("\n")
            .forEach((line) => log(`redis: ${line}`));
        if (chosen.container === "missing") {
            await request.recreateContainer(info.redis.container);
        } else {
            await startContainer(info.redis.container, dockerHost);
        }
        await waitFor(`${info.redis.container} healthy`, async () => (await containerHealth(info.redis.container, dockerHost)) === "healthy", 300_000);
        log(`started ${info.redis.container}: healthy`);
    } catch (error) {
        log("the Redis restore failed: putting its files from before it back");
        await stopContainer(info.redis.container, info.redis.stopSeconds, dockerHost).catch(() => undefined);
        const rollback = await runScript(info.redis.image, redisRollbackScript(info.redis.dataDirectory, plan.restoreId), { volumes, user: "0:0", capabilities: FILE_CAPABILITIES, dockerHost });
        log(rollback.code === 0 ? rollback.stdout.trim() : `rollback failed: ${rollback.stderr.trim()}`);
        await startContainer(info.redis.container, dockerHost).catch(() => undefined);
        throw error;
    }
    const cleanup = await runScript(info.redis.image, redisCleanupScript(info.redis.dataDirectory, plan.restoreId, request.keepPrevious), { volumes, user: "0:0", capabilities: FILE_CAPABILITIES, dockerHost });
    log(cleanup.code === 0 ? cleanup.stdout.trim() || "redis: removed the files from before the restore" : `warning: clean-up failed: ${cleanup.stderr.trim()}`);
}

export interface RestoreReport {
    plan: RestorePlan;
    /** Seconds each service took. */
    seconds: Partial<Record<RestoreService, number>>;
}

export async function restore(request: RestoreRequest): Promise<RestoreReport> {
    if (request.targetTime !== undefined) {
        checkTargetTime(request.targetTime);
    }
    const { source, target, log } = request;
    if ((source.backups.dockerHost ?? "") !== (target.backups.dockerHost ?? "")) {
        throw new RestoreError(`stacks ${source.name} and ${target.name} use different Docker engines: a restore into another stack needs both on one`);
    }
    if (source.name !== target.name && source.backups.postgres.container === target.backups.postgres.container) {
        throw new RestoreError(`stacks ${source.name} and ${target.name} have the same prefix: restoring "into" it would overwrite the source`);
    }
    const catalog = await readCatalog(source.backups);
    const plan = await planRestore(request, catalog);
    log(`restore ${plan.restoreId}${request.dryRun ? " (dry run: nothing is changed)" : ""}:`);
    plan.steps.forEach((step, index) => log(`  ${index + 1}. ${step}`));
    const report: RestoreReport = { plan, seconds: {} };
    if (request.dryRun) {
        return report;
    }
    for (const service of RESTORE_SERVICES.filter((candidate) => request.services.includes(candidate))) {
        const started = Date.now();
        const prefixed = (line: string) => log(`${service}: ${line}`);
        if (service === "postgres") {
            await restorePostgres(request, plan, prefixed);
        } else {
            await restoreRedis(request, plan, prefixed);
        }
        report.seconds[service] = (Date.now() - started) / 1000;
        log(`${service}: restored in ${report.seconds[service]!.toFixed(1)} s`);
    }
    return report;
}
