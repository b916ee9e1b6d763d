// prometheus.yml and alertmanager.yml from the plan. Prometheus scrapes every exporter by its
// container name on the stack's network; the only credential it holds is Qdrant's read-only
// key, in a file of its own (credentials_file), never in prometheus.yml.
import { StackPlan } from "../config/plan";
import { MONITORING_LAYOUT, yamlDocument } from "./monitoring";

/** Prometheus' scrape timeout: its default 10 s, or less when the interval is shorter (it must not exceed it). */
export function scrapeTimeoutSeconds(plan: StackPlan): number {
    return Math.min(10, plan.monitoring.scrapeIntervalSeconds);
}

/** The targets Prometheus scrapes, by job name. */
export function scrapeTargets(plan: StackPlan): Record<string, string> {
    const { monitoring, qdrant } = plan;
    const target = (container: { containerName: string; port: number }) => `${container.containerName}:${container.port}`;
    return {
        prometheus: `127.0.0.1:${monitoring.prometheus.port}`,
        pgbouncer: target(monitoring.pgbouncerExporter),
        "pgbouncer-errors": target(monitoring.pgbouncerErrors),
        postgres: target(monitoring.postgresExporter),
        redis: target(monitoring.redisExporter),
        ...(qdrant.enabled ? { qdrant: `${qdrant.containerName}:${qdrant.httpPort}` } : {}),
        ...(monitoring.alertmanager.enabled ? { alertmanager: target(monitoring.alertmanager) } : {}),
    };
}

export function renderPrometheusConfig(plan: StackPlan): string {
    const { monitoring } = plan;
    const seconds = (value: number) => `${value}s`;
    const scrapeConfigs = Object.entries(scrapeTargets(plan)).map(([job, target]) => ({
        job_name: job,
        ...(job === "qdrant"
            ? // Qdrant's /metrics needs an API key (read access is enough): a bearer token from a file.
              { authorization: { type: "Bearer", credentials_file: MONITORING_LAYOUT.prometheus.qdrantKeyFile } }
            : {}),
        static_configs: [{ targets: [target] }],
    }));
    const document = {
        global: {
            scrape_interval: seconds(monitoring.scrapeIntervalSeconds),
            scrape_timeout: seconds(scrapeTimeoutSeconds(plan)),
            evaluation_interval: seconds(monitoring.evaluationIntervalSeconds),
            external_labels: { stack: plan.prefix },
        },
        rule_files: [MONITORING_LAYOUT.prometheus.rulesFile],
        ...(monitoring.alertmanager.enabled
            ? { alerting: { alertmanagers: [{ static_configs: [{ targets: [`${monitoring.alertmanager.containerName}:${monitoring.alertmanager.port}`] }] }] } }
            : {}),
        scrape_configs: scrapeConfigs,
    };
    return yamlDocument("prometheus.yml", document);
}

/**
 * Alertmanager with one receiver and no integration: alerts are grouped, can be silenced and are
 * visible in its UI and API (amtool). Where they should go (mail, chat, a pager) is the
 * operator's choice, not the stack's.
 */
export function renderAlertmanagerConfig(): string {
    const document = {
        route: { receiver: "operators", group_by: ["alertname", "severity"], group_wait: "30s", group_interval: "5m", repeat_interval: "4h" },
        // A critical alert silences the warning of the same rule and labels (the rules never fire both; this covers the hand-over).
        inhibit_rules: [{ source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ["alertname", "database", "usename", "instance"] }],
        receivers: [{ name: "operators" }],
    };
    return yamlDocument("alertmanager.yml", document);
}
