// Calls the policies the way @pulumi/policy's analyzer server (node_modules/@pulumi/policy/server.js)
// does: properties deserialized by the framework's own deserializer (secrets unwrapped) and
// wrapped in its unknown-checking proxy. tests/policy imports it from here.
import {
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
    unknownCheckingProxy,
} from "@pulumi/policy";
import { zentoriaPolicies } from "./policies";

/** What the SDK sends for a value that is unknown during preview (a string-typed unknown). */
export const UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/** Pulumi's wire form of a secret value, as the engine hands it to the analyzer. */
export const secret = (value: unknown) => ({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value });

// The framework's deserializer (internal to @pulumi/policy 1.21, pinned exactly in policy/package.json).
const { deserializeProperties } = require("@pulumi/policy/deserialize") as {
    deserializeProperties(struct: { toJavaScript(): Record<string, unknown> }, proxySecrets: boolean): Record<string, any>;
};

/** Wire-form properties (secrets and unknowns as the engine sends them) as a policy sees them. */
export function asPolicyProps(wire: Record<string, unknown>): Record<string, any> {
    return unknownCheckingProxy(deserializeProperties({ toJavaScript: () => wire }, false));
}

export interface Violation {
    policy: string;
    level: string;
    message: string;
    urn?: string;
}

export type AnyPolicy = ResourceValidationPolicy | StackValidationPolicy;

export function policyNamed(name: string): AnyPolicy {
    const found = zentoriaPolicies().find((policy) => policy.name === name);
    if (!found) {
        throw new Error(`no policy ${name}`);
    }
    return found;
}

/**
 * A policy pack config as `--policy-pack-config` takes it: policy name -> an enforcement level, or
 * an object of the policy's own properties (and optionally `enforcementLevel`).
 */
export type PackConfig = Record<string, string | Record<string, unknown>>;

/** What getConfig() returns to a policy for a pack config: its own properties (the schema has no defaults here). */
function policyConfig(config: PackConfig, policy: string): Record<string, unknown> {
    const entry = config[policy];
    if (entry === undefined || typeof entry === "string") {
        return {};
    }
    const { enforcementLevel: _level, ...properties } = entry;
    return properties;
}

/** The enforcement level a pack config gives a policy. */
function levelOf(policy: AnyPolicy, config: PackConfig): string {
    const entry = config[policy.name];
    if (typeof entry === "string") {
        return entry;
    }
    return (entry?.enforcementLevel as string | undefined) ?? policy.enforcementLevel ?? "advisory";
}

const DEFAULT_OPTIONS: PolicyResourceOptions = {
    protect: false,
    ignoreChanges: [],
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: [],
};

export function urnOf(type: string, name: string, stack = "dev"): string {
    return `urn:pulumi:${stack}::zentoria::${type}::${name}`;
}

export interface ResourceInput {
    type: string;
    name: string;
    /** Wire-form properties: plain values, `secret(...)`, UNKNOWN_STRING. */
    props: Record<string, unknown>;
    opts?: Partial<PolicyResourceOptions>;
    urn?: string;
    /** Property name -> the resources it was computed from (stack policies only). */
    propertyDependencies?: Record<string, PolicyResource[]>;
}

function resourceArgs(input: ResourceInput, config: Record<string, unknown> = {}): ResourceValidationArgs {
    const props = asPolicyProps(input.props);
    return {
        type: input.type,
        name: input.name,
        urn: input.urn ?? urnOf(input.type, input.name),
        props,
        opts: { ...DEFAULT_OPTIONS, ...input.opts },
        stackTags: new Map(),
        isType: () => false,
        asType: () => undefined,
        getConfig: <T extends object>() => config as T,
        notApplicable: (reason?: string): never => {
            throw new Error(`not applicable: ${reason}`);
        },
    };
}

export function policyResource(input: ResourceInput): PolicyResource {
    const args = resourceArgs(input);
    return {
        type: args.type,
        name: args.name,
        urn: args.urn,
        props: args.props,
        opts: args.opts,
        dependencies: [],
        propertyDependencies: input.propertyDependencies ?? {},
        isType: () => false,
        asType: () => undefined,
    };
}

/**
 * Runs one policy over resources (resource policies per resource, stack policies once) with a
 * pack config, as the engine does, and collects its violations. A disabled policy does not run.
 */
export async function run(policy: AnyPolicy, resources: ResourceInput[], config: PackConfig = {}): Promise<Violation[]> {
    const violations: Violation[] = [];
    const level = levelOf(policy, config);
    if (level === "disabled") {
        return violations;
    }
    const ownConfig = policyConfig(config, policy.name);
    const report = (urn?: string) => (message: string, reportedUrn?: string) => violations.push({ policy: policy.name, level, message, urn: reportedUrn ?? urn });
    if ("validateStack" in policy) {
        const args: StackValidationArgs = {
            resources: resources.map(policyResource),
            stackTags: new Map(),
            getConfig: <T extends object>() => ownConfig as T,
            notApplicable: (reason?: string): never => {
                throw new Error(`not applicable: ${reason}`);
            },
        };
        await policy.validateStack(args, report());
        return violations;
    }
    for (const input of resources) {
        const args = resourceArgs(input, ownConfig);
        const validations = Array.isArray(policy.validateResource) ? policy.validateResource : policy.validateResource ? [policy.validateResource] : [];
        for (const validate of validations) {
            await validate(args, report(args.urn));
        }
    }
    return violations;
}

/** Every policy of the pack over the same resources, with a pack config. */
export async function runAll(resources: ResourceInput[], config: PackConfig = {}): Promise<Violation[]> {
    const all: Violation[] = [];
    for (const policy of zentoriaPolicies()) {
        all.push(...(await run(policy, resources, config)));
    }
    return all;
}

export const messages = (violations: Violation[]) => violations.map((violation) => violation.message);
