// The scripts `npm run restore` runs in throw-away containers (ops/restore.ts), as pure functions
// of what it chose: which base backup, which target, which paths. They run on the data volume
// with the backup store mounted read-only; nothing here touches a server that is running.
//
// PostgreSQL: the current data directory is moved aside on the same volume (a rename: instant,
// and undone by renaming it back), the base backup copied in its place, the WAL it needs staged
// next to it (from the archive, and the unarchived tail of the old pg_wal), and recovery set up
// in the data directory itself: postgresql.conf is the program's file on the read-only config
// volume, so the recovery settings go to postgresql.auto.conf (removed by ALTER SYSTEM RESET once
// the restore is verified) with recovery.signal, which PostgreSQL removes when it promotes.
import { BACKUP_NAME, restoreCommand } from "./backup";
import { RenderError, shellWord } from "./quote";

export interface PostgresRestorePaths {
    /** Where the data volume is mounted (the data directory is one level below). */
    dataMount: string;
    pgdata: string;
    /** The base backup's directory and the WAL archive, inside the mounted backup store. */
    baseBackup: string;
    walArchive: string;
    /** `user:group` the restored files belong to. */
    owner: string;
    /**
     * Stage the WAL the old data directory wrote but had not archived: only when it is the same
     * cluster (a restore into the same stack); another stack's WAL would not fit.
     */
    includeUnarchived: boolean;
}

export interface PostgresRestoreChoice {
    /** Names the aside directory and the staging directory: the restore's own start, UTC. */
    restoreId: string;
    /** The base backup's first WAL segment (backup_label's START WAL LOCATION file). */
    startWal: string;
    /** recovery_target_time (ISO 8601 with a zone); absent: the end of the WAL there is. */
    targetTime?: string;
    /** The timeline to follow (ops/restore.ts chooses it); absent: PostgreSQL's `latest`. */
    timeline?: number;
}

/** The data directory the restore moved aside, and the staging directory of its WAL. */
export function restoreDirectories(paths: Pick<PostgresRestorePaths, "dataMount">, restoreId: string): { aside: string; staging: string } {
    return { aside: `${paths.dataMount}/pgdata.before-restore-${restoreId}`, staging: `${paths.dataMount}/restore-wal-${restoreId}` };
}

/** The settings that make the restored data directory recover, and then which the restore removes. */
export const RECOVERY_SETTINGS = ["restore_command", "recovery_target_time", "recovery_target_timeline", "recovery_target_action", "recovery_target_inclusive"] as const;

const SEGMENT = /^[0-9A-F]{24}$/;

/** A timestamp PostgreSQL's recovery_target_time takes as it is: ISO 8601, to the millisecond, with a zone. */
export function checkTargetTime(text: string): string {
    if (!/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}(:?\d{2})?)$/.test(text) || Number.isNaN(Date.parse(text))) {
        throw new RenderError("postgresql.auto.conf", "recovery_target_time", "must be an ISO 8601 time with a zone, like 2026-12-03T18:05:00Z", text);
    }
    return text;
}

/**
 * The target as PostgreSQL writes a timestamptz (UTC, to the millisecond): its recovery_target_time
 * check refuses the ISO form with a `T` and a `Z`.
 */
export function postgresTimestamp(targetTime: string): string {
    return new Date(Date.parse(checkTargetTime(targetTime))).toISOString().replace("T", " ").replace("Z", "+00");
}

export function recoverySettings(staging: string, targetTime?: string, timeline?: number): Array<[string, string]> {
    const settings: Array<[string, string]> = [["restore_command", restoreCommand(staging)]];
    if (targetTime !== undefined) {
        // Exactly the transactions committed before the target: none at or after it.
        settings.push(["recovery_target_time", postgresTimestamp(targetTime)], ["recovery_target_inclusive", "off"]);
    }
    if (timeline !== undefined) {
        if (!Number.isInteger(timeline) || timeline < 1) {
            throw new RenderError("postgresql.auto.conf", "recovery_target_timeline", "must be a timeline number", timeline);
        }
        settings.push(["recovery_target_timeline", String(timeline)]);
    }
    settings.push(["recovery_target_action", "promote"]);
    return settings;
}

/**
 * Moves the data directory aside, copies the base backup in, stages the WAL from the base
 * backup's first segment on (and every timeline history file, so that the promotion picks a
 * timeline the archive has not seen), appends the recovery settings. Prints what it did.
 */
export function postgresRestoreScript(paths: PostgresRestorePaths, choice: PostgresRestoreChoice): string {
    if (!BACKUP_NAME.test(choice.restoreId)) {
        throw new RenderError("restore", "restore id", "must be a UTC time like 20261203T180500Z", choice.restoreId);
    }
    if (!SEGMENT.test(choice.startWal)) {
        throw new RenderError("restore", "start WAL segment", "must be a WAL file name", choice.startWal);
    }
    const q = (value: string) => shellWord(value, "restore");
    const { aside, staging } = restoreDirectories(paths, choice.restoreId);
    const settings = recoverySettings(staging, choice.targetTime, choice.timeline)
        .map(([name, value]) => `${name} = '${value.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`)
        .join("\n");
    return `set -euo pipefail
export LC_ALL=C
shopt -s nullglob
PGDATA=${q(paths.pgdata)}
ASIDE=${q(aside)}
STAGING=${q(staging)}
BASE=${q(paths.baseBackup)}
WAL=${q(paths.walArchive)}
START=${q(choice.startWal)}
if [ -e "$ASIDE" ]; then echo "$ASIDE exists already: an earlier restore was not finished" >&2; exit 1; fi
if [ ! -f "$BASE/backup_label" ]; then echo "$BASE is not a base backup" >&2; exit 1; fi
if [ -e "$PGDATA" ]; then
    mv "$PGDATA" "$ASIDE"
    echo "moved the current data directory aside to $ASIDE"
fi
rm -rf "$STAGING"
mkdir -m 0700 "$STAGING"
cp -a "$BASE" "$PGDATA"
rm -f "$PGDATA/backup_manifest"
chmod 0700 "$PGDATA"
archived=0
for file in "$WAL"/*.gz; do
    name=\${file##*/}
    name=\${name%.gz}
    if [[ "$name" == *.history ]]; then
        cp "$file" "$STAGING/"
    elif [[ "$name" =~ ^[0-9A-F]{24}$ ]] && [[ ! "\${name:8}" < "\${START:8}" ]]; then
        cp "$file" "$STAGING/"
        archived=$((archived + 1))
    fi
done
# WAL the old server wrote but had not archived yet (a clean stop leaves its last segment so).
unarchived=0
for file in ${paths.includeUnarchived ? '"$ASIDE"/pg_wal/*' : ""}; do
    name=\${file##*/}
    if { [[ "$name" =~ ^[0-9A-F]{24}$ ]] && [[ ! "\${name:8}" < "\${START:8}" ]]; } || [[ "$name" == *.history ]]; then
        if [ ! -e "$STAGING/$name.gz" ]; then
            gzip -1 -c "$file" > "$STAGING/$name.gz"
            [[ "$name" == *.history ]] || unarchived=$((unarchived + 1))
        fi
    fi
done
cat >> "$PGDATA/postgresql.auto.conf" <<'ZENTORIA_RECOVERY'
# zentoria restore ${choice.restoreId}: removed (ALTER SYSTEM RESET) once the restore is verified
${settings}
ZENTORIA_RECOVERY
touch "$PGDATA/recovery.signal"
chown -R ${q(paths.owner)} "$PGDATA" "$STAGING"
echo "copied base backup $BASE; staged $archived archived and $unarchived unarchived WAL segments"
`;
}

/** Puts the data directory that was moved aside back (after a failed restore), dropping the attempt. */
export function postgresRollbackScript(paths: Pick<PostgresRestorePaths, "dataMount" | "pgdata">, restoreId: string): string {
    const q = (value: string) => shellWord(value, "restore");
    const { aside, staging } = restoreDirectories(paths, restoreId);
    return `set -euo pipefail
if [ ! -d ${q(aside)} ]; then echo "nothing to roll back to: ${aside} is not there" >&2; exit 1; fi
rm -rf ${q(paths.pgdata)} ${q(staging)}
mv ${q(aside)} ${q(paths.pgdata)}
echo "put the data directory from before the restore back"
`;
}

/** After a verified restore: the old data directory and the staged WAL go. */
export function postgresCleanupScript(paths: Pick<PostgresRestorePaths, "dataMount">, restoreId: string, keepAside: boolean): string {
    const q = (value: string) => shellWord(value, "restore");
    const { aside, staging } = restoreDirectories(paths, restoreId);
    return `set -euo pipefail
rm -rf ${q(staging)}
${keepAside ? `echo "kept the data directory from before the restore: ${aside}"` : `rm -rf ${q(aside)}`}
`;
}

export interface RedisRestorePaths {
    dataDirectory: string;
    /** The RDB copy in the mounted backup store, and its .sha256 beside it. */
    rdb: string;
    owner: string;
    /** Whether the server runs with appendonly yes: then its AOF is rebuilt from the RDB. */
    appendonly: boolean;
}

/**
 * Redis: everything in the data directory moved into a `before-restore-<id>` directory, the RDB
 * copy put in as dump.rdb (its SHA-256 checked), then loaded by a temporary server on a Unix
 * socket. With appendonly on, Redis would start from its (now absent) AOF and ignore the RDB, so
 * the temporary server loads the RDB with appendonly off and turns it on, which writes a new AOF
 * from the loaded data. Prints the restored keyspace.
 */
export function redisRestoreScript(paths: RedisRestorePaths, restoreId: string): string {
    if (!BACKUP_NAME.test(restoreId)) {
        throw new RenderError("restore", "restore id", "must be a UTC time like 20261203T180500Z", restoreId);
    }
    const q = (value: string) => shellWord(value, "restore");
    const aside = `before-restore-${restoreId}`;
    const socket = "/tmp/zentoria-restore.sock";
    const cli = `redis-cli -s ${socket}`;
    return `set -euo pipefail
shopt -s nullglob dotglob
cd ${q(paths.dataDirectory)}
if [ -e ${q(aside)} ]; then echo "${aside} exists already" >&2; exit 1; fi
if [ "$(sha256sum < ${q(paths.rdb)} | cut -d' ' -f1)" != "$(cat ${q(`${paths.rdb}.sha256`)})" ]; then
    echo "${paths.rdb} does not match its SHA-256" >&2
    exit 1
fi
mkdir ${q(aside)}
for entry in *; do
    case "$entry" in before-restore-*) ;; *) mv "$entry" ${q(aside)}/ ;; esac
done
cp ${q(paths.rdb)} dump.rdb
redis-server --port 0 --unixsocket ${socket} --dir "$PWD" --dbfilename dump.rdb --appendonly no --save '' --daemonize no > /tmp/zentoria-restore-redis.log 2>&1 &
server=$!
for _ in $(seq 1 1200); do
    [ "$(${cli} ping 2>/dev/null)" = PONG ] && break
    kill -0 "$server" 2>/dev/null || { cat /tmp/zentoria-restore-redis.log >&2; exit 1; }
    sleep 0.1
done
[ "$(${cli} ping)" = PONG ]
${
    paths.appendonly
        ? `${cli} config set appendonly yes > /dev/null
while ${cli} info persistence | grep -Eq '^aof_rewrite_(in_progress|scheduled):1'; do sleep 0.2; done
${cli} info persistence | grep -q '^aof_last_bgrewrite_status:ok'
`
        : ""
}echo "restored keyspace:"
${cli} info keyspace | grep '^db' || echo "(empty)"
${cli} shutdown save > /dev/null 2>&1 || true
wait "$server" || true
chown -R ${q(paths.owner)} .
`;
}

/** After a verified Redis restore: the old files go (unless kept). */
export function redisCleanupScript(dataDirectory: string, restoreId: string, keepAside: boolean): string {
    const aside = `${dataDirectory}/before-restore-${restoreId}`;
    return keepAside ? `echo "kept Redis' files from before the restore: ${aside}"\n` : `rm -rf ${shellWord(aside, "restore")}\n`;
}

export function redisRollbackScript(dataDirectory: string, restoreId: string): string {
    const q = (value: string) => shellWord(value, "restore");
    const aside = `before-restore-${restoreId}`;
    return `set -euo pipefail
shopt -s nullglob dotglob
cd ${q(dataDirectory)}
if [ ! -d ${q(aside)} ]; then echo "nothing to roll back to" >&2; exit 1; fi
for entry in *; do
    case "$entry" in before-restore-*) ;; *) rm -rf "$entry" ;; esac
done
mv ${q(aside)}/* .
rmdir ${q(aside)}
echo "put Redis' files from before the restore back"
`;
}
