// render/labels.ts: the labels every container and volume carries, and the two exception labels
// the policy pack reads (a public bind address, data not retained on destroy).
import { loadPlan } from "../../config";
import { DATA_SERVICES, LABEL, SERVICES, serviceLabels, volumeLabels } from "../../render/labels";
import { ofType, plain } from "./support/mocks";
import { rawConfig, stackFile } from "./support/config";
import { buildTier } from "./support/tier";

jest.setTimeout(120_000);

const planOf = (values: Record<string, unknown>) => loadPlan(rawConfig(values)).plan;

type Label = { label: string; value: string };
const asMap = (labels: Label[] | undefined) => Object.fromEntries((labels ?? []).map(({ label, value }) => [label, value]));

describe("serviceLabels", () => {
    test("the default stacks get exactly the labels their resources have always had (Docker replaces a resource whose labels change)", () => {
        for (const stack of ["dev", "prod"]) {
            const { plan } = loadPlan(stackFile(stack));
            const prefix = plan.prefix;
            expect(Object.fromEntries(SERVICES.map((service) => [service, serviceLabels(plan, service)]))).toEqual({
                postgres: { "zentoria.stack": prefix, "zentoria.service": "postgres", "zentoria.container": "404" },
                pgbouncer: { "zentoria.stack": prefix, "zentoria.service": "pgbouncer", "zentoria.container": "404" },
                redis: { "zentoria.stack": prefix, "zentoria.service": "redis", "zentoria.container": "410" },
                qdrant: { "zentoria.stack": prefix, "zentoria.service": "qdrant" },
                monitoring: { "zentoria.stack": prefix, "zentoria.service": "monitoring" },
                backup: { "zentoria.stack": prefix, "zentoria.service": "backup" },
            });
        }
    });

    test("a non-loopback bind address (which needs zentoria:allowPublicBind) labels every service with it", () => {
        const plan = planOf({ bindAddress: "0.0.0.0", allowPublicBind: true, tls: { enabled: true } });
        for (const service of SERVICES.filter((candidate) => candidate !== "backup")) {
            expect(serviceLabels(plan, service)[LABEL.publicBind]).toBe("0.0.0.0");
        }
        // The backup sidecar publishes no port.
        expect(serviceLabels(plan, "backup")[LABEL.publicBind]).toBeUndefined();
        const loopback = planOf({ bindAddress: "127.0.0.2", allowPublicBind: true });
        expect(SERVICES.map((service) => serviceLabels(loopback, service)[LABEL.publicBind])).toEqual(SERVICES.map(() => undefined));
    });

    test("retainDataOnDestroy: false labels that data service only", () => {
        const plan = planOf({ redis: { retainDataOnDestroy: false } });
        expect(Object.fromEntries(SERVICES.map((service) => [service, serviceLabels(plan, service)[LABEL.dataRetained]]))).toEqual({
            postgres: undefined,
            pgbouncer: undefined,
            redis: "false",
            qdrant: undefined,
            monitoring: undefined,
        });
        expect(serviceLabels(planOf({ monitoring: { retainDataOnDestroy: false } }), "monitoring")[LABEL.dataRetained]).toBe("false");
    });

    test("volumes keep the identity labels only", () => {
        const plan = planOf({ bindAddress: "0.0.0.0", allowPublicBind: true, tls: { enabled: true }, postgres: { retainDataOnDestroy: false } });
        expect(volumeLabels(serviceLabels(plan, "postgres"))).toEqual({ "zentoria.stack": "zentoria", "zentoria.service": "postgres", "zentoria.container": "404" });
    });
});

describe("the components label their resources with serviceLabels", () => {
    test("containers carry every label, volumes the identity ones, with both exceptions taken", async () => {
        const values = { bindAddress: "0.0.0.0", allowPublicBind: true, tls: { enabled: true }, postgres: { retainDataOnDestroy: false }, qdrant: { retainDataOnDestroy: false } };
        const { plan } = await buildTier(values);
        const containers = ofType("docker:index/container:Container").map((resource) => asMap(plain(resource.inputs).labels));
        // Monitoring is off here: none of its resources (see the next test).
        const servers = SERVICES.filter((service) => service !== "monitoring");
        const expected = servers.map((service) => serviceLabels(plan, service));
        expect(containers.sort(byService)).toEqual(expected.sort(byService));
        expect(containers.find((labels) => labels[LABEL.service] === "postgres")?.[LABEL.dataRetained]).toBe("false");

        const volumes = ofType("docker:index/volume:Volume").map((resource) => asMap(plain(resource.inputs).labels));
        const dataVolumes = volumes.filter((labels) => labels["zentoria.volume"] === undefined);
        const configVolumes = volumes.filter((labels) => labels["zentoria.volume"] === "config");
        // Qdrant has two data volumes: storage and snapshots.
        const expectedData = [...DATA_SERVICES.filter((service) => service !== "monitoring"), "qdrant" as const].map((service) => volumeLabels(serviceLabels(plan, service)));
        expect(dataVolumes.sort(byService)).toEqual(expectedData.sort(byService));
        expect(configVolumes.sort(byService)).toEqual(servers.map((service) => ({ ...volumeLabels(serviceLabels(plan, service)), "zentoria.volume": "config" })).sort(byService));
        expect(volumes.every((labels) => labels[LABEL.publicBind] === undefined && labels[LABEL.dataRetained] === undefined)).toBe(true);
    });

    test("with monitoring on: every monitoring container and volume is labelled as the monitoring service, and monitoring.retainDataOnDestroy labels its containers", async () => {
        const values = { monitoring: { enabled: true, retainDataOnDestroy: false, alertmanager: { enabled: true } } };
        const { plan } = await buildTier(values);
        const labelled = (type: string) =>
            ofType(type)
                .map((resource) => ({ name: resource.name, labels: asMap(plain(resource.inputs).labels) }))
                .filter((resource) => resource.labels[LABEL.service] === "monitoring");
        expect(labelled("docker:index/container:Container").map((resource) => resource.name).sort()).toEqual([
            "zentoria-monitoring-alertmanager",
            "zentoria-monitoring-pgbouncer-errors",
            "zentoria-monitoring-pgbouncer-exporter",
            "zentoria-monitoring-postgres-exporter",
            "zentoria-monitoring-prometheus",
            "zentoria-monitoring-redis-exporter",
        ]);
        for (const container of labelled("docker:index/container:Container")) {
            expect(container.labels).toEqual(serviceLabels(plan, "monitoring"));
        }
        expect(serviceLabels(plan, "monitoring")).toEqual({ "zentoria.stack": "zentoria", "zentoria.service": "monitoring", "zentoria.data-retained": "false" });
        const volumes = labelled("docker:index/volume:Volume");
        expect(volumes.filter((volume) => volume.labels["zentoria.volume"] === undefined).map((volume) => volume.name).sort()).toEqual(["zentoria-monitoring-prometheus-data", "zentoria-pgbouncer-log"]);
        expect(volumes.filter((volume) => volume.labels["zentoria.volume"] === "config")).toHaveLength(6);
        expect(volumes.every((volume) => JSON.stringify(volume.labels) === JSON.stringify({ ...volumeLabels(serviceLabels(plan, "monitoring")), ...(volume.labels["zentoria.volume"] ? { "zentoria.volume": "config" } : {}) }))).toBe(true);
    });
});

function byService(a: Record<string, string>, b: Record<string, string>): number {
    return a[LABEL.service].localeCompare(b[LABEL.service]);
}
