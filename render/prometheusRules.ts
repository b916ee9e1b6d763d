// Section 5's tables as Prometheus alert rules, from the plan: every warning and critical level
// is a rule whose threshold is its config key's value, and every "of max" is against the limit
// the plan sets (a pool's client limit and size, max_client_conn, max_connections, a role's
// CONNECTION LIMIT), written into the rules as series of their own so that one rule covers every
// pool or role by joining on its name.
import { StackPlan } from "../config/plan";
import { Thresholds } from "../config/schema";
import { BACKUP_ALERT_MEASURES, backupAlertRules } from "./backupAlerts";
import { LONG_QUERY_METRIC, yamlDocument } from "./monitoring";
import { promLabelValue, RenderError } from "./quote";

export type Severity = "warning" | "critical";

/** A limit from the plan as a series: `vector(<value>)` with labels naming what it limits. */
export interface LimitRecord {
    record: string;
    value: number;
    labels: Record<string, string>;
}

/** A measurement, as a recording rule the alerts compare. */
export interface MeasureRecord {
    record: string;
    expr: string;
}

export interface AlertRule {
    alert: string;
    severity: Severity;
    /** The config key of the threshold (absent for the availability rules). */
    key?: string;
    threshold?: number;
    /** The compared measurement, in words with its unit ("% of the pool's client limit"). */
    measure: string;
    expr: string;
    /** Only for the availability and backup rules: how long the condition must hold. */
    for?: string;
    summary: string;
}

/** The window of every "per minute" figure and of the average wait: Prometheus' increase()/rate() over it. */
export const RATE_WINDOW = "1m";

const RECORD = {
    poolClientLimit: "zentoria:pgbouncer_pool_client_limit",
    poolSize: "zentoria:pgbouncer_pool_size",
    maxClientConn: "zentoria:pgbouncer_max_client_conn",
    maxConnections: "zentoria:postgres_max_connections",
    roleLimit: "zentoria:postgres_role_connection_limit",
    poolClients: "zentoria:pgbouncer_pool_clients:percent",
    poolServers: "zentoria:pgbouncer_pool_servers:percent",
    clients: "zentoria:pgbouncer_clients:percent",
    waitMs: "zentoria:pgbouncer_wait_ms:avg_1m",
    poolerErrors: "zentoria:pgbouncer_pooler_errors:increase_1m",
    connections: "zentoria:postgres_connections:percent",
    roleConnections: "zentoria:postgres_role_connections:percent",
    redisRejected: "zentoria:redis_rejected_connections:increase_1m",
} as const;

export { RECORD as MONITORING_RECORDS };

/** The plan's limits as series. */
export function limitRecords(plan: StackPlan): LimitRecord[] {
    const pools = [...plan.pools].sort((a, b) => a.alias.localeCompare(b.alias));
    return [
        ...pools.map((pool) => ({ record: RECORD.poolClientLimit, value: pool.maxClientConnections, labels: { database: promLabelValue(pool.alias, "pool alias") } })),
        ...pools.map((pool) => ({ record: RECORD.poolSize, value: pool.poolSize, labels: { database: promLabelValue(pool.alias, "pool alias") } })),
        { record: RECORD.maxClientConn, value: plan.pgbouncer.maxClientConn, labels: {} },
        { record: RECORD.maxConnections, value: plan.postgres.maxConnections, labels: {} },
        // PostgreSQL does not apply CONNECTION LIMIT to superusers: no limit to measure against.
        ...plan.roles
            .filter((role) => role.access !== "superuser")
            .map((role) => ({ record: RECORD.roleLimit, value: role.connectionLimit, labels: { usename: promLabelValue(role.name, "role name") } })),
    ];
}

/** What the exporters report, turned into the figures section 5's tables compare. */
export function measureRecords(): MeasureRecord[] {
    const clientBackends = 'pg_stat_activity_count{backend_type="client backend"}';
    return [
        {
            record: RECORD.poolClients,
            expr: `100 * sum by (database) (pgbouncer_pools_client_active_connections + pgbouncer_pools_client_waiting_connections) / on (database) ${RECORD.poolClientLimit}`,
        },
        { record: RECORD.poolServers, expr: `100 * sum by (database) (pgbouncer_pools_server_active_connections) / on (database) ${RECORD.poolSize}` },
        { record: RECORD.clients, expr: `100 * sum(pgbouncer_used_clients) / on () ${RECORD.maxClientConn}` },
        {
            record: RECORD.waitMs,
            expr:
                // Only where transactions started in the window: PgBouncer counts a transaction when it
                // starts and its wait when it gets a server, so a window can hold a wait without its start.
                `1000 * sum by (database) (rate(pgbouncer_stats_client_wait_seconds_total[${RATE_WINDOW}])) ` +
                `/ (sum by (database) (rate(pgbouncer_stats_sql_transactions_pooled_total[${RATE_WINDOW}])) > 0)`,
        },
        { record: RECORD.poolerErrors, expr: `sum(increase(pgbouncer_pooler_errors_total[${RATE_WINDOW}]))` },
        { record: RECORD.connections, expr: `100 * sum(${clientBackends}) / on () ${RECORD.maxConnections}` },
        { record: RECORD.roleConnections, expr: `100 * sum by (usename) (${clientBackends}) / on (usename) ${RECORD.roleLimit}` },
        { record: RECORD.redisRejected, expr: `sum(increase(redis_rejected_connections_total[${RATE_WINDOW}]))` },
    ];
}

interface LeveledRule {
    alert: string;
    /** The measured series (a recording rule or an exporter's metric, with its own labels). */
    series: string;
    measure: string;
    warning: { key: string; value: number };
    critical?: { key: string; value: number };
    summary: (level: Severity, threshold: number) => string;
}

const key = (name: keyof Thresholds) => `monitoring.thresholds.${name}`;

function leveledRules(plan: StackPlan): LeveledRule[] {
    const t = plan.monitoring.thresholds;
    const level = (name: keyof Thresholds) => ({ key: key(name), value: t[name] });
    return [
        {
            alert: "ZentoriaPgbouncerPoolClients",
            series: RECORD.poolClients,
            measure: "% of the pool's client limit (cl_active + cl_waiting against services.<name>.pools.<database>.maxClientConnections)",
            warning: level("pgbouncerClientsWarningPercent"),
            critical: level("pgbouncerClientsCriticalPercent"),
            summary: (_level, threshold) => `A PgBouncer pool has more than ${threshold} % of its client limit connected`,
        },
        {
            alert: "ZentoriaPgbouncerClients",
            series: RECORD.clients,
            measure: "% of max_client_conn (every client PgBouncer holds: used_clients)",
            warning: level("pgbouncerClientsWarningPercent"),
            critical: level("pgbouncerClientsCriticalPercent"),
            summary: (_level, threshold) => `PgBouncer holds more than ${threshold} % of max_client_conn clients`,
        },
        {
            alert: "ZentoriaPgbouncerPoolServers",
            series: RECORD.poolServers,
            measure: "% of the pool's pool_size (sv_active against services.<name>.pools.<database>.poolSize)",
            warning: level("pgbouncerServersWarningPercent"),
            critical: level("pgbouncerServersCriticalPercent"),
            summary: (_level, threshold) => `A PgBouncer pool uses more than ${threshold} % of its pool_size server connections`,
        },
        {
            alert: "ZentoriaPgbouncerWaitTime",
            series: RECORD.waitMs,
            measure: `ms a client waited for a server connection, on average per transaction over the last ${RATE_WINDOW}`,
            warning: level("pgbouncerWaitWarningMs"),
            critical: level("pgbouncerWaitCriticalMs"),
            summary: (_level, threshold) => `PgBouncer clients waited more than ${threshold} ms for a server connection on average`,
        },
        {
            alert: "ZentoriaPgbouncerPoolErrors",
            series: RECORD.poolerErrors,
            measure: `errors PgBouncer sent to clients in the last ${RATE_WINDOW} ("pooler error" lines in its log)`,
            warning: level("pgbouncerErrorsWarningPerMinute"),
            critical: level("pgbouncerErrorsCriticalPerMinute"),
            summary: (_level, threshold) => `PgBouncer sent more than ${threshold} errors to clients in the last minute`,
        },
        {
            alert: "ZentoriaPostgresConnections",
            series: RECORD.connections,
            measure: "% of max_connections (client backends in pg_stat_activity)",
            warning: level("postgresConnectionsWarningPercent"),
            critical: level("postgresConnectionsCriticalPercent"),
            summary: (_level, threshold) => `PostgreSQL has more than ${threshold} % of max_connections in use`,
        },
        {
            alert: "ZentoriaPostgresRoleConnections",
            series: RECORD.roleConnections,
            measure: "% of the role's CONNECTION LIMIT (its client backends in pg_stat_activity)",
            warning: level("postgresConnectionsWarningPercent"),
            critical: level("postgresConnectionsCriticalPercent"),
            summary: (_level, threshold) => `A PostgreSQL role uses more than ${threshold} % of its CONNECTION LIMIT`,
        },
        {
            alert: "ZentoriaPostgresLongQuery",
            series: LONG_QUERY_METRIC,
            measure: "seconds since the oldest non-idle query started (section 5.2: now() - query_start, state other than idle)",
            warning: level("longQuerySeconds"),
            summary: (_level, threshold) => `A PostgreSQL query has been running for more than ${threshold} seconds`,
        },
        {
            alert: "ZentoriaRedisConnectedClients",
            series: "redis_connected_clients",
            measure: "connected_clients (INFO clients)",
            warning: { key: "redis.warningClients", value: plan.redis.warningClients },
            critical: { key: "redis.criticalClients", value: plan.redis.criticalClients },
            summary: (_level, threshold) => `Redis has more than ${threshold} connected clients`,
        },
        {
            alert: "ZentoriaRedisBlockedClients",
            series: "redis_blocked_clients",
            measure: "blocked_clients (INFO clients: clients waiting in a blocking command)",
            warning: level("redisBlockedWarning"),
            critical: level("redisBlockedCritical"),
            summary: (_level, threshold) => `Redis has more than ${threshold} blocked clients`,
        },
        {
            alert: "ZentoriaRedisRejectedConnections",
            series: RECORD.redisRejected,
            measure: `connections Redis refused in the last ${RATE_WINDOW} (rejected_connections: maxclients reached)`,
            warning: level("redisRejectedWarningPerMinute"),
            critical: level("redisRejectedCriticalPerMinute"),
            summary: (_level, threshold) => `Redis refused more than ${threshold} connections in the last minute`,
        },
    ];
}

function checkedThreshold(value: number, what: string): number {
    if (!Number.isFinite(value) || value < 0) {
        throw new RenderError("rules.yml", what, "a threshold must be a finite number of at least 0", value);
    }
    return value;
}

/**
 * One alert per level. The warning fires above its threshold up to the critical one, the
 * critical above that: each condition is reported at exactly one level.
 */
export function alertRules(plan: StackPlan): AlertRule[] {
    const rules: AlertRule[] = [];
    for (const rule of leveledRules(plan)) {
        const warning = checkedThreshold(rule.warning.value, rule.warning.key);
        const critical = rule.critical && checkedThreshold(rule.critical.value, rule.critical.key);
        if (critical !== undefined && critical <= warning) {
            throw new RenderError("rules.yml", rule.alert, `the critical level ${critical} must be above the warning level ${warning}`);
        }
        rules.push({
            alert: rule.alert,
            severity: "warning",
            key: rule.warning.key,
            threshold: warning,
            measure: rule.measure,
            expr: critical === undefined ? `${rule.series} > ${warning}` : `${rule.series} > ${warning} and ${rule.series} <= ${critical}`,
            summary: rule.summary("warning", warning),
        });
        if (rule.critical && critical !== undefined) {
            rules.push({
                alert: rule.alert,
                severity: "critical",
                key: rule.critical.key,
                threshold: critical,
                measure: rule.measure,
                expr: `${rule.series} > ${critical}`,
                summary: rule.summary("critical", critical),
            });
        }
    }
    return [...rules, ...availabilityRules(), ...(plan.backups.enabled ? backupRules(plan) : [])];
}

/** The backups' rules (render/backupAlerts.ts) in this file's shape. */
function backupRules(plan: StackPlan): AlertRule[] {
    return backupAlertRules(plan).rules.map((rule) => ({
        alert: rule.alert,
        severity: rule.labels.severity as Severity,
        measure: BACKUP_ALERT_MEASURES[rule.alert],
        expr: rule.expr,
        ...(rule.for !== "0m" ? { for: rule.for } : {}),
        summary: rule.annotations.summary,
    }));
}

/** Without these the thresholds above would go quiet exactly when there is nothing to measure. */
function availabilityRules(): AlertRule[] {
    return [
        {
            alert: "ZentoriaMonitoringTargetDown",
            severity: "critical",
            measure: "up (whether Prometheus could scrape the target)",
            expr: "up == 0",
            for: "1m",
            summary: "Prometheus cannot scrape a monitoring target",
        },
        {
            alert: "ZentoriaExporterCannotReachServer",
            severity: "critical",
            measure: "pgbouncer_up, pg_up, redis_up (whether the exporter reached its server)",
            expr: "pgbouncer_up == 0 or pg_up == 0 or redis_up == 0",
            for: "1m",
            summary: "An exporter cannot reach the server it reports on",
        },
    ];
}

/** rules.yml: one group, limits first, then the measurements, then the alerts, so that one evaluation sees them in order. */
export function renderRules(plan: StackPlan): string {
    const group = {
        name: "zentoria-section-5",
        rules: [
            ...limitRecords(plan).map((limit) => ({
                record: limit.record,
                expr: `vector(${checkedThreshold(limit.value, limit.record)})`,
                ...(Object.keys(limit.labels).length > 0 ? { labels: limit.labels } : {}),
            })),
            ...measureRecords().map((measure) => ({ record: measure.record, expr: measure.expr })),
            ...alertRules(plan).map((rule) => ({
                alert: rule.alert,
                expr: rule.expr,
                ...(rule.for ? { for: rule.for } : {}),
                labels: { severity: rule.severity },
                annotations: alertAnnotations(rule),
            })),
        ],
    };
    return yamlDocument("rules.yml", { groups: [group] });
}

/** What an alert carries besides its labels: what it measures, its level and key (Prometheus adds the measured value). */
export function alertAnnotations(rule: AlertRule): Record<string, string> {
    return {
        summary: rule.summary,
        measure: rule.measure,
        ...(rule.key !== undefined ? { threshold: `${rule.threshold}`, threshold_key: rule.key } : {}),
    };
}

/** The rules as the stack outputs them: no expression, no credential. */
export function ruleSummaries(plan: StackPlan): Array<{ alert: string; severity: Severity; threshold?: number; key?: string; measure: string; for?: string }> {
    return alertRules(plan).map((rule) => ({
        alert: rule.alert,
        severity: rule.severity,
        ...(rule.key !== undefined ? { threshold: rule.threshold, key: rule.key } : {}),
        measure: rule.measure,
        ...(rule.for ? { for: rule.for } : {}),
    }));
}
