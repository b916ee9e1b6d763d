// What is in a stack's backup store, read with a throw-away container of the PostgreSQL image
// (the Docker CLI only, so a remote engine works too): the base backups with their metadata, the
// Redis and Qdrant copies, and the status of the last runs. `npm run backup -- <stack> --status`
// prints it; `npm run status` (scripts/) and monitoring can read the same with backupStatus().
import type { BackupsInfo } from "../components/backups";
import { docker, DockerResult } from "../components/live/dockerCli";
import { BACKUP_DIRECTORIES } from "../render/backup";
import { shellWord } from "../render/quote";

export class BackupStoreError extends Error {}

export interface BaseBackup {
    name: string;
    startedAt: string;
    /** When pg_basebackup returned: the backup is consistent from a point before this. */
    finishedAt: string;
    startWal: string;
    /** The timeline it was taken on, and where its WAL ends (its consistency point). */
    timeline: number;
    endLsn?: string;
    bytes: number;
}

/** A timeline's history file: each ancestor timeline and the LSN where this history left it. */
export interface TimelineHistory {
    timeline: number;
    ancestors: Array<{ timeline: number; switchLsn: string }>;
}

export interface RdbCopy {
    name: string;
    /** When BGSAVE was asked for: the data is Redis' as of (about) then. */
    savedAt: string;
    bytes: number;
}

export interface SnapshotCopy {
    name: string;
    bytes: number;
}

/** One run of one service, as status/<service>.json holds it (render/backup.ts `record`). */
export interface BackupRun {
    service: string;
    outcome: "success" | "failed";
    trigger: "scheduled" | "manual";
    startedAt: string;
    finishedAt: string;
    seconds: number;
    bytes: number;
    name: string;
    message: string;
}

export interface ServiceStatus {
    lastRun?: BackupRun;
    lastSuccess?: BackupRun;
}

export interface BackupCatalog {
    base: BaseBackup[];
    redis: RdbCopy[];
    qdrant: SnapshotCopy[];
    status: Record<string, ServiceStatus>;
    histories: TimelineHistory[];
    /** WAL segments in the archive, and the newest of them (highest position, then timeline). */
    walFiles: number;
    newestWal?: string;
}

/** `docker run --rm` of a bash script (on stdin) in `image`, with `volumes` as `source:target[:ro]`. */
export function runScript(
    image: string,
    script: string,
    options: { volumes: string[]; user?: string; capabilities?: string[]; dockerHost?: string; timeoutMs?: number },
): Promise<DockerResult> {
    const args = ["run", "--rm", "-i", "--network", "none", "--security-opt", "no-new-privileges", "--cap-drop", "ALL"];
    for (const capability of options.capabilities ?? []) {
        args.push("--cap-add", capability);
    }
    if (options.user) {
        args.push("--user", options.user);
    }
    for (const volume of options.volumes) {
        args.push("--volume", volume);
    }
    args.push("--entrypoint", "bash", image, "-s");
    return docker(args, { dockerHost: options.dockerHost, input: script, timeoutMs: options.timeoutMs ?? 600_000 });
}

const MOUNT = "/backups";

/** Lists the store mounted at `mount` line by line, each line prefixed with what it is. */
export function catalogScript(mount: string): string {
    const m = shellWord(mount, "backup store");
    return `shopt -s nullglob
for f in ${m}/${BACKUP_DIRECTORIES.base}/*.json; do printf 'BASE %s\\n' "$(tr -d '\\n' < "$f")"; done
for f in ${m}/${BACKUP_DIRECTORIES.redis}/*.rdb; do
    n=\${f##*/}; printf 'RDB %s %s %s\\n' "\${n%.rdb}" "$(stat -c %s "$f")" "$(cat "$f.json" 2>/dev/null | tr -d '\\n')"
done
for f in ${m}/${BACKUP_DIRECTORIES.qdrant}/*.snapshot; do n=\${f##*/}; printf 'SNAPSHOT %s %s\\n' "\${n%.snapshot}" "$(stat -c %s "$f")"; done
for f in ${m}/${BACKUP_DIRECTORIES.status}/*.json; do n=\${f##*/}; printf 'STATUS %s %s\\n' "\${n%.json}" "$(tr -d '\\n' < "$f")"; done
for f in ${m}/${BACKUP_DIRECTORIES.wal}/*.history.gz; do n=\${f##*/}; printf 'HISTORY %s %s\\n' "\${n%.history.gz}" "$(gzip -dc "$f" | tr '\\t\\n' ' ;')"; done
printf 'SEGMENTS'
for f in ${m}/${BACKUP_DIRECTORIES.wal}/*.gz; do n=\${f##*/}; n=\${n%.gz}; [[ "$n" =~ ^[0-9A-F]{24}$ ]] && printf ' %s' "$n"; done
printf '\\n'
`;
}

const NAME = /^[0-9]{8}T[0-9]{6}Z$/;

/** 20261203T180500Z as an ISO time. */
export function nameTime(name: string): string {
    return `${name.slice(0, 4)}-${name.slice(4, 6)}-${name.slice(6, 8)}T${name.slice(9, 11)}:${name.slice(11, 13)}:${name.slice(13, 15)}Z`;
}

export function parseCatalog(text: string): BackupCatalog {
    const catalog: BackupCatalog = { base: [], redis: [], qdrant: [], status: {}, histories: [], walFiles: 0 };
    for (const line of text.split("\n")) {
        const [kind, ...rest] = line.split(" ");
        const value = rest.join(" ");
        if (kind === "BASE") {
            const base = JSON.parse(value) as BaseBackup;
            if (NAME.test(base.name)) {
                // The timeline is also the first 8 hex digits of the first WAL segment's name.
                const timeline = base.timeline || parseInt(base.startWal.slice(0, 8), 16);
                catalog.base.push({ name: base.name, startedAt: base.startedAt, finishedAt: base.finishedAt, startWal: base.startWal, timeline, endLsn: base.endLsn || undefined, bytes: base.bytes });
            }
        } else if (kind === "RDB" && NAME.test(rest[0])) {
            const meta = rest[2] ? (JSON.parse(rest.slice(2).join(" ")) as { savedAt?: string }) : {};
            catalog.redis.push({ name: rest[0], bytes: Number(rest[1]), savedAt: meta.savedAt ?? nameTime(rest[0]) });
        } else if (kind === "SNAPSHOT" && NAME.test(rest[0])) {
            catalog.qdrant.push({ name: rest[0], bytes: Number(rest[1]) });
        } else if (kind === "STATUS") {
            const [file] = rest;
            const run = JSON.parse(rest.slice(1).join(" ")) as BackupRun;
            const service = (catalog.status[run.service] ??= {});
            if (file.endsWith(".success")) {
                service.lastSuccess = run;
            } else {
                service.lastRun = run;
            }
        } else if (kind === "HISTORY" && /^[0-9A-F]{8}$/.test(rest[0])) {
            const ancestors = rest
                .slice(1)
                .join(" ")
                .split(";")
                .map((entry) => entry.trim().split(/\s+/))
                .filter((fields) => /^\d+$/.test(fields[0]) && /^[0-9A-F]+\/[0-9A-F]+$/.test(fields[1] ?? ""))
                .map((fields) => ({ timeline: Number(fields[0]), switchLsn: fields[1] }));
            catalog.histories.push({ timeline: parseInt(rest[0], 16), ancestors });
        } else if (kind === "SEGMENTS") {
            const segments = rest.filter((name) => /^[0-9A-F]{24}$/.test(name));
            catalog.walFiles = segments.length;
            // Position first (the log and segment numbers), then timeline.
            catalog.newestWal = segments.sort((a, b) => `${a.slice(8)}${a.slice(0, 8)}`.localeCompare(`${b.slice(8)}${b.slice(0, 8)}`)).pop();
        }
    }
    const byName = <T extends { name: string }>(a: T, b: T) => a.name.localeCompare(b.name);
    catalog.base.sort(byName);
    catalog.redis.sort(byName);
    catalog.qdrant.sort(byName);
    catalog.histories.sort((a, b) => a.timeline - b.timeline);
    return catalog;
}

/** The `docker run --volume` source of a stack's store. */
export function storeSource(info: BackupsInfo): string {
    if (!info.enabled || !info.store) {
        throw new BackupStoreError("backups are off for this stack (backups.enabled is false): there is no backup store");
    }
    return info.store;
}

export async function readCatalog(info: BackupsInfo): Promise<BackupCatalog> {
    const result = await runScript(info.image, catalogScript(MOUNT), { volumes: [`${storeSource(info)}:${MOUNT}:ro`], user: "postgres", dockerHost: info.dockerHost, timeoutMs: 120_000 });
    if (result.code !== 0) {
        throw new BackupStoreError(`cannot read the backup store ${info.store}: ${result.stderr.trim() || result.stdout.trim()}`);
    }
    return parseCatalog(result.stdout);
}

/**
 * The last run and the last successful backup of each service (postgres, redis, qdrant), for
 * `npm run status` and monitoring: a plain object without credentials.
 */
export async function backupStatus(info: BackupsInfo): Promise<Record<string, ServiceStatus>> {
    return (await readCatalog(info)).status;
}

export type Health = "ok" | "failed" | "stale" | "none";

/**
 * ok: the last run succeeded within twice the interval; failed: the last run failed; stale: the
 * last success is older than twice the interval (the scheduler is not running, say); none: no
 * backup yet.
 */
export function serviceHealth(status: ServiceStatus, intervalHours: number, now = Date.now()): Health {
    if (!status.lastSuccess && !status.lastRun) {
        return "none";
    }
    if (status.lastRun?.outcome === "failed") {
        return "failed";
    }
    const last = status.lastSuccess ? Date.parse(status.lastSuccess.finishedAt) : 0;
    return now - last > 2 * intervalHours * 3600 * 1000 ? "stale" : "ok";
}

/** One service's backups as the operator commands show them. */
export interface ServiceBackupView {
    service: string;
    health: Health;
    lastSuccess?: { finishedAt: string; bytes: number; seconds: number; name: string };
    lastRun?: { outcome: BackupRun["outcome"]; finishedAt: string; message: string };
}

/**
 * Each backed-up service's health, last success and last run, sorted by service: the services
 * the stack backs up (`info.services`; none yet run shows as `none`) and any other the store
 * has a status for.
 */
export function serviceBackupViews(status: Record<string, ServiceStatus>, info: Pick<BackupsInfo, "intervalHours" | "services">, now = Date.now()): ServiceBackupView[] {
    const services = [...new Set([...(info.services ?? []), ...Object.keys(status)])].sort();
    return services.map((service) => {
        const entry = status[service] ?? {};
        const { lastSuccess, lastRun } = entry;
        return {
            service,
            health: serviceHealth(entry, info.intervalHours, now),
            ...(lastSuccess ? { lastSuccess: { finishedAt: lastSuccess.finishedAt, bytes: lastSuccess.bytes, seconds: lastSuccess.seconds, name: lastSuccess.name } } : {}),
            ...(lastRun ? { lastRun: { outcome: lastRun.outcome, finishedAt: lastRun.finishedAt, message: lastRun.message } } : {}),
        };
    });
}
