// Every policy of policy/ over what the real program (index.ts) registers under Pulumi mocks, for
// the dev and prod stack files: the registrations are taken from the mock monitor in wire form
// (secrets, options and property dependencies as the engine receives them) and handed to the
// policies as the engine would. This proves the program complies; it also checks the two facts
// the pack cannot see itself (retainOnDelete, and which outputs are secret), and that the stack's
// exceptions reach the pack through the program's labels, never through the stack's config.
import * as pulumi from "@pulumi/pulumi";
import { PackConfig, policyResource, ResourceInput, runAll, secret, urnOf, Violation } from "../../policy/harness";
import { DATA_SERVICES, LABEL, SECRET_OUTPUTS, stackCredentials, TYPES, zentoriaPolicies } from "../../policy/policies";
import { CONFIG_VOLUME, DataService } from "../../render/labels";
import { installMocks, outputValue, settle } from "../unit/support/mocks";
import { loadProgram, pulumiConfigMap, stackConfigValues } from "../unit/support/program";

interface Registration {
    type: string;
    name: string;
    urn?: string;
    wire: Record<string, unknown>;
    protect: boolean;
    retainOnDelete: boolean;
    /** Property -> URNs it was computed from. */
    dependencies: Record<string, string[]>;
}

// The parts of the SDK's RegisterResourceRequest (resource_pb) read here.
interface RegisterResourceRequest {
    getType(): string;
    getName(): string;
    getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
    getProtect(): boolean;
    getRetainondelete(): boolean;
    getPropertydependenciesMap(): { forEach(callback: (value: { getUrnsList(): string[] }, key: string) => void): void };
}
type Callback = (error: unknown, response?: { getUrn(): string }) => void;
interface MockMonitor {
    registerResource(request: RegisterResourceRequest, callback: Callback): Promise<void>;
}

jest.setTimeout(180_000);

/** Runs index.ts under mocks with a stack's config, recording every registration. */
async function register(config: Record<string, unknown>, secretKeys: string[] = []): Promise<{ registrations: Registration[]; exports: Record<string, unknown> }> {
    await installMocks("zentoria", "test");
    const monitor = (pulumi.runtime as unknown as { getMonitor(): MockMonitor }).getMonitor();
    const registrations: Registration[] = [];
    const original = monitor.registerResource.bind(monitor);
    monitor.registerResource = (request, callback) => {
        const dependencies: Record<string, string[]> = {};
        request.getPropertydependenciesMap().forEach((value, key) => (dependencies[key] = value.getUrnsList()));
        const registration: Registration = {
            type: request.getType(),
            name: request.getName(),
            wire: request.getObject()?.toJavaScript() ?? {},
            protect: request.getProtect(),
            retainOnDelete: request.getRetainondelete(),
            dependencies,
        };
        registrations.push(registration);
        return original(request, (error, response) => {
            registration.urn = response?.getUrn();
            callback(error, response);
        });
    };
    pulumi.runtime.setAllConfig(pulumiConfigMap(config), secretKeys);
    // Beside a stack file, as the CLI runs it: the program reads which credentials are encrypted there.
    const programExports = loadProgram(config, secretKeys);
    await settle();
    return { registrations, exports: programExports };
}

/** An exported value in wire form: Outputs resolved, secret ones wrapped as the engine sends them. */
async function wire(value: unknown): Promise<unknown> {
    if (pulumi.Output.isInstance(value)) {
        const resolved = await wire(await outputValue(value));
        return (await pulumi.isSecret(value)) ? secret(resolved) : resolved;
    }
    if (Array.isArray(value)) {
        return Promise.all(value.map(wire));
    }
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(await Promise.all(Object.entries(value).map(async ([key, child]) => [key, await wire(child)])));
    }
    return value;
}

/** The registrations (and the stack's outputs) as the policies get them. */
async function policyInputs(registrations: Registration[], exports: Record<string, unknown>, stack: string): Promise<ResourceInput[]> {
    const inputs: ResourceInput[] = registrations.map((registration) => ({
        type: registration.type,
        name: registration.name,
        urn: registration.urn,
        props: registration.wire,
        opts: { protect: registration.protect },
    }));
    const byUrn = new Map(inputs.map((input) => [input.urn, policyResource(input)]));
    registrations.forEach((registration, index) => {
        inputs[index].propertyDependencies = Object.fromEntries(
            Object.entries(registration.dependencies).map(([key, urns]) => [key, urns.flatMap((urn) => byUrn.get(urn) ?? [])]),
        );
    });
    const outputs = (await wire(Object.fromEntries(Object.entries(exports).filter(([, value]) => value !== undefined)))) as Record<string, unknown>;
    inputs.push({ type: TYPES.stack, name: `zentoria-${stack}`, urn: urnOf(TYPES.stack, `zentoria-${stack}`), props: outputs });
    return inputs;
}

const labelOf = (registration: Registration, label: string) =>
    ((registration.wire.labels ?? []) as Array<{ label: string; value: string }>).find((entry) => entry.label === label)?.value;
const serviceOf = (registration: Registration) => labelOf(registration, LABEL.service) as DataService;

/** The registrations with every label of one name removed, as if the program had not set it. */
function withoutLabel(inputs: ResourceInput[], label: string): ResourceInput[] {
    return inputs.map((input) => {
        const labels = input.props.labels as Array<{ label: string; value: string }> | undefined;
        return labels ? { ...input, props: { ...input.props, labels: labels.filter((entry) => entry.label !== label) } } : input;
    });
}

const summary = (violations: Violation[]) => violations.map((violation) => `[${violation.level}] ${violation.policy}: ${violation.message}`);

let warn: jest.SpyInstance;
beforeAll(() => {
    // The program's own SDK copy logs config warnings to the console under mocks.
    warn = jest.spyOn(console, "warn").mockImplementation(() => undefined);
});
afterAll(() => warn.mockRestore());

describe.each(["dev", "prod"])("the %s stack", (stack) => {
    const config = stackConfigValues(stack);
    let registrations: Registration[];
    let exports: Record<string, unknown>;
    let violations: Violation[];

    beforeAll(async () => {
        ({ registrations, exports } = await register(config));
        violations = await runAll(await policyInputs(registrations, exports, stack));
    });

    test("complies with every policy, mandatory and advisory", () => {
        expect(summary(violations)).toEqual([]);
    });

    // Prod runs the monitoring part (Pulumi.prod.yaml): Prometheus, three exporters and the pool-error counter.
    const monitoring = stack === "prod";

    test("gives every policy something to check", () => {
        const count = (type: string) => registrations.filter((registration) => registration.type === type).length;
        // The four servers and the backup sidecar, and with monitoring Prometheus, three exporters and the pool-error counter.
        expect(count(TYPES.container)).toBe(monitoring ? 10 : 5);
        // A data volume per data service (two for Qdrant: storage and snapshots; the backup volume; two for
        // monitoring: Prometheus' data and PgBouncer's log), a config volume per container.
        expect(count(TYPES.volume)).toBe(monitoring ? 17 : 10);
        // The counter runs in PgBouncer's image: no image of its own.
        expect(count(TYPES.remoteImage)).toBe(monitoring ? 9 : 5);
        expect(registrations.filter((registration) => registration.type === TYPES.role && registration.wire.login === true).length).toBeGreaterThanOrEqual(4);
        // The config files are computed from generated secrets, the container's envs are not: the dependency data is real.
        const postgresFiles = registrations.find((registration) => registration.name === "zentoria-postgres-config");
        expect(postgresFiles?.dependencies.files?.length).toBeGreaterThan(0);
        const postgres = registrations.find((registration) => registration.type === TYPES.container && registration.name === "zentoria-postgres");
        expect(postgres?.dependencies.envs ?? []).toEqual([]);
        expect(zentoriaPolicies()).toHaveLength(9);
    });

    test("retains each data volume, and no container says otherwise (what data-volume-retained relies on)", () => {
        const volumes = registrations.filter((registration) => registration.type === TYPES.volume && labelOf(registration, LABEL.volume) !== CONFIG_VOLUME);
        const services = monitoring ? [...DATA_SERVICES, "qdrant", "monitoring"] : [...DATA_SERVICES.filter((service) => service !== "monitoring"), "qdrant"];
        expect(volumes.map(serviceOf).sort()).toEqual(services.sort());
        expect(volumes.map((volume) => [volume.name, volume.retainOnDelete])).toEqual(volumes.map((volume) => [volume.name, true]));
        const containers = registrations.filter((registration) => registration.type === TYPES.container);
        expect(containers.map((container) => labelOf(container, LABEL.dataRetained))).toEqual(containers.map(() => undefined));
    });

    test("exports the outputs that carry credentials as secrets (what no-plaintext-credential-output relies on)", async () => {
        for (const name of SECRET_OUTPUTS) {
            expect({ name, secret: await pulumi.isSecret(exports[name] as pulumi.Output<unknown>) }).toEqual({ name, secret: true });
        }
    });
});

describe("the stack's exceptions reach the policies through the program's labels", () => {
    const dev = stackConfigValues("dev");

    /** For each data volume: its retainOnDelete, and what its service's container declares. */
    function retention(registrations: Registration[]): Record<string, { retainOnDelete: boolean; label?: string }> {
        const containers = registrations.filter((registration) => registration.type === TYPES.container);
        return Object.fromEntries(
            registrations
                .filter((registration) => registration.type === TYPES.volume && labelOf(registration, LABEL.volume) !== CONFIG_VOLUME)
                .map((volume) => {
                    const owner = containers.find((container) => serviceOf(container) === serviceOf(volume));
                    return [serviceOf(volume), { retainOnDelete: volume.retainOnDelete, label: owner && labelOf(owner, LABEL.dataRetained) }];
                }),
        );
    }

    test("zentoria:redis.retainDataOnDestroy: false drops the volume's retainOnDelete and labels its container; data-volume-retained fails unless the policy config names redis", async () => {
        const config = { ...dev, "zentoria:redis": { retainDataOnDestroy: false } };
        const { registrations, exports } = await register(config);
        expect(retention(registrations)).toEqual({
            postgres: { retainOnDelete: true, label: undefined },
            redis: { retainOnDelete: false, label: "false" },
            qdrant: { retainOnDelete: true, label: undefined },
            backup: { retainOnDelete: true, label: undefined },
        });
        const inputs = await policyInputs(registrations, exports, "dev");
        expect(summary(await runAll(inputs))).toEqual([
            '[mandatory] data-volume-retained: zentoria-redis-data is deleted with the stack: zentoria:redis.retainDataOnDestroy is false and the volume is not protected. If that is intended, say so in this stack\'s policy config: {"data-volume-retained": {"notRetainedServices": ["redis"]}}.',
        ]);
        const waiver: PackConfig = { "data-volume-retained": { notRetainedServices: ["redis"] } };
        expect(summary(await runAll(inputs, waiver))).toEqual([]);
    });

    test("zentoria:bindAddress 0.0.0.0 with zentoria:allowPublicBind: true labels every container and passes; without the labels every port fails", async () => {
        const config = { ...dev, "zentoria:bindAddress": "0.0.0.0", "zentoria:allowPublicBind": true, "zentoria:tls": { enabled: true } };
        const { registrations, exports } = await register(config);
        // Every container that publishes a port (the backup sidecar publishes none).
        const containers = registrations.filter((registration) => registration.type === TYPES.container && serviceOf(registration) !== "backup");
        expect(containers.map((container) => labelOf(container, LABEL.publicBind))).toEqual(["0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0"]);
        const inputs = await policyInputs(registrations, exports, "dev");
        expect(summary(await runAll(inputs))).toEqual([]);

        const unlabelled = await runAll(withoutLabel(inputs, LABEL.publicBind));
        expect(unlabelled.map((violation) => violation.policy)).toEqual(Array(5).fill("no-public-port"));
        expect(unlabelled.every((violation) => violation.level === "mandatory" && / on address 0\.0\.0\.0; /.test(violation.message))).toBe(true);
    });

    test("credentials given in zentoria:credentials are known to the pack from the stack's secret outputs, not from its config", async () => {
        const given = { postgres: { zentoria_app: "Given-App-Password-123" }, qdrantApiKey: "Given-Qdrant-Key-456" };
        const config = { ...dev, "zentoria:credentials": given };
        const { registrations, exports } = await register(config, ["zentoria:credentials"]);
        const inputs = await policyInputs(registrations, exports, "dev");
        const known = stackCredentials(inputs.map(policyResource));
        expect(known.has(given.postgres.zentoria_app)).toBe(true);
        expect(known.has(given.qdrantApiKey)).toBe(true);
        expect(summary(await runAll(inputs))).toEqual([]);

        // A container that passes a given credential in an env var, under a name that does not look like one.
        const target = inputs.findIndex((input) => input.type === TYPES.container && input.name === "zentoria-pgbouncer");
        const leaky = inputs.map((input, index) => (index === target ? { ...input, props: { ...input.props, envs: [`APP_SETTING=${given.qdrantApiKey}`] } } : input));
        expect(summary(await runAll(leaky))).toEqual([
            "[mandatory] no-generated-secret-in-env: zentoria-pgbouncer env #0 (APP_SETTING): it contains the stack's credential handed out in connectionStrings.qdrant.apiKey; pass it as a file instead.",
        ]);
    });
});
