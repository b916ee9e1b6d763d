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
import {
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
    UnknownValueError,
} from "@pulumi/policy";
import { DATA_SERVICES, DataService, StackSettings } from "./stackConfig";

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
    return ip !== undefined && (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip) || ip === "::1");
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

/** What makes a piece of text a credential, or undefined. Never quotes the value. */
export function credentialIn(text: string, settings: StackSettings): string | undefined {
    for (const line of text.split("\n")) {
        const assignment = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
        if (assignment && CREDENTIAL_NAME.test(assignment[1]) && !/_FILE$/i.test(assignment[1]) && assignment[2].trim() !== "") {
            return `${assignment[1]} is set to a literal value`;
        }
    }
    if (URL_WITH_PASSWORD.test(text)) {
        return "a URL carries a password (scheme://user:password@host)";
    }
    for (const [path, credential] of settings.credentials) {
        if (text.includes(credential)) {
            return `it contains the credential configured as ${path}`;
        }
    }
    return undefined;
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

export function zentoriaPolicies(settings: StackSettings): (ResourceValidationPolicy | StackValidationPolicy)[] {
    // Security: a published port on a non-loopback address puts PostgreSQL, Redis or Qdrant on
    // the network. The program's config validation refuses that without the opt-in too; this
    // catches code that publishes a port some other way (no ip, a literal address, host network).
    const noPublicPort = resourcePolicy(
        {
            name: "no-public-port",
            description: "Containers publish ports on loopback addresses only, unless the stack sets zentoria:allowPublicBind: true.",
            enforcementLevel: "mandatory",
        },
        TYPES.container,
        (props, args, report) => {
            if (settings.allowPublicBind) {
                return;
            }
            if (props.networkMode === "host") {
                report(`${args.name} uses the host network: every port it listens on is reachable on every address of the host.`);
            }
            for (const port of (props.ports ?? []) as Array<{ internal: number; external?: number; ip?: string; protocol?: string }>) {
                if (!isLoopback(port.ip)) {
                    const where = port.ip ? `address ${port.ip}` : "every address (no ip given)";
                    report(
                        `${args.name} publishes container port ${port.internal}/${port.protocol ?? "tcp"} as host port ${port.external ?? "(random)"} on ${where}; ` +
                            "publish on 127.0.0.1, or set zentoria:allowPublicBind: true in the stack config.",
                    );
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
    // The engine does not show retainOnDelete to policies, so a volume passes when it is protected,
    // or when it belongs to a data service (label zentoria.service) whose stack config
    // zentoria:<service>.retainDataOnDestroy is true: the program sets retainOnDelete from exactly
    // that key (components/docker.ts dataVolume), which tests/policy/program.test.ts verifies on
    // the registrations of the real program.
    const dataVolumeRetained = resourcePolicy(
        {
            name: "data-volume-retained",
            description: "Data volumes are protected, or retained when the stack is destroyed (zentoria:<service>.retainDataOnDestroy).",
            enforcementLevel: "mandatory",
        },
        TYPES.volume,
        (props, args, report) => {
            if (args.opts.protect) {
                return;
            }
            const labels = (props.labels ?? []) as Array<{ label: string; value: string }>;
            const service = labels.find((label) => label.label === "zentoria.service")?.value;
            if (!DATA_SERVICES.includes(service as DataService)) {
                report(`${args.name} is not protected and has no zentoria.service label of a data service (${DATA_SERVICES.join(", ")}), so its retention cannot be verified; set protect: true.`);
            } else if (!settings.retainData[service as DataService]) {
                report(`${args.name} is deleted with the stack: zentoria:${service}.retainDataOnDestroy is false and the volume is not protected.`);
            }
        },
    );

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
                const reason = entry === UNKNOWN ? undefined : credentialIn(entry, settings);
                if (reason) {
                    report(`${args.name} env #${index} (${String(entry).split("=")[0]}): ${reason}; pass the credential as a file instead.`);
                }
            }
        },
    );

    // Security: the same rule for values computed from a generated secret. Their content is unknown
    // on a first preview and may not look like a credential, but where they come from is known.
    const noGeneratedSecretInEnv: StackValidationPolicy = {
        name: "no-generated-secret-in-env",
        description: "No container environment variable is computed from a generated secret (RandomPassword, RandomBytes).",
        enforcementLevel: "mandatory",
        validateStack: (args: StackValidationArgs, report) => {
            for (const resource of args.resources.filter((candidate) => candidate.type === TYPES.container)) {
                for (const source of resource.propertyDependencies.envs ?? []) {
                    if (SECRET_SOURCES.includes(source.type)) {
                        report(`${resource.name}: envs are computed from ${describeResource(source)}, a generated secret; pass it as a file instead.`, resource.urn);
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
            for (const stack of args.resources.filter((resource) => resource.type === TYPES.stack)) {
                for (const key of Object.keys(stack.props).filter((name) => !SECRET_OUTPUTS.includes(name))) {
                    for (const [path, reason] of credentialsInValue(() => stack.props[key], key, settings)) {
                        report(`stack output ${path}: ${reason}; export it with pulumi.secret() and list it in SECRET_OUTPUTS, or leave it out.`, stack.urn);
                    }
                }
            }
        },
    };

    // The coupling above only works when the CLI hands the stack's config to the pack; fail loudly
    // rather than judge a stack by the defaults.
    const stackConfigVisible: StackValidationPolicy = {
        name: "stack-config-visible",
        description: "The policy pack receives the stack's config (started through policy/bin, see PulumiPolicy.yaml).",
        enforcementLevel: "mandatory",
        validateStack: (_args, report) => {
            if (!settings.stack) {
                report(
                    "the policy pack was started without the stack's context (no PULUMI_STACK / PULUMI_CONFIG), so zentoria:allowPublicBind and " +
                        "zentoria:*.retainDataOnDestroy cannot be read; put policy/bin on PATH so that the CLI starts the pack through it.",
                );
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
        stackConfigVisible,
        healthcheck,
        restartPolicy,
    ];
}

/** Every string leaf of a (possibly partly unknown) value that holds a credential, by path. */
function credentialsInValue(read: () => unknown, path: string, settings: StackSettings): Array<[string, string]> {
    const value = known(read);
    if (typeof value === "string") {
        const reason = credentialIn(value, settings);
        return reason ? [[path, reason]] : [];
    }
    if (value === null || typeof value !== "object") {
        return [];
    }
    const container = value as Record<string, unknown>;
    return Object.keys(container).flatMap((key) => credentialsInValue(() => container[key], Array.isArray(container) ? `${path}[${key}]` : `${path}.${key}`, settings));
}

