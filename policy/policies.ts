// The rules of the Zentoria data tier, checked on every `pulumi preview` / `pulumi up` that is
// run with `--policy-pack policy`.
//
// Enforcement levels, as a reviewer wants them:
//   mandatory  — a violation exposes data or a credential, or can lose data: the preview fails and
//                the change cannot be deployed until it is fixed (or the policy is explicitly
//                disabled for a stack with --policy-pack-config, which is itself visible in review).
//   advisory   — operational hygiene: shown in the preview and the PR comment as a warning for the
//                reviewer to judge, because there are legitimate exceptions (a one-shot job
//                container needs neither a healthcheck nor a restart policy).
//
// What the engine shows a policy (verified against CLI 3.248 and @pulumi/policy 1.21):
//   - resource policies get the resource's inputs (camelCase names) after the provider's check, so
//     with its defaults filled in (a port without ip arrives as ip "0.0.0.0", no restart as "no"),
//     and its options: protect, ignoreChanges, deleteBeforeReplace, aliases, customTimeouts,
//     additionalSecretOutputs, parent. NOT retainOnDelete: the analyzer protocol has no field for it.
//   - secret values arrive decrypted and unwrapped: a policy cannot tell a secret from a plain
//     value, so credentials are recognised by their shape, by the config they came from, or by
//     the resource they were computed from.
//   - during a preview a value computed from another resource's output that does not exist yet is
//     unknown; reading it throws UnknownValueError, which the framework turns into an advisory
//     "can't run policy during preview". `known()` below reads such values without aborting.
//   - stack policies see every resource's outputs, the stack's exported outputs as the
//     properties of the `pulumi:pulumi:Stack` resource, and each resource's propertyDependencies.
//     They run at the end: they fail a preview, but on `pulumi up` only after the changes were
//     applied, which is why every pull request is previewed with this pack.
//   - NOT the stack's config: a `runtime: nodejs` pack gets no PULUMI_CONFIG, and @pulumi/policy
//     ignores the config the engine sends with ConfigureStack. What depends on the stack is read
//     off the resources instead: the labels the program sets from its plan (render/labels.ts),
//     the credentials the stack hands out in its secret outputs; and from the pack's own policy
//     config (`--policy-pack-config`), which is where a reviewed exception for one stack goes.
import {
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
    UnknownValueError,
} from "@pulumi/policy";
import { DATA_SERVICES, DataService, isLoopbackAddress, LABEL } from "../render/labels";

export { DATA_SERVICES, LABEL };

export const TYPES = {
    container: "docker:index/container:Container",
    volume: "docker:index/volume:Volume",
    remoteImage: "docker:index/remoteImage:RemoteImage",
    role: "postgresql:index/role:Role",
    stack: "pulumi:pulumi:Stack",
} as const;

/** Resources whose outputs are generated secrets: a value computed from them is a credential. */
export const SECRET_SOURCES = ["random:index/randomPassword:RandomPassword", "random:index/randomBytes:RandomBytes"];

/**
 * Stack outputs that carry credentials on purpose. The program exports them as secrets (Pulumi
 * encrypts them in state and masks them in the CLI); the pack cannot see that marking, so
 * tests/policy/program.test.ts checks that each of them is a secret Output. Any other output
 * holding a credential is a violation.
 */
export const SECRET_OUTPUTS = ["connectionStrings", "hostConnectionStrings", "env"];

const UNKNOWN = Symbol("unknown during preview");

/** Reads a value that may be unknown during preview; UNKNOWN instead of throwing. */
export function known<T>(read: () => T): T | typeof UNKNOWN {
    try {
        return read();
    } catch (error) {
        if (error instanceof UnknownValueError) {
            return UNKNOWN;
        }
        throw error;
    }
}

export function isLoopback(ip: string | undefined): boolean {
    return ip !== undefined && isLoopbackAddress(ip);
}

/** A Docker resource's labels (`[{ label, value }]`) as a map; empty when unknown or unset. */
export function labelsOf(props: Record<string, any>): Map<string, string> {
    const labels = known(() => (props.labels ?? []) as Array<{ label: string; value: string }>);
    if (labels === UNKNOWN || !Array.isArray(labels)) {
        return new Map();
    }
    return new Map(labels.map((entry) => [String(entry.label), String(entry.value)]));
}

/**
 * Why an image reference is not pinned, or undefined when it is: a digest, or a tag other than
 * "latest" (the rule of config/schema.ts). An image ID (sha256:<hex>) passes as well.
 */
export function unpinnedReason(ref: string): string | undefined {
    if (/@sha256:[0-9a-f]{64}$/.test(ref) || /^sha256:[0-9a-f]{64}$/.test(ref)) {
        return undefined;
    }
    const tag = /:([\w][\w.-]{0,127})$/.exec(ref.split("/").pop() ?? "")?.[1];
    if (tag === undefined) {
        return `"${ref}" has no tag, so Docker takes "latest"`;
    }
    return tag === "latest" ? `"${ref}" uses the mutable tag "latest"` : undefined;
}

// Names of variables that hold a credential; *_FILE variables hold a path to one instead.
const CREDENTIAL_NAME = /(^|_)(PASSWORD|PASSWD|PASS|PASSPHRASE|SECRET|TOKEN|KEY|APIKEY|CREDENTIALS?)(_|$)/i;
// scheme://user:password@host
const URL_WITH_PASSWORD = /\b[a-z][a-z0-9+.-]*:\/\/[^\s/@:]*:[^\s/@]+@/i;

// The same in the camelCase keys of an output object (apiKey, readOnlyApiKey, adminPassword).
const CREDENTIAL_KEY = /(password|passwd|passphrase|secret|token|key|credentials?)$/i;
// Shorter values are not taken for a credential: the config check wants 12 characters or more
// for a given one, and generated ones have 32.
const MIN_CREDENTIAL_LENGTH = 12;

/** Credential value -> where the stack hands it out (an output path). */
export type KnownCredentials = ReadonlyMap<string, string>;

function assignments(text: string): Array<[string, string]> {
    const found: Array<[string, string]> = [];
    for (const line of text.split("\n")) {
        const assignment = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
        if (assignment) {
            found.push([assignment[1], assignment[2].trim()]);
        }
    }
    return found;
}

/**
 * What makes a piece of text a credential, or undefined. Never quotes the value. Its shape
 * (a credential-named variable with a value, a URL with a password), or, given the stack's own
 * credentials, that it contains one of them.
 */
export function credentialIn(text: string, credentials: KnownCredentials = new Map()): string | undefined {
    for (const [name, value] of assignments(text)) {
        if (CREDENTIAL_NAME.test(name) && !/_FILE$/i.test(name) && value !== "") {
            return `${name} is set to a literal value`;
        }
    }
    if (URL_WITH_PASSWORD.test(text)) {
        return "a URL carries a password (scheme://user:password@host)";
    }
    return knownCredentialIn(text, credentials);
}

/** Whether text contains one of the stack's own credentials; never quotes it. */
export function knownCredentialIn(text: string, credentials: KnownCredentials): string | undefined {
    for (const [credential, path] of credentials) {
        if (text.includes(credential)) {
            return `it contains the stack's credential handed out in ${path}`;
        }
    }
    return undefined;
}

/**
 * The stack's credentials, generated or given in its config, harvested from what the program
 * hands out in its secret outputs (SECRET_OUTPUTS): every password in a URL, every value of a
 * credential-named variable (.env text) or key (apiKey). The pack sees secrets decrypted, so it
 * learns them here without reading the stack's config. Values unknown during a preview (a first
 * deployment's generated passwords) are not there yet.
 */
export function stackCredentials(resources: ReadonlyArray<{ type: string; props: Record<string, any> }>): KnownCredentials {
    const found = new Map<string, string>();
    const add = (value: string, path: string) => {
        if (value.length >= MIN_CREDENTIAL_LENGTH && !found.has(value)) {
            found.set(value, path);
        }
    };
    const visit = (read: () => unknown, path: string, key: string) => {
        const value = known(read);
        if (typeof value === "string") {
            if (CREDENTIAL_KEY.test(key)) {
                add(value, path);
            }
            for (const match of value.matchAll(/\b[a-z][a-z0-9+.-]*:\/\/[^\s/@:]*:([^\s/@]+)@/gi)) {
                add(match[1], path);
                try {
                    add(decodeURIComponent(match[1]), path);
                } catch {
                    // not percent-encoded after all
                }
            }
            for (const [name, assigned] of assignments(value)) {
                if (CREDENTIAL_NAME.test(name) && !/_FILE$/i.test(name)) {
                    add(assigned, path);
                }
            }
        } else if (value !== null && typeof value === "object") {
            const container = value as Record<string, unknown>;
            for (const child of Object.keys(container)) {
                visit(() => container[child], Array.isArray(container) ? `${path}[${child}]` : `${path}.${child}`, child);
            }
        }
    };
    for (const stack of resources.filter((resource) => resource.type === TYPES.stack)) {
        for (const output of SECRET_OUTPUTS) {
            visit(() => stack.props[output], output, output);
        }
    }
    return found;
}

function describeResource(resource: { type: string; name: string }): string {
    return `${resource.type.split(":").pop()} ${resource.name}`;
}

function resourcePolicy(
    policy: Omit<ResourceValidationPolicy, "validateResource">,
    type: string,
    validate: (props: Record<string, any>, args: ResourceValidationArgs, report: ReportViolation) => void,
): ResourceValidationPolicy {
    return {
        ...policy,
        validateResource: (args, report) => {
            if (args.type === type) {
                validate(args.props, args, report);
            }
        },
    };
}

/** The policy config of data-volume-retained (`--policy-pack-config`). */
export interface DataVolumeRetainedConfig {
    /** Data services whose volume this stack deliberately deletes with it (a reviewed exception). */
    notRetainedServices?: string[];
}

export function zentoriaPolicies(): (ResourceValidationPolicy | StackValidationPolicy)[] {
    // Security: a published port on a non-loopback address puts PostgreSQL, Redis or Qdrant on
    // the network. The program's config validation refuses that without zentoria:allowPublicBind,
    // and labels the containers it then publishes with the address (zentoria.public-bind); this
    // catches every other way of publishing a port (no ip, another address, the host network).
    const noPublicPort = resourcePolicy(
        {
            name: "no-public-port",
            description: `Containers publish ports on loopback addresses only, or on the address of their ${LABEL.publicBind} label (set by the program when the stack sets zentoria:allowPublicBind: true).`,
            enforcementLevel: "mandatory",
        },
        TYPES.container,
        (props, args, report) => {
            const allowed = (labelsOf(props).get(LABEL.publicBind) ?? "").split(",").filter((address) => address !== "");
            const hint = `publish on 127.0.0.1, or set zentoria:bindAddress with zentoria:allowPublicBind: true in the stack config (the program then labels the container ${LABEL.publicBind}=<address>).`;
            if (props.networkMode === "host" && !allowed.some((address) => address === "0.0.0.0" || address === "::")) {
                report(`${args.name} uses the host network: every port it listens on is reachable on every address of the host.`);
            }
            for (const port of (props.ports ?? []) as Array<{ internal: number; external?: number; ip?: string; protocol?: string }>) {
                if (!isLoopback(port.ip) && !(port.ip !== undefined && allowed.includes(port.ip))) {
                    const where = port.ip ? `address ${port.ip}` : "every address (no ip given)";
                    report(`${args.name} publishes container port ${port.internal}/${port.protocol ?? "tcp"} as host port ${port.external ?? "(random)"} on ${where}; ${hint}`);
                }
            }
        },
    );

    // Hygiene: without a healthcheck `wait: true` only waits for "running", and Docker cannot
    // report a wedged server; a one-shot container may legitimately have none.
    const healthcheck = resourcePolicy(
        {
            name: "container-healthcheck",
            description: "Containers have a healthcheck with a test command.",
            enforcementLevel: "advisory",
        },
        TYPES.container,
        (props, args, report) => {
            const tests = (props.healthcheck?.tests ?? []) as string[];
            if (tests.length === 0 || tests[0] === "NONE") {
                report(`${args.name} has no healthcheck test.`);
            }
        },
    );

    // Hygiene: without a restart policy a server stays down after a crash or a Docker restart.
    const restartPolicy = resourcePolicy(
        {
            name: "container-restart-policy",
            description: 'Containers have a restart policy other than "no".',
            enforcementLevel: "advisory",
        },
        TYPES.container,
        (props, args, report) => {
            const restart = props.restart as string | undefined;
            if (!restart || restart === "no") {
                report(`${args.name} has restart policy "${restart ?? ""}" (Docker's default "no"): it stays down after a crash or a reboot.`);
            }
        },
    );

    // Data loss: a volume that is deleted on destroy (or on a replacement) takes the database with it.
    // The engine does not show retainOnDelete to policies. A volume passes when it is protected, or
    // when it belongs to a data service (its zentoria.service label) whose container in the same
    // stack does not declare zentoria.data-retained=false: the program sets that label and the
    // volume's retainOnDelete from the same key, zentoria:<service>.retainDataOnDestroy
    // (render/labels.ts, components/docker.ts dataVolume), which tests/policy/program.test.ts
    // verifies on the registrations of the real program. The label sits on the container because
    // Docker replaces a volume whose labels change. A stack that means to delete a service's data
    // says so in its policy config: {"data-volume-retained": {"notRetainedServices": ["redis"]}}.
    const dataVolumeRetained: StackValidationPolicy = {
        name: "data-volume-retained",
        description: "Data volumes are protected, or retained when the stack is destroyed (zentoria:<service>.retainDataOnDestroy), unless the policy config names the service in notRetainedServices.",
        enforcementLevel: "mandatory",
        configSchema: {
            properties: {
                notRetainedServices: {
                    type: "array",
                    items: { type: "string", enum: [...DATA_SERVICES] },
                    description: "Data services whose volume this stack deliberately deletes with it.",
                },
            },
        },
        validateStack: (args, report) => {
            const waived = new Set(args.getConfig<DataVolumeRetainedConfig>().notRetainedServices ?? []);
            const containers = args.resources.filter((resource) => resource.type === TYPES.container).map((resource) => labelsOf(resource.props));
            for (const volume of args.resources.filter((resource) => resource.type === TYPES.volume)) {
                if (volume.opts.protect) {
                    continue;
                }
                const labels = labelsOf(volume.props);
                const service = labels.get(LABEL.service);
                const stack = labels.get(LABEL.stack);
                if (!DATA_SERVICES.includes(service as DataService)) {
                    report(
                        `${volume.name} is not protected and has no ${LABEL.service} label of a data service (${DATA_SERVICES.join(", ")}), so its retention cannot be verified; set protect: true.`,
                        volume.urn,
                    );
                    continue;
                }
                const owners = containers.filter((container) => container.get(LABEL.service) === service && container.get(LABEL.stack) === stack);
                if (owners.length === 0) {
                    report(`${volume.name} is not protected and no ${service} container of stack ${stack} is there to declare its retention; set protect: true.`, volume.urn);
                } else if (owners.some((container) => container.get(LABEL.dataRetained) === "false") && !waived.has(service!)) {
                    report(
                        `${volume.name} is deleted with the stack: zentoria:${service}.retainDataOnDestroy is false and the volume is not protected. ` +
                            `If that is intended, say so in this stack's policy config: {"data-volume-retained": {"notRetainedServices": ["${service}"]}}.`,
                        volume.urn,
                    );
                }
            }
        },
    };

    // Security and data: a mutable tag pulls whatever was pushed last — unreviewed code, and for
    // PostgreSQL possibly a major version that cannot read the existing data directory.
    const imagePinned: ResourceValidationPolicy = {
        name: "image-pinned",
        description: 'Images are pinned by a tag other than "latest", or by a digest.',
        enforcementLevel: "mandatory",
        validateResource: (args, report) => {
            if (args.type === TYPES.remoteImage) {
                const reason = unpinnedReason(String(args.props.name));
                if (reason) {
                    report(`${args.name}: ${reason}.`);
                }
            } else if (args.type === TYPES.container) {
                // Usually a RemoteImage's imageId: unknown until that image exists, and then an
                // immutable image ID; the RemoteImage's own name is checked above.
                const image = known(() => args.props.image as string);
                const reason = image === UNKNOWN ? undefined : unpinnedReason(String(image));
                if (reason) {
                    report(`${args.name}: ${reason}.`);
                }
            }
        },
    };

    // Security: without a CONNECTION LIMIT one leaked credential or runaway client can take every
    // connection PostgreSQL has, for every service; the connection budget assumes a limit per role.
    const roleConnectionLimit = resourcePolicy(
        {
            name: "role-connection-limit",
            description: "Every PostgreSQL login role has a CONNECTION LIMIT (connectionLimit >= 0).",
            enforcementLevel: "mandatory",
        },
        TYPES.role,
        (props, args, report) => {
            if (props.login !== true) {
                return;
            }
            const limit = props.connectionLimit as number | undefined;
            if (limit === undefined || limit < 0) {
                report(`login role ${props.name ?? args.name} has no connection limit (connectionLimit ${limit ?? "unset"}, i.e. unlimited).`);
            }
        },
    );

    // Security: a container's environment is readable by anyone who can `docker inspect` it and
    // is copied into Pulumi state in plain text; credentials go in files (uploads, *_FILE).
    const noCredentialInEnv = resourcePolicy(
        {
            name: "no-credential-in-env",
            description: "No credential in a container's environment variables: pass it as a file.",
            enforcementLevel: "mandatory",
        },
        TYPES.container,
        (props, args, report) => {
            const envs = known(() => (props.envs ?? []) as string[]);
            if (envs === UNKNOWN) {
                return; // computed from another resource: no-generated-secret-in-env looks at where from
            }
            for (let index = 0; index < envs.length; index++) {
                const entry = known(() => envs[index]);
                const reason = entry === UNKNOWN ? undefined : credentialIn(entry);
                if (reason) {
                    report(`${args.name} env #${index} (${String(entry).split("=")[0]}): ${reason}; pass the credential as a file instead.`);
                }
            }
        },
    );

    // Security: the same rule for the stack's own secrets. Where a value comes from is known even
    // when its content is not (a first preview); and a credential given in the stack's config has
    // no shape, but the stack hands it out in its secret outputs, so its value is known.
    const noGeneratedSecretInEnv: StackValidationPolicy = {
        name: "no-generated-secret-in-env",
        description:
            "No container environment variable carries one of the stack's secrets: computed from a generated secret (RandomPassword, RandomBytes), " +
            `or containing a credential the stack hands out in its secret outputs (${SECRET_OUTPUTS.join(", ")}).`,
        enforcementLevel: "mandatory",
        validateStack: (args: StackValidationArgs, report) => {
            const credentials = stackCredentials(args.resources);
            for (const resource of args.resources.filter((candidate) => candidate.type === TYPES.container)) {
                for (const source of resource.propertyDependencies.envs ?? []) {
                    if (SECRET_SOURCES.includes(source.type)) {
                        report(`${resource.name}: envs are computed from ${describeResource(source)}, a generated secret; pass it as a file instead.`, resource.urn);
                    }
                }
                const envs = known(() => (resource.props.envs ?? []) as string[]);
                if (envs === UNKNOWN || credentials.size === 0) {
                    continue;
                }
                for (let index = 0; index < envs.length; index++) {
                    const entry = known(() => envs[index]);
                    const reason = entry === UNKNOWN ? undefined : knownCredentialIn(entry, credentials);
                    if (reason) {
                        report(`${resource.name} env #${index} (${String(entry).split("=")[0]}): ${reason}; pass it as a file instead.`, resource.urn);
                    }
                }
            }
        },
    };

    // Security: stack outputs are readable by everyone with access to the stack; a credential in an
    // output that is not a secret is stored and printed in plain text.
    const noPlaintextCredentialOutput: StackValidationPolicy = {
        name: "no-plaintext-credential-output",
        description: `Stack outputs carry no credential, except the secret outputs ${SECRET_OUTPUTS.join(", ")}.`,
        enforcementLevel: "mandatory",
        validateStack: (args, report) => {
            const credentials = stackCredentials(args.resources);
            for (const stack of args.resources.filter((resource) => resource.type === TYPES.stack)) {
                for (const key of Object.keys(stack.props).filter((name) => !SECRET_OUTPUTS.includes(name))) {
                    for (const [path, reason] of credentialsInValue(() => stack.props[key], key, credentials)) {
                        report(`stack output ${path}: ${reason}; export it with pulumi.secret() and list it in SECRET_OUTPUTS, or leave it out.`, stack.urn);
                    }
                }
            }
        },
    };

    return [
        noPublicPort,
        noCredentialInEnv,
        noGeneratedSecretInEnv,
        noPlaintextCredentialOutput,
        dataVolumeRetained,
        imagePinned,
        roleConnectionLimit,
        healthcheck,
        restartPolicy,
    ];
}

/** Every string leaf of a (possibly partly unknown) value that holds a credential, by path. */
function credentialsInValue(read: () => unknown, path: string, credentials: KnownCredentials): Array<[string, string]> {
    const value = known(read);
    if (typeof value === "string") {
        const reason = credentialIn(value, credentials);
        return reason ? [[path, reason]] : [];
    }
    if (value === null || typeof value !== "object") {
        return [];
    }
    const container = value as Record<string, unknown>;
    return Object.keys(container).flatMap((key) => credentialsInValue(() => container[key], Array.isArray(container) ? `${path}[${key}]` : `${path}.${key}`, credentials));
}
