// Every policy of policy/ over what the real program (index.ts) registers under Pulumi mocks, for
// the dev and prod stack files: the registrations are taken from the mock monitor in wire form
// (secrets, options and property dependencies as the engine receives them) and handed to the
// policies as the engine would. This proves the program complies; it also checks the two facts
// the pack cannot see itself (retainOnDelete, and which outputs are secret).
import * as pulumi from "@pulumi/pulumi";
import { policyResource, ResourceInput, runAll, secret, urnOf, Violation } from "../../policy/harness";
import { SECRET_OUTPUTS, TYPES, zentoriaPolicies } from "../../policy/policies";
import { DATA_SERVICES, DataService, stackSettings, StackSettings } from "../../policy/stackConfig";
import { installMocks, outputValue, settle } from "../unit/support/mocks";
import { pulumiConfigMap, stackConfigValues } from "../unit/support/program";

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

/** Runs index.ts under mocks with a stack's config, recording every registration. */
async function register(config: Record<string, unknown>): Promise<{ registrations: Registration[]; exports: Record<string, unknown> }> {
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
    pulumi.runtime.setAllConfig(pulumiConfigMap(config), []);
    let programExports: Record<string, unknown> = {};
    jest.isolateModules(() => {
        programExports = require("../../index");
    });
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

/** The settings the pack reads when the CLI starts it for this stack config. */
function settingsFor(config: Record<string, unknown>, stack: string): StackSettings {
    return stackSettings({ PULUMI_CONFIG: JSON.stringify(pulumiConfigMap(config)), PULUMI_STACK: stack });
}

const serviceOf = (registration: Registration) =>
    ((registration.wire.labels ?? []) as Array<{ label: string; value: string }>).find((label) => label.label === "zentoria.service")?.value as DataService;

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
        violations = await runAll(settingsFor(config, stack), await policyInputs(registrations, exports, stack));
    });

    test("complies with every policy, mandatory and advisory", () => {
        expect(summary(violations)).toEqual([]);
    });

    test("gives every policy something to check", () => {
        const count = (type: string) => registrations.filter((registration) => registration.type === type).length;
        expect(count(TYPES.container)).toBe(4);
        expect(count(TYPES.volume)).toBe(3);
        expect(count(TYPES.remoteImage)).toBe(4);
        expect(registrations.filter((registration) => registration.type === TYPES.role && registration.wire.login === true).length).toBeGreaterThanOrEqual(4);
        // Uploads are computed from generated secrets, envs are not: the dependency data is real.
        const postgres = registrations.find((registration) => registration.type === TYPES.container && registration.name === "zentoria-postgres");
        expect(postgres?.dependencies.uploads?.length).toBeGreaterThan(0);
        expect(postgres?.dependencies.envs ?? []).toEqual([]);
        expect(zentoriaPolicies(settingsFor(config, stack))).toHaveLength(10);
    });

    test("retains each data volume exactly when its service's retainDataOnDestroy says so (what data-volume-retained relies on)", () => {
        const settings = settingsFor(config, stack);
        const volumes = registrations.filter((registration) => registration.type === TYPES.volume);
        expect(volumes.map(serviceOf).sort()).toEqual([...DATA_SERVICES].sort());
        for (const volume of volumes) {
            expect({ volume: volume.name, retainOnDelete: volume.retainOnDelete }).toEqual({ volume: volume.name, retainOnDelete: settings.retainData[serviceOf(volume)] });
        }
    });

    test("exports the outputs that carry credentials as secrets (what no-plaintext-credential-output relies on)", async () => {
        for (const name of SECRET_OUTPUTS) {
            expect({ name, secret: await pulumi.isSecret(exports[name] as pulumi.Output<unknown>) }).toEqual({ name, secret: true });
        }
    });
});

describe("the stack config reaches the policies", () => {
    const dev = stackConfigValues("dev");

    test("zentoria:redis.retainDataOnDestroy: false makes the program drop retainOnDelete, and data-volume-retained fail", async () => {
        const config = { ...dev, "zentoria:redis": { retainDataOnDestroy: false } };
        const { registrations, exports } = await register(config);
        const redisVolume = registrations.find((registration) => registration.type === TYPES.volume && serviceOf(registration) === "redis");
        expect(redisVolume?.retainOnDelete).toBe(false);
        const violations = await runAll(settingsFor(config, "dev"), await policyInputs(registrations, exports, "dev"));
        expect(summary(violations)).toEqual([
            "[mandatory] data-volume-retained: zentoria-redis-data is deleted with the stack: zentoria:redis.retainDataOnDestroy is false and the volume is not protected.",
        ]);
    });

    test("zentoria:bindAddress 0.0.0.0 passes with zentoria:allowPublicBind: true, and every port fails without it", async () => {
        const config = { ...dev, "zentoria:bindAddress": "0.0.0.0", "zentoria:allowPublicBind": true };
        const { registrations, exports } = await register(config);
        const inputs = await policyInputs(registrations, exports, "dev");
        expect(summary(await runAll(settingsFor(config, "dev"), inputs))).toEqual([]);

        const withoutOptIn = await runAll({ ...settingsFor(config, "dev"), allowPublicBind: false }, inputs);
        expect(withoutOptIn.map((violation) => violation.policy)).toEqual(Array(5).fill("no-public-port"));
        expect(withoutOptIn.every((violation) => violation.level === "mandatory" && / on address 0\.0\.0\.0; /.test(violation.message))).toBe(true);
    });
});
