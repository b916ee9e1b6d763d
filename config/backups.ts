// What backups need from the rest of the config (README: "Backups and restore"): the archive
// settings are the program's, PostgreSQL must keep WAL fit for archiving and replication, and the
// backup role and Redis user must not be taken by the config.
import { effectiveNumber, effectiveText } from "./postgresSettings";
import { postgresTable } from "./bounds";
import { Problem } from "./problems";
import { StackConfig } from "./schema";

/** The dedicated PostgreSQL role base backups connect as (REPLICATION, nothing else). */
export const BACKUP_ROLE = "zentoria_backup";
/** The Redis user the backups log in as (BGSAVE and LASTSAVE only). */
export const BACKUP_REDIS_USER = "backup";
/** pg_basebackup -X stream: one replication connection for the files, one for the WAL. */
export const BACKUP_REPLICATION_CONNECTIONS = 2;

/** Settings the backups render into postgresql.conf, or set only during a restore. */
export const BACKUP_SETTINGS: Readonly<Record<string, string>> = {
    archive_mode: "the program archives WAL when backups.enabled (set backups.enabled)",
    archive_command: "the program archives WAL into the backup volume (set backups.enabled)",
    archive_timeout: "set backups.archiveTimeoutSeconds",
    restore_command: "`npm run restore` sets it in the data directory for the restore only",
    archive_cleanup_command: "the backup sidecar removes WAL older than the oldest kept base backup",
    recovery_end_command: "`npm run restore` runs the recovery",
};

const error = (key: string, message: string): Problem => ({ severity: "error", key, message });

export function checkBackups(config: StackConfig, problems: Problem[]): void {
    if (!config.backups.enabled) {
        return;
    }
    for (const name of Object.keys(config.postgres.settings)) {
        const why = BACKUP_SETTINGS[name.toLowerCase()];
        if (why) {
            problems.push(error(`postgres.settings.${name}`, `is rendered by the program while backups are on: ${why}`));
        }
    }
    if (config.roles[BACKUP_ROLE]) {
        problems.push(error(`roles.${BACKUP_ROLE}`, `is the role the backups log in as (REPLICATION); choose another name`));
    }
    for (const [name, client] of Object.entries(config.redis.clients)) {
        if (client.user === BACKUP_REDIS_USER) {
            problems.push(error(`redis.clients.${name}.user`, `"${BACKUP_REDIS_USER}" is the Redis user the backups log in as`));
        }
    }
    if (config.tls.enabled) {
        problems.push({
            severity: "warning",
            key: "backups.enabled",
            message: `with tls.enabled the backups cover PostgreSQL only: Redis${config.qdrant.enabled ? " and Qdrant" : ""} then speak TLS only, which the backup sidecar does not (back them up by hand, README "Backups and restore")`,
        });
    }
    const found = postgresTable(config);
    if ("problem" in found) {
        return;
    }
    const settings = config.postgres.settings;
    if (effectiveText(found.table, settings, "wal_level") === "minimal") {
        problems.push(error("postgres.settings.wal_level", 'must be "replica" or "logical" while backups are on: WAL archiving and base backups need it'));
    }
    if (effectiveNumber(found.table, settings, "max_wal_senders") < BACKUP_REPLICATION_CONNECTIONS) {
        problems.push(error("postgres.settings.max_wal_senders", `must be at least ${BACKUP_REPLICATION_CONNECTIONS} while backups are on: a base backup streams its files and its WAL`));
    }
    // pg_basebackup -X stream holds a temporary replication slot while it runs.
    if (effectiveNumber(found.table, settings, "max_replication_slots") < 1) {
        problems.push(error("postgres.settings.max_replication_slots", "must be at least 1 while backups are on: a base backup holds a temporary slot"));
    }
}
