// The Docker labels of the stack's containers and volumes, derived from the plan: who a
// resource belongs to, and the stack's reviewed exceptions. The policy pack (policy/) reads
// them off the resources, because it sees resources, not the stack's config.
//
// Docker cannot change the labels of an existing container or volume: the docker provider
// replaces the resource instead (labels are ForceNew on both). Hence:
//   - the exception labels are set only when the exception is taken, so the default stacks'
//     resources keep exactly the labels they have always had;
//   - a volume never gets an exception label (volumeLabels): replacing a data volume because
//     a label changed could delete the data. The exceptions sit on the service's container,
//     which the policies find by the same stack and service labels.
import type { StackPlan } from "../config/plan";

export const LABEL = {
    /** The stack's prefix (zentoria:prefix): which deployment the resource belongs to. */
    stack: "zentoria.stack",
    /** postgres, pgbouncer, redis, qdrant, monitoring (Prometheus, its exporters, Alertmanager) or backup. */
    service: "zentoria.service",
    /** The specification's container number (1, 7: 404 for the database, 410 for Redis). */
    container: "zentoria.container",
    /** Set to the bind address when the stack publishes on a non-loopback address (zentoria:allowPublicBind). */
    publicBind: "zentoria.public-bind",
    /** "false" when zentoria:<service>.retainDataOnDestroy is false: the service's volume is deleted with the stack. */
    dataRetained: "zentoria.data-retained",
    /** On volumes: "config" for a server's config volume (rendered files, no data). */
    volume: "zentoria.volume",
} as const;

/** The value of LABEL.volume on a config volume. */
export const CONFIG_VOLUME = "config";

export const SERVICES = ["postgres", "pgbouncer", "redis", "qdrant", "monitoring", "backup"] as const;
export type Service = (typeof SERVICES)[number];
/** The services whose data lives on a named volume (monitoring: Prometheus' time series, PgBouncer's log; backup: the backup volume, README "Backups and restore"). */
export const DATA_SERVICES = ["postgres", "redis", "qdrant", "monitoring", "backup"] as const;
export type DataService = (typeof DATA_SERVICES)[number];

const CONTAINER_NUMBER: Partial<Record<Service, string>> = { postgres: "404", pgbouncer: "404", redis: "410" };

/** The labels that only say what a resource is; they never change for a given stack and service. */
const IDENTITY_LABELS: readonly string[] = [LABEL.stack, LABEL.service, LABEL.container];

export function isLoopbackAddress(address: string): boolean {
    return address === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address);
}

function publishAddresses(plan: StackPlan, service: Service): string[] {
    switch (service) {
        case "postgres":
            return [plan.postgres.publish.address];
        case "pgbouncer":
            return [plan.pgbouncer.publish.address];
        case "redis":
            return [plan.redis.publish.address];
        case "qdrant":
            return [plan.qdrant.publishHttp.address, plan.qdrant.publishGrpc.address];
        case "monitoring":
            return [plan.monitoring.prometheus.publish.address, ...(plan.monitoring.alertmanager.enabled ? [plan.monitoring.alertmanager.publish.address] : [])];
        case "backup":
            return [];
    }
}

function retainsData(plan: StackPlan, service: Service): boolean {
    switch (service) {
        case "postgres":
            return plan.postgres.retainDataOnDestroy;
        case "redis":
            return plan.redis.retainDataOnDestroy;
        case "qdrant":
            return plan.qdrant.retainDataOnDestroy;
        case "monitoring":
            return plan.monitoring.retainDataOnDestroy;
        // The backup volume outlives the stack whatever the data services do: it is how they come back.
        case "pgbouncer":
        case "backup":
            return true;
    }
}

/**
 * Every label of a service's resources. A component passes them to its container
 * (containerLabels) and its volume (dataVolume, which keeps only volumeLabels of them).
 */
export function serviceLabels(plan: StackPlan, service: Service): Record<string, string> {
    const labels: Record<string, string> = { [LABEL.stack]: plan.prefix, [LABEL.service]: service };
    const container = CONTAINER_NUMBER[service];
    if (container) {
        labels[LABEL.container] = container;
    }
    // The config check admits a non-loopback address only with zentoria:allowPublicBind: true.
    const publicAddresses = [...new Set(publishAddresses(plan, service).filter((address) => !isLoopbackAddress(address)))];
    if (publicAddresses.length > 0) {
        labels[LABEL.publicBind] = publicAddresses.join(",");
    }
    if (!retainsData(plan, service)) {
        labels[LABEL.dataRetained] = "false";
    }
    return labels;
}

/** The labels a volume carries: identity only (see the top of this file). */
export function volumeLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
    return Object.fromEntries(Object.entries(labels).filter(([label]) => IDENTITY_LABELS.includes(label)));
}
