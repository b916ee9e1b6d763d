// Section 5 as a running part of the stack (monitoring.enabled): the exporters of PgBouncer,
// PostgreSQL and Redis, a counter of PgBouncer's pool errors, Prometheus with section 5's alert
// rules rendered from the plan, and optionally Alertmanager. Every credential reaches its
// exporter as a file on that exporter's own config volume; Prometheus' files are reloaded with
// SIGHUP on a change, the others' containers restart (they read their files only at start).
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { MonitoringContainerPlan, StackPlan } from "../config/plan";
import { hostSideAddress } from "../render/connections";
import { serviceLabels } from "../render/labels";
import {
    httpProbe,
    MONITORING_LAYOUT,
    MONITORING_OWNERS,
    pgbouncerErrorsFiles,
    pgbouncerErrorsSettings,
    pgbouncerExporterFiles,
    pgbouncerExporterSettings,
    postgresExporterFiles,
    postgresExporterSettings,
    redisExporterFiles,
    redisExporterSettings,
    VolumeFileSpec,
} from "../render/monitoring";
import { renderAlertmanagerConfig, renderPrometheusConfig, scrapeTargets } from "../render/prometheus";
import { alertRules, limitRecords, renderRules, ruleSummaries } from "../render/prometheusRules";
import { ServerConfig } from "./live/serverConfig";
import { configVolume, containerLabels, containerOptions, dataVolume, hardened, healthcheck, localImage, publishedPort } from "./docker";

export const MONITORING_STOP_SECONDS = 10;

export interface MonitoringArgs {
    plan: StackPlan;
    network: docker.Network;
    /** The monitoring role's password (pgbouncer_exporter and postgres_exporter log in with it). */
    monitorPassword: pulumi.Output<string>;
    /** The Redis monitor user's password (redis_exporter). */
    redisMonitorPassword: pulumi.Output<string>;
    /** Qdrant's read-only key, when Qdrant runs (Prometheus scrapes its /metrics with it). */
    qdrantReadOnlyApiKey?: pulumi.Output<string>;
    /** PgBouncer's log volume (pgbouncerLogVolume), which the error counter reads. */
    pgbouncerLog: docker.Volume;
    /** The backup store (with backups on): the counter serves the sidecar's gauges from it, read-only. */
    backupStore?: Pick<docker.types.input.ContainerVolume, "volumeName" | "hostPath">;
    /** PgBouncer's container image (the counter runs in it: perl is there, nothing new to pull). */
    pgbouncerImage: pulumi.Input<string>;
    /** The servers' containers: each exporter starts once its server is healthy. */
    servers: { postgres: docker.Container; pgbouncer: docker.Container; redis: docker.Container; qdrant?: docker.Container };
    dockerHost?: string;
}

/**
 * The volume PgBouncer writes its log file to when monitoring is on (the error counter reads
 * it). It exists before PgBouncer's container, which mounts it; kept on destroy with the
 * monitoring data (monitoring.retainDataOnDestroy).
 */
export function pgbouncerLogVolume(name: string, plan: StackPlan, parent: pulumi.Resource): docker.Volume {
    return dataVolume(name, plan.monitoring.pgbouncerErrors.logVolumeName, plan.monitoring.retainDataOnDestroy, serviceLabels(plan, "monitoring"), parent);
}

/** A short fingerprint of files, for the preview: names a change without showing a secret. */
function fingerprint(files: readonly VolumeFileSpec[]): string {
    return createHash("sha256").update(JSON.stringify(files)).digest("hex").slice(0, 16);
}

/** What a change of the rules shows in the preview: every threshold and limit, by rule. */
function rulesSummary(plan: StackPlan): Record<string, string | number> {
    const rules = alertRules(plan).filter((rule) => rule.key !== undefined);
    const limits = limitRecords(plan).map((limit): [string, number] => {
        const labels = Object.entries(limit.labels).map(([label, value]) => `${label}=${value}`);
        return [`${limit.record}${labels.length ? `{${labels.join(",")}}` : ""}`, limit.value];
    });
    return Object.fromEntries([
        ...rules.map((rule): [string, string] => [`${rule.alert} ${rule.severity}`, `> ${rule.threshold} (${rule.key})`]),
        ...limits,
        ["scrape targets", Object.values(scrapeTargets(plan)).join(" ")],
        ["scrape interval (s)", plan.monitoring.scrapeIntervalSeconds],
        ["evaluation interval (s)", plan.monitoring.evaluationIntervalSeconds],
    ]);
}

export class Monitoring extends pulumi.ComponentResource {
    readonly prometheus: docker.Container;
    readonly alertmanager?: docker.Container;
    readonly exporters: Record<"pgbouncer" | "postgres" | "redis" | "pgbouncerErrors", docker.Container>;
    readonly dataVolume: docker.Volume;
    readonly configs: Record<string, ServerConfig>;
    /** Prometheus as the Docker host reaches it (the published port). */
    readonly prometheusUrl: string;
    readonly alertmanagerUrl?: string;
    /** The alert rules with their thresholds and keys, as the stack outputs them. */
    readonly rules: ReturnType<typeof ruleSummaries>;

    private readonly args: MonitoringArgs;
    private readonly labels: Record<string, string>;
    /** Writes the exporters' config volumes (busybox, or Debian: sh, base64, chown, chmod, mv are there). */
    private readonly writerImage: pulumi.Output<string>;

    constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zentoria:index:Monitoring", name, {}, opts);
        const { plan } = args;
        const monitoring = plan.monitoring;
        const layout = MONITORING_LAYOUT;
        this.args = args;
        this.labels = serviceLabels(plan, "monitoring");
        const prometheusImage = localImage(`${name}-prometheus-image`, monitoring.prometheus.image, this);
        this.writerImage = prometheusImage.imageId;
        this.configs = {};
        this.rules = ruleSummaries(plan);

        this.exporters = {
            pgbouncer: this.exporter(
                `${name}-pgbouncer-exporter`,
                monitoring.pgbouncerExporter,
                pgbouncerExporterSettings(plan),
                args.monitorPassword.apply((password) => pgbouncerExporterFiles(plan, password)),
                [args.servers.pgbouncer],
            ),
            postgres: this.exporter(
                `${name}-postgres-exporter`,
                monitoring.postgresExporter,
                postgresExporterSettings(plan),
                args.monitorPassword.apply((password) => postgresExporterFiles(password)),
                [args.servers.postgres],
            ),
            redis: this.exporter(
                `${name}-redis-exporter`,
                monitoring.redisExporter,
                redisExporterSettings(plan),
                args.redisMonitorPassword.apply((password) => redisExporterFiles(plan, password)),
                [args.servers.redis],
            ),
            pgbouncerErrors: this.pgbouncerErrors(`${name}-pgbouncer-errors`),
        };

        if (monitoring.alertmanager.enabled) {
            this.alertmanager = this.alertmanagerContainer(`${name}-alertmanager`);
            this.alertmanagerUrl = `http://${hostSideAddress(monitoring.alertmanager.publish.address)}:${monitoring.alertmanager.publish.port}`;
        }

        // Prometheus' time series outlive its container (and, by default, the stack).
        this.dataVolume = dataVolume(`${name}-prometheus-data`, monitoring.prometheus.volumeName, monitoring.retainDataOnDestroy, this.labels, this);
        const prometheusFiles = pulumi.output(args.qdrantReadOnlyApiKey ?? "").apply((qdrantKey): VolumeFileSpec[] => [
            { name: "prometheus.yml", content: renderPrometheusConfig(plan), mode: "0644", owner: MONITORING_OWNERS.nobody },
            { name: "rules.yml", content: renderRules(plan), mode: "0644", owner: MONITORING_OWNERS.nobody },
            ...(plan.qdrant.enabled ? [{ name: fileName(layout.prometheus.qdrantKeyFile), content: qdrantKey, mode: "0400", owner: MONITORING_OWNERS.nobody }] : []),
        ]);
        const prometheusConfig = this.serverConfig(`${name}-prometheus`, "prometheus", monitoring.prometheus, prometheusFiles, {
            live: rulesSummary(plan),
            restart: {},
            access: {
                kind: "prometheus",
                // A reload shows in Prometheus' next scrape of itself.
                prometheus: { port: monitoring.prometheus.port, timeoutMs: (4 * monitoring.scrapeIntervalSeconds + 60) * 1000 },
            },
        });
        this.prometheus = new docker.Container(
            `${name}-prometheus`,
            {
                name: monitoring.prometheus.containerName,
                image: prometheusImage.imageId,
                command: [
                    `--config.file=${layout.prometheus.configFile}`,
                    `--storage.tsdb.path=${layout.prometheus.dataDirectory}`,
                    `--storage.tsdb.retention.time=${monitoring.prometheus.retentionDays}d`,
                    `--web.listen-address=0.0.0.0:${monitoring.prometheus.port}`,
                ],
                volumes: [
                    { volumeName: this.dataVolume.name, containerPath: layout.prometheus.dataDirectory },
                    { volumeName: prometheusConfig.volume, containerPath: layout.prometheus.configDirectory, readOnly: true },
                ],
                networksAdvanced: [{ name: args.network.name }],
                ports: [publishedPort(monitoring.prometheus.port, monitoring.prometheus.publish)],
                ...hardened(plan.containers, { memory: monitoring.prometheus.memory, tmpfs: { "/tmp": "rw,mode=1777" } }),
                healthcheck: healthcheck(["CMD", "promtool", "check", "ready", `--url=http://127.0.0.1:${monitoring.prometheus.port}`]),
                restart: "unless-stopped",
                wait: true,
                waitTimeout: 120,
                stopTimeout: 30,
                destroyGraceSeconds: 30,
                labels: containerLabels(this.labels),
            },
            // After its targets, so that a finished `pulumi up` finds them all up.
            containerOptions(this, { dependsOn: [prometheusConfig.resource, ...Object.values(this.exporters), ...(this.alertmanager ? [this.alertmanager] : [])] }),
        );
        this.prometheusUrl = `http://${hostSideAddress(monitoring.prometheus.publish.address)}:${monitoring.prometheus.publish.port}`;
        this.registerOutputs({ prometheusUrl: this.prometheusUrl });
    }

    /** A config volume and the ServerConfig that writes (and on a change applies) its files. */
    private serverConfig(
        name: string,
        kind: "prometheus" | "exporter",
        container: MonitoringContainerPlan,
        files: pulumi.Output<VolumeFileSpec[]>,
        apply: Pick<ConstructorParameters<typeof ServerConfig>[1], "live" | "restart" | "access">,
    ): { resource: ServerConfig; volume: pulumi.Output<string> } {
        const { plan } = this.args;
        const volume = configVolume(`${name}-config-volume`, container.configVolumeName, plan.monitoring.retainDataOnDestroy, this.labels, this);
        const resource = new ServerConfig(
            `${name}-config`,
            { kind, dockerHost: this.args.dockerHost, container: container.containerName, volume: volume.name, image: this.writerImage, files, ...apply },
            { parent: this },
        );
        this.configs[name] = resource;
        return { resource, volume: volume.name };
    }

    /** Files read at start: a change restarts the container, named in the preview by a fingerprint. */
    private restartOnChange(files: pulumi.Output<VolumeFileSpec[]>): Pick<ConstructorParameters<typeof ServerConfig>[1], "live" | "restart" | "access"> {
        return {
            live: {},
            restart: files.apply((list) => ({ files: fingerprint(list) })),
            access: { kind: "exporter", stopSeconds: MONITORING_STOP_SECONDS },
        };
    }

    private exporter(
        name: string,
        container: MonitoringContainerPlan,
        settings: { command: string[]; envs: string[] },
        files: pulumi.Output<VolumeFileSpec[]>,
        after: docker.Container[],
    ): docker.Container {
        const { plan } = this.args;
        const config = this.serverConfig(name, "exporter", container, files, this.restartOnChange(files));
        const image = localImage(`${name}-image`, container.image, this);
        return new docker.Container(
            name,
            {
                name: container.containerName,
                image: image.imageId,
                command: settings.command,
                // File paths only: every credential is in a file on the config volume.
                envs: settings.envs,
                volumes: [{ volumeName: config.volume, containerPath: MONITORING_LAYOUT.exporterDirectory, readOnly: true }],
                networksAdvanced: [{ name: this.args.network.name }],
                ...hardened(plan.containers, { memory: container.memory, tmpfs: { "/tmp": "rw,mode=1777" } }),
                healthcheck: healthcheck(httpProbe(container.port)),
                restart: "unless-stopped",
                wait: true,
                waitTimeout: 120,
                stopTimeout: MONITORING_STOP_SECONDS,
                destroyGraceSeconds: MONITORING_STOP_SECONDS,
                labels: containerLabels(this.labels),
            },
            containerOptions(this, { dependsOn: [config.resource, ...after] }),
        );
    }

    /** The counter of PgBouncer's pool errors (render/monitoring.ts pgbouncerErrorsScript): PgBouncer's image, its log volume. */
    private pgbouncerErrors(name: string): docker.Container {
        const { plan } = this.args;
        const counter = plan.monitoring.pgbouncerErrors;
        const files = pulumi.output(pgbouncerErrorsFiles());
        const config = this.serverConfig(name, "exporter", counter, files, this.restartOnChange(files));
        const settings = pgbouncerErrorsSettings(plan);
        return new docker.Container(
            name,
            {
                name: counter.containerName,
                image: this.args.pgbouncerImage,
                entrypoints: settings.entrypoints,
                command: settings.command,
                volumes: [
                    { volumeName: config.volume, containerPath: MONITORING_LAYOUT.pgbouncerErrors.configDirectory, readOnly: true },
                    // Read-write: the counter truncates the log once it has read it (PgBouncer appends).
                    { volumeName: this.args.pgbouncerLog.name, containerPath: MONITORING_LAYOUT.pgbouncerLog.directory },
                    ...(this.args.backupStore ? [{ ...this.args.backupStore, containerPath: MONITORING_LAYOUT.backupStore.directory, readOnly: true }] : []),
                ],
                networksAdvanced: [{ name: this.args.network.name }],
                ...hardened(plan.containers, { memory: counter.memory, tmpfs: { "/tmp": "rw,mode=1777" } }),
                healthcheck: healthcheck(httpProbe(counter.port)),
                restart: "unless-stopped",
                wait: true,
                waitTimeout: 120,
                stopTimeout: MONITORING_STOP_SECONDS,
                destroyGraceSeconds: MONITORING_STOP_SECONDS,
                labels: containerLabels(this.labels),
            },
            containerOptions(this, { dependsOn: [config.resource, this.args.servers.pgbouncer] }),
        );
    }

    private alertmanagerContainer(name: string): docker.Container {
        const { plan } = this.args;
        const alertmanager = plan.monitoring.alertmanager;
        const layout = MONITORING_LAYOUT.alertmanager;
        const files = pulumi.output<VolumeFileSpec[]>([{ name: fileName(layout.configFile), content: renderAlertmanagerConfig(), mode: "0644", owner: MONITORING_OWNERS.nobody }]);
        const config = this.serverConfig(name, "exporter", alertmanager, files, this.restartOnChange(files));
        const image = localImage(`${name}-image`, alertmanager.image, this);
        return new docker.Container(
            name,
            {
                name: alertmanager.containerName,
                image: image.imageId,
                command: [
                    `--config.file=${layout.configFile}`,
                    `--storage.path=${layout.dataDirectory}`,
                    `--web.listen-address=:${alertmanager.port}`,
                    // One Alertmanager: no cluster to gossip with.
                    "--cluster.listen-address=",
                ],
                volumes: [{ volumeName: config.volume, containerPath: layout.configDirectory, readOnly: true }],
                networksAdvanced: [{ name: this.args.network.name }],
                ports: [publishedPort(alertmanager.port, alertmanager.publish)],
                // Silences and the notification log live in memory: a restart forgets them.
                ...hardened(plan.containers, { memory: alertmanager.memory, tmpfs: { "/tmp": "rw,mode=1777", [layout.dataDirectory]: "rw,mode=1777" } }),
                healthcheck: healthcheck(["CMD", "amtool", `--alertmanager.url=http://127.0.0.1:${alertmanager.port}/`, "config", "show"]),
                restart: "unless-stopped",
                wait: true,
                waitTimeout: 120,
                stopTimeout: MONITORING_STOP_SECONDS,
                destroyGraceSeconds: MONITORING_STOP_SECONDS,
                labels: containerLabels(this.labels),
            },
            containerOptions(this, { dependsOn: [config.resource] }),
        );
    }
}

function fileName(path: string): string {
    return path.slice(path.lastIndexOf("/") + 1);
}
