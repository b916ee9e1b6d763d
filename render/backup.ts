// What the backups render (README: "Backups and restore"): PostgreSQL's archive settings, and
// the scripts and logins of the backup sidecar, a container of the PostgreSQL image that takes a
// verified base backup, a Redis RDB copy and a Qdrant snapshot on a schedule. Everything lands on
// one backup volume (or a host directory), laid out as BACKUP_DIRECTORIES says.
//
// The sidecar reads its scripts from its config volume at every run, so a changed schedule or
// retention applies from the next run on, without a restart.
import { StackPlan } from "../config/plan";
import { Endpoints, networkEndpoints } from "./connections";
import { renderedHeader } from "./header";
import { ServerLayout } from "./layout";
import { pgpassField, RenderError, shellWord, sqlIdentifier, sqlLiteral } from "./quote";

/** Directories below the backup root, created (owned by the image's postgres user) before anything writes there. */
export const BACKUP_DIRECTORIES = {
    wal: "postgres/wal",
    base: "postgres/base",
    redis: "redis",
    qdrant: "qdrant",
    status: "status",
} as const;

export interface SidecarLayout {
    configDirectory: string;
    /** Redis' data volume, read-only: the RDB file BGSAVE writes. */
    redisData: string;
    /** Qdrant's snapshots volume, read-only: where its snapshot API writes. */
    qdrantSnapshots: string;
    heartbeat: string;
}

/** Where the sidecar finds its files and the data it copies. */
export const SIDECAR_LAYOUT: SidecarLayout = {
    configDirectory: "/etc/zentoria-backup",
    redisData: "/sources/redis",
    qdrantSnapshots: "/sources/qdrant-snapshots",
    heartbeat: "/tmp/zentoria-backup-heartbeat",
};

/**
 * Where the scripts run and what they reach: in the sidecar (the default), the servers by their
 * network names; the integration tests run the same scripts on the host against local servers.
 */
export interface SidecarTargets {
    sidecar: SidecarLayout;
    endpoints: Endpoints;
}

function targetsOf(plan: StackPlan, targets?: Partial<SidecarTargets>): SidecarTargets {
    return { sidecar: targets?.sidecar ?? SIDECAR_LAYOUT, endpoints: targets?.endpoints ?? networkEndpoints(plan) };
}

/** File names on the sidecar's config volume. */
export const SIDECAR_FILES = {
    backup: "backup.sh",
    scheduler: "scheduler.sh",
    schedule: "schedule",
    pgpass: "pgpass",
    redisPassword: "redis.password",
    qdrantApiKey: "qdrant.api-key",
} as const;

/** Names of base backups, RDB copies and snapshots: the run's start, UTC. */
export const BACKUP_NAME = /^[0-9]{8}T[0-9]{6}Z$/;
/** A failed scheduled run is tried again after this long (or the interval, if shorter). */
export const RETRY_SECONDS = 3600;
/** The sidecar waits this long after it starts before its first scheduled run. */
export const FIRST_RUN_DELAY_SECONDS = 60;

export function backupPath(layout: ServerLayout, directory: keyof typeof BACKUP_DIRECTORIES): string {
    return `${layout.backups.directory}/${BACKUP_DIRECTORIES[directory]}`;
}

/**
 * PostgreSQL's archive_command: each finished WAL segment (and history file), gzip-compressed,
 * into the archive. Written to a temporary name, flushed, then renamed, so the archive never
 * holds half a file; a file already archived is accepted again only with the same content
 * (PostgreSQL retries after a crash between archiving and noting it), never overwritten.
 */
export function archiveCommand(walDirectory: string): string {
    const dir = shellWord(walDirectory, "WAL archive directory");
    return (
        `f=${dir}/%f.gz; if [ -e "$f" ]; then gzip -dc "$f" | cmp -s - %p; ` +
        `else gzip -1 -c %p > "$f.tmp" && sync "$f.tmp" && mv "$f.tmp" "$f" && sync ${dir}; fi`
    );
}

/** The restore's restore_command: segments from a staging copy of the archive (see render/backupRestore.ts). */
export function restoreCommand(stagingDirectory: string): string {
    const dir = shellWord(stagingDirectory, "WAL staging directory");
    return `test -f ${dir}/%f.gz && gzip -dc ${dir}/%f.gz > %p`;
}

export type ArchiveSetting = readonly [string, string];

/** postgresql.conf's archive settings: none when backups are off. */
export function archiveSettings(plan: StackPlan, layout: ServerLayout): ArchiveSetting[] {
    if (!plan.backups.enabled) {
        return [];
    }
    return [
        ["archive_mode", "on"],
        ["archive_command", archiveCommand(backupPath(layout, "wal"))],
        ["archive_timeout", `${plan.backups.archiveTimeoutSeconds}s`],
    ];
}

/** The libpq password file the sidecar's pg_basebackup reads (replication connections match `*`). */
export function renderPgpass(plan: StackPlan, password: string, targets?: Partial<SidecarTargets>): string {
    const { postgres } = targetsOf(plan, targets).endpoints;
    return `${[postgres.host, String(postgres.port), "*", plan.backups.role.name, password].map(pgpassField).join(":")}\n`;
}

/** The schedule file the scheduler reads before every decision: interval and retry, in seconds. */
export function renderSchedule(plan: StackPlan): string {
    const interval = plan.backups.intervalHours * 3600;
    return `${interval} ${Math.min(interval, RETRY_SECONDS)}\n`;
}

/**
 * The container's main process: every 30 s it decides whether a run is due (the interval since
 * the last run's start, or the retry delay after a failed one) and runs backup.sh, touching a
 * heartbeat file for the healthcheck meanwhile. SIGTERM stops it at once (and a running backup).
 */
export function renderSchedulerScript(layout: ServerLayout, sidecar: SidecarLayout = SIDECAR_LAYOUT): string {
    const q = (value: string) => shellWord(value, "scheduler");
    const status = backupPath(layout, "status");
    return `#!/bin/bash
${renderedHeader("#", SIDECAR_FILES.scheduler).trimEnd()}
set -uo pipefail
CONF=${q(sidecar.configDirectory)}
STATUS=${q(status)}
HEARTBEAT=${q(sidecar.heartbeat)}
child=

log() { printf '%s zentoria-backup: %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
stop() {
    if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; wait "$child"; fi
    exit 0
}
trap stop TERM INT
# sleep in the background, so that a signal is handled at once
pause() { sleep "$1" & wait $!; }

touch "$HEARTBEAT"
log "scheduler started; schedule: $(cat "$CONF/${SIDECAR_FILES.schedule}")"
pause ${FIRST_RUN_DELAY_SECONDS}
while :; do
    touch "$HEARTBEAT"
    read -r interval retry < "$CONF/${SIDECAR_FILES.schedule}" || { log "cannot read $CONF/${SIDECAR_FILES.schedule}"; interval=86400; retry=3600; }
    last=0
    outcome=none
    if [ -r "$STATUS/last-run" ]; then read -r last outcome < "$STATUS/last-run" || last=0; fi
    due=$interval
    [ "$outcome" = failed ] && due=$retry
    if [ $(( $(date -u +%s) - last )) -ge "$due" ]; then
        bash "$CONF/${SIDECAR_FILES.backup}" scheduled &
        child=$!
        while kill -0 "$child" 2>/dev/null; do touch "$HEARTBEAT"; pause 10; done
        wait "$child"
        child=
    fi
    pause 30
done
`;
}

interface ScriptValues extends SidecarTargets {
    root: string;
    status: string;
    wal: string;
    base: string;
    redisDir: string;
    qdrantDir: string;
}

function scriptValues(plan: StackPlan, layout: ServerLayout, targets?: Partial<SidecarTargets>): ScriptValues {
    return {
        ...targetsOf(plan, targets),
        root: layout.backups.directory,
        status: backupPath(layout, "status"),
        wal: backupPath(layout, "wal"),
        base: backupPath(layout, "base"),
        redisDir: backupPath(layout, "redis"),
        qdrantDir: backupPath(layout, "qdrant"),
    };
}

/** The status, metrics and retention helpers every service's part uses. */
function commonPart(plan: StackPlan, values: ScriptValues): string {
    const q = (value: string | number) => shellWord(value, "backup.sh");
    return `CONF=${q(values.sidecar.configDirectory)}
ROOT=${q(values.root)}
STATUS=${q(values.status)}
KEEP=${q(plan.backups.keepBaseBackups)}
TRIGGER=\${1:-manual}
case "$TRIGGER" in scheduled|manual) ;; *) echo "usage: backup.sh [scheduled|manual]" >&2; exit 2 ;; esac

log() { printf '%s zentoria-backup: %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
now_ms() { date -u +%s%3N; }
iso_ms() { date -u -d "@$(( $1 / 1000 )).$(printf '%03d' $(( $1 % 1000 )))" +%Y-%m-%dT%H:%M:%S.%3NZ; }
# one line of printable text without quotes or backslashes, for the JSON status files
clean() { printf '%s' "$1" | tr -d '\\000-\\037"\\\\' | cut -c1-400; }
last_line() { grep -v '^[[:space:]]*$' "$1" | tail -n 1; }
write_file() { printf '%s\\n' "$2" > "$1.tmp" && mv -f "$1.tmp" "$1"; }

# status/<service>.json: the last run; status/<service>.success.json: the last successful one;
# status/history.jsonl: every run; status/metrics.prom: the same as Prometheus gauges.
record() { # service outcome started_ms bytes name message
    local service=$1 outcome=$2 started=$3 bytes=$4 name=$5 message finished line
    message=$(clean "$6")
    finished=$(now_ms)
    line=$(printf '{"service":"%s","outcome":"%s","trigger":"%s","startedAt":"%s","finishedAt":"%s","seconds":%d,"bytes":%d,"name":"%s","message":"%s"}' \\
        "$service" "$outcome" "$TRIGGER" "$(iso_ms "$started")" "$(iso_ms "$finished")" $(( (finished - started + 500) / 1000 )) "$bytes" "$name" "$message")
    write_file "$STATUS/$service.json" "$line"
    printf '%s\\n' "$line" >> "$STATUS/history.jsonl"
    tail -n 2000 "$STATUS/history.jsonl" > "$STATUS/.history.tmp" && mv -f "$STATUS/.history.tmp" "$STATUS/history.jsonl"
    printf '%s %s %s %s %s\\n' "$service" "$outcome" $(( finished / 1000 )) "$bytes" $(( (finished - started) / 1000 )) > "$STATUS/.$service.run"
    if [ "$outcome" = success ]; then
        write_file "$STATUS/$service.success.json" "$line"
        cp -f "$STATUS/.$service.run" "$STATUS/.$service.success"
        log "$service: $name: $bytes bytes in $(( (finished - started) / 1000 )) s ($TRIGGER)"
    else
        log "$service: backup FAILED ($TRIGGER): $message"
    fi
    write_metrics
}

write_metrics() {
    local file=$STATUS/.metrics.tmp service outcome finished bytes seconds
    {
        echo '# HELP zentoria_backup_last_run_timestamp_seconds When the last backup run of the service finished.'
        echo '# TYPE zentoria_backup_last_run_timestamp_seconds gauge'
        echo '# HELP zentoria_backup_last_run_success 1 when the last backup run of the service succeeded, 0 when it failed.'
        echo '# TYPE zentoria_backup_last_run_success gauge'
        echo '# HELP zentoria_backup_last_success_timestamp_seconds When the last successful backup of the service finished.'
        echo '# TYPE zentoria_backup_last_success_timestamp_seconds gauge'
        echo '# HELP zentoria_backup_last_success_size_bytes Size of the last successful backup of the service.'
        echo '# TYPE zentoria_backup_last_success_size_bytes gauge'
        echo '# HELP zentoria_backup_last_success_duration_seconds How long the last successful backup of the service took.'
        echo '# TYPE zentoria_backup_last_success_duration_seconds gauge'
        for run in "$STATUS"/.*.run; do
            [ -r "$run" ] || continue
            read -r service outcome finished bytes seconds < "$run"
            echo "zentoria_backup_last_run_timestamp_seconds{service=\\"$service\\"} $finished"
            echo "zentoria_backup_last_run_success{service=\\"$service\\"} $([ "$outcome" = success ] && echo 1 || echo 0)"
        done
        for run in "$STATUS"/.*.success; do
            [ -r "$run" ] || continue
            read -r service outcome finished bytes seconds < "$run"
            echo "zentoria_backup_last_success_timestamp_seconds{service=\\"$service\\"} $finished"
            echo "zentoria_backup_last_success_size_bytes{service=\\"$service\\"} $bytes"
            echo "zentoria_backup_last_success_duration_seconds{service=\\"$service\\"} $seconds"
        done
    } > "$file" && mv -f "$file" "$STATUS/metrics.prom"
}

# Names of kept copies in a directory, oldest first: <name><suffix> with a backup name.
copies() { # directory suffix
    local entry
    for entry in "$1"/*"$2"; do
        entry=\${entry##*/}
        entry=\${entry%"$2"}
        [[ "$entry" =~ ${BACKUP_NAME.source} ]] && printf '%s\\n' "$entry"
    done | sort
}

# Removes all but the newest KEEP copies (and what belongs to each), oldest first.
prune() { # service directory suffix [extra suffixes...]
    local service=$1 dir=$2 suffix=$3 names extra
    shift 3
    mapfile -t names < <(copies "$dir" "$suffix")
    while [ "\${#names[@]}" -gt "$KEEP" ]; do
        rm -rf "$dir/\${names[0]}$suffix"
        for extra in "$@"; do rm -f "$dir/\${names[0]}$extra"; done
        log "$service: removed \${names[0]} (keeping the newest $KEEP)"
        names=("\${names[@]:1}")
    done
}
`;
}

function postgresPart(plan: StackPlan, values: ScriptValues): string {
    const q = (value: string | number) => shellWord(value, "backup.sh");
    const { backups } = plan;
    const postgres = values.endpoints.postgres;
    return `
# PostgreSQL: a base backup over a replication connection with its WAL (-X stream), SHA-256
# checksums in its manifest, checked by pg_verifybackup before it counts; then retention, and the
# WAL archive pruned back to the oldest kept base backup.
backup_postgres() {
    local base=${q(values.base)} wal=${q(values.wal)} started id tmp target done_ms bytes startwal timeline endlsn output
    started=$(now_ms)
    id=$(date -u -d "@$(( started / 1000 ))" +%Y%m%dT%H%M%SZ)
    tmp=$base/.partial-$id
    target=$base/$id
    output=$STATUS/postgres.log
    rm -rf "$base"/.partial-*
    if [ -e "$target" ]; then
        record postgres failed "$started" 0 "$id" "a base backup named $id exists already"
        return 1
    fi
    : > "$output"
    if ! PGPASSFILE="$CONF/${SIDECAR_FILES.pgpass}" PGCONNECT_TIMEOUT=30 pg_basebackup --host=${q(postgres.host)} --port=${q(postgres.port)} \\
        --username=${q(backups.role.name)} --no-password --pgdata="$tmp" --format=plain --wal-method=stream \\
        --checkpoint=fast --manifest-checksums=SHA256 --label="zentoria $id" >> "$output" 2>&1; then
        rm -rf "$tmp"
        record postgres failed "$started" 0 "$id" "pg_basebackup: $(last_line "$output")"
        return 1
    fi
    done_ms=$(now_ms)
    if ! pg_verifybackup --quiet "$tmp" >> "$output" 2>&1; then
        rm -rf "$tmp"
        record postgres failed "$started" 0 "$id" "pg_verifybackup: $(last_line "$output")"
        return 1
    fi
    startwal=$(sed -n 's/^START WAL LOCATION: .*(file \\([0-9A-F]\\{24\\}\\))$/\\1/p' "$tmp/backup_label")
    if [ -z "$startwal" ]; then
        rm -rf "$tmp"
        record postgres failed "$started" 0 "$id" "no START WAL LOCATION in backup_label"
        return 1
    fi
    # The timeline and the end of the backup's WAL (its manifest's last WAL range): a restore
    # follows a timeline, and only backups that end before it forked off can start it.
    timeline=$(sed -n 's/.*"Timeline": \\([0-9]*\\),.*/\\1/p' "$tmp/backup_manifest" | tail -n 1)
    endlsn=$(sed -n 's/.*"End-LSN": "\\([0-9A-F]*\\/[0-9A-F]*\\)".*/\\1/p' "$tmp/backup_manifest" | tail -n 1)
    bytes=$(du -sb "$tmp" | cut -f1)
    mv "$tmp" "$target" && sync "$base"
    write_file "$base/$id.json" "$(printf '{"name":"%s","startedAt":"%s","finishedAt":"%s","startWal":"%s","timeline":%d,"endLsn":"%s","bytes":%d,"verified":true}' \\
        "$id" "$(iso_ms "$started")" "$(iso_ms "$done_ms")" "$startwal" "\${timeline:-0}" "$endlsn" "$bytes")"
    prune postgres "$base" "" .json
    local names
    mapfile -t names < <(copies "$base" "")
    startwal=$(sed -n 's/.*"startWal":"\\([0-9A-F]\\{24\\}\\)".*/\\1/p' "$base/\${names[0]}.json")
    # A failed clean-up leaves old WAL behind; the backup itself is good.
    if [ -n "$startwal" ] && ! pg_archivecleanup -x .gz "$wal" "$startwal" >> "$output" 2>&1; then
        log "postgres: pg_archivecleanup failed, old WAL stays in the archive: $(last_line "$output")"
    fi
    record postgres success "$started" "$bytes" "$id" "verified; WAL archive kept from $startwal"
}
`;
}

function redisPart(plan: StackPlan, values: ScriptValues): string {
    const q = (value: string | number) => shellWord(value, "backup.sh");
    const { backups } = plan;
    const redis = values.endpoints.redis;
    return `
# Redis: BGSAVE as the backup user (which may run BGSAVE and LASTSAVE only), over bash's
# /dev/tcp in RESP; once LASTSAVE moves past the time before, the new dump.rdb is complete on
# Redis' data volume (Redis renames it into place first) and is copied with its SHA-256.
resp() { # command args... -> the reply line
    local request="*$#"$'\\r\\n' arg line
    for arg in "$@"; do request+="\\$\${#arg}"$'\\r\\n'"$arg"$'\\r\\n'; done
    printf '%s' "$request" >&3 || return 1
    IFS= read -r -t 30 line <&3 || return 1
    printf '%s' "\${line%$'\\r'}"
}

backup_redis() {
    local dir=${q(values.redisDir)} started id tmp before reply deadline bytes asked
    started=$(now_ms)
    id=$(date -u -d "@$(( started / 1000 ))" +%Y%m%dT%H%M%SZ)
    tmp=$dir/.partial-$id.rdb
    rm -f "$dir"/.partial-*
    if ! exec 3<>/dev/tcp/${q(redis.host)}/${q(redis.port)}; then
        record redis failed "$started" 0 "$id" "cannot connect to ${redis.host}:${redis.port}"
        return 1
    fi
    reply=$(resp AUTH ${q(backups.redisUser)} "$(cat "$CONF/${SIDECAR_FILES.redisPassword}")")
    if [ "$reply" != "+OK" ]; then
        exec 3>&-
        record redis failed "$started" 0 "$id" "AUTH: $reply"
        return 1
    fi
    before=$(resp LASTSAVE)
    before=\${before#:}
    if ! [[ "$before" =~ ^[0-9]+$ ]]; then
        exec 3>&-
        record redis failed "$started" 0 "$id" "LASTSAVE: $before"
        return 1
    fi
    # LASTSAVE counts seconds: start the save in a later second than the last one ended.
    while [ "$(date -u +%s)" -le "$before" ]; do sleep 0.2; done
    asked=$(now_ms)
    reply=$(resp BGSAVE)
    case "$reply" in
        "+Background saving started" | "-ERR Background save already in progress") ;;
        *) exec 3>&-; record redis failed "$started" 0 "$id" "BGSAVE: $reply"; return 1 ;;
    esac
    deadline=$(( $(date -u +%s) + 3600 ))
    while :; do
        reply=$(resp LASTSAVE)
        [ "\${reply#:}" -gt "$before" ] 2>/dev/null && break
        if [ "$(date -u +%s)" -ge "$deadline" ]; then
            exec 3>&-
            record redis failed "$started" 0 "$id" "BGSAVE did not finish within an hour (LASTSAVE $reply); see Redis' log"
            return 1
        fi
        sleep 0.5
    done
    exec 3>&-
    if ! cp ${q(`${values.sidecar.redisData}/dump.rdb`)} "$tmp" || [ "$(head -c 5 "$tmp")" != REDIS ]; then
        rm -f "$tmp"
        record redis failed "$started" 0 "$id" "copying dump.rdb failed or it is not an RDB file"
        return 1
    fi
    sha256sum < "$tmp" | cut -d' ' -f1 > "$dir/$id.rdb.sha256"
    bytes=$(stat -c %s "$tmp")
    write_file "$dir/$id.rdb.json" "$(printf '{"name":"%s","savedAt":"%s","bytes":%d}' "$id" "$(iso_ms "$asked")" "$bytes")"
    mv "$tmp" "$dir/$id.rdb" && sync "$dir"
    prune redis "$dir" .rdb .rdb.sha256 .rdb.json
    record redis success "$started" "$bytes" "$id" "BGSAVE at $reply"
}
`;
}

function qdrantPart(values: ScriptValues): string {
    const q = (value: string | number) => shellWord(value, "backup.sh");
    const qdrant = values.endpoints.qdrant;
    const snapshots = values.sidecar.qdrantSnapshots;
    return `
# Qdrant: a full snapshot through its API (with the API key, over bash's /dev/tcp), which Qdrant
# writes to its snapshots volume; copied here, checked against Qdrant's own SHA-256, then
# deleted from Qdrant.
qdrant_request() { # method path -> status line, then the body
    local response
    exec 4<>/dev/tcp/${q(qdrant.host)}/${q(qdrant.httpPort)} || return 1
    printf '%s %s HTTP/1.0\\r\\nHost: %s\\r\\napi-key: %s\\r\\nContent-Length: 0\\r\\n\\r\\n' \\
        "$1" "$2" ${q(`${qdrant.host}:${qdrant.httpPort}`)} "$(cat "$CONF/${SIDECAR_FILES.qdrantApiKey}")" >&4 || return 1
    response=$(timeout 3600 cat <&4)
    exec 4>&-
    printf '%s\\n' "\${response%%$'\\r'*}"
    printf '%s' "\${response#*$'\\r\\n\\r\\n'}"
}

backup_qdrant() {
    local dir=${q(values.qdrantDir)} started id tmp reply status name expected bytes
    started=$(now_ms)
    id=$(date -u -d "@$(( started / 1000 ))" +%Y%m%dT%H%M%SZ)
    tmp=$dir/.partial-$id.snapshot
    rm -f "$dir"/.partial-*
    reply=$(qdrant_request POST "/snapshots?wait=true")
    status=$(printf '%s\\n' "$reply" | head -n 1)
    name=$(printf '%s' "$reply" | grep -o '"name":"[^"]*"' | head -n 1 | cut -d'"' -f4)
    if [[ "$status" != "HTTP/1."?" 200"* ]] || ! [[ "$name" =~ ^[A-Za-z0-9._-]+$ ]]; then
        record qdrant failed "$started" 0 "$id" "POST /snapshots: $status $(printf '%s' "$reply" | tail -n 1)"
        return 1
    fi
    if ! cp ${q(snapshots)}/"$name" "$tmp"; then
        rm -f "$tmp"
        record qdrant failed "$started" 0 "$id" "cannot copy snapshot $name from Qdrant's snapshots volume"
        return 1
    fi
    sha256sum < "$tmp" | cut -d' ' -f1 > "$dir/$id.snapshot.sha256"
    expected=$(cat ${q(snapshots)}/"$name.checksum" 2>/dev/null || true)
    if [ -n "$expected" ] && [ "$expected" != "$(cat "$dir/$id.snapshot.sha256")" ]; then
        rm -f "$tmp" "$dir/$id.snapshot.sha256"
        record qdrant failed "$started" 0 "$id" "snapshot $name does not match Qdrant's checksum"
        return 1
    fi
    bytes=$(stat -c %s "$tmp")
    mv "$tmp" "$dir/$id.snapshot" && sync "$dir"
    qdrant_request DELETE "/snapshots/$name?wait=true" > /dev/null || log "qdrant: could not delete snapshot $name from Qdrant"
    prune qdrant "$dir" .snapshot .snapshot.sha256
    record qdrant success "$started" "$bytes" "$id" "snapshot $name"
}
`;
}

/**
 * One backup run (backup.sh [scheduled|manual]): each service in turn, one at a time (a lock on
 * the backup volume); exit status 0 when every service succeeded, 1 when one failed, 75 when
 * another run held the lock for two hours. Progress and failures go to stderr (the container's
 * log, or `npm run backup`'s output).
 */
export function renderBackupScript(plan: StackPlan, layout: ServerLayout, targets?: Partial<SidecarTargets>): string {
    if (!plan.backups.enabled) {
        throw new RenderError(SIDECAR_FILES.backup, "backups.enabled", "backups are off");
    }
    const values = scriptValues(plan, layout, targets);
    const services = plan.backups.services;
    return `#!/bin/bash
${renderedHeader("#", SIDECAR_FILES.backup).trimEnd()}
set -uo pipefail
export LC_ALL=C
# Status files readable by a metrics reader; the data directories themselves are 0700.
umask 022
${commonPart(plan, values)}${postgresPart(plan, values)}${services.includes("redis") ? redisPart(plan, values) : ""}${services.includes("qdrant") ? qdrantPart(values) : ""}
exec 9>> "$STATUS/.lock"
if ! flock -w 7200 9; then
    log "another backup run has held the lock for two hours; giving up"
    exit 75
fi
run_started=$(date -u +%s)
failed=0
for service in ${services.join(" ")}; do
    "backup_$service" || failed=1
done
write_file "$STATUS/last-run" "$run_started $([ "$failed" = 0 ] && echo success || echo failed)"
exit "$failed"
`;
}

/** The replication role as SQL, for servers the provider does not manage (the integration tests'). */
export function backupRoleStatements(plan: StackPlan, verifier: string): string[] {
    if (!verifier.startsWith("SCRAM-SHA-256$")) {
        throw new RenderError("SQL", `role ${plan.backups.role.name}`, "needs a SCRAM verifier");
    }
    return [`CREATE ROLE ${sqlIdentifier(plan.backups.role.name)} LOGIN REPLICATION CONNECTION LIMIT ${plan.backups.role.connectionLimit} PASSWORD ${sqlLiteral(verifier)}`];
}
