// Alert rules for the backups, loaded with section 5's when monitoring is on
// (render/prometheusRules.ts alertRules). They read the gauges the backup sidecar writes to
// status/metrics.prom in the backup store (render/backup.ts: zentoria_backup_*), which the
// pgbouncer-errors counter serves to Prometheus beside its own (render/monitoring.ts), and
// postgres_exporter's pg_stat_archiver metrics for the WAL archive.
import * as YAML from "yaml";
import { StackPlan } from "../config/plan";

export interface AlertRule {
    alert: string;
    expr: string;
    for: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
}

export function backupAlertRules(plan: StackPlan): { name: string; rules: AlertRule[] } {
    const overdueSeconds = 2 * plan.backups.intervalHours * 3600;
    return {
        name: "zentoria-backups",
        rules: [
            {
                alert: "ZentoriaBackupFailed",
                expr: "zentoria_backup_last_run_success == 0",
                for: "0m",
                labels: { severity: "critical" },
                annotations: { summary: "The last backup of {{ $labels.service }} failed: `npm run backup -- <stack> --status` says why, `docker logs` of the backup sidecar too." },
            },
            {
                alert: "ZentoriaBackupOverdue",
                expr: `time() - zentoria_backup_last_success_timestamp_seconds > ${overdueSeconds}`,
                for: "10m",
                labels: { severity: "critical" },
                annotations: { summary: `No successful backup of {{ $labels.service }} for more than ${2 * plan.backups.intervalHours} h (twice backups.intervalHours): is the backup sidecar running?` },
            },
            {
                alert: "ZentoriaWalArchiveFailing",
                expr: "increase(pg_stat_archiver_failed_count[15m]) > 0",
                for: "0m",
                labels: { severity: "warning" },
                annotations: { summary: "PostgreSQL could not archive WAL into the backup volume in the last 15 minutes (full disk? see PostgreSQL's log): until it can, WAL piles up in pg_wal." },
            },
        ],
    };
}

/** What each rule compares, in words (the stack's `monitoring.rules` output). */
export const BACKUP_ALERT_MEASURES: Readonly<Record<string, string>> = {
    ZentoriaBackupFailed: "zentoria_backup_last_run_success (whether the last backup run of a service succeeded)",
    ZentoriaBackupOverdue: "seconds since zentoria_backup_last_success_timestamp_seconds, against twice backups.intervalHours",
    ZentoriaWalArchiveFailing: "increase of pg_stat_archiver_failed_count over 15 minutes",
};

/** The rules as a Prometheus rule file. */
export function renderBackupAlertRules(plan: StackPlan): string {
    return YAML.stringify({ groups: [backupAlertRules(plan)] });
}
