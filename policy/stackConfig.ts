// What the policies need from the stack's own config (`zentoria:*` in Pulumi.<stack>.yaml).
//
// The Pulumi CLI starts this pack through policy/bin/pulumi-analyzer-policy-zentoria-nodejs
// (PulumiPolicy.yaml names the runtime `zentoria-nodejs`, see there) and hands it the stack's
// config the same way it hands it to a program: the environment variable PULUMI_CONFIG, a
// JSON object of "namespace:key" -> value text, secrets decrypted; PULUMI_STACK names the
// stack. So `zentoria:allowPublicBind: true` in Pulumi.<stack>.yaml (or `pulumi config set`)
// is what the policies see, with no second copy to keep in step.

import { DEFAULT_CONFIG } from "../config/defaults";
import { rawConfigFromPulumi } from "../config/source";
import { mergeOverDefaults } from "../config/validate";

/** The services whose data lives on a named volume, as in the volumes' `zentoria.service` label. */
export const DATA_SERVICES = ["postgres", "redis", "qdrant"] as const;
export type DataService = (typeof DATA_SERVICES)[number];

export interface StackSettings {
    /** The stack the CLI named, or undefined when the pack was started without a stack's context. */
    stack?: string;
    /** zentoria:allowPublicBind (false when unset, as in config/defaults.ts). */
    allowPublicBind: boolean;
    /** zentoria:<service>.retainDataOnDestroy (true when unset, as in config/defaults.ts). */
    retainData: Record<DataService, boolean>;
    /** Every credential given in zentoria:credentials, by config path, to recognise them elsewhere. */
    credentials: ReadonlyMap<string, string>;
}

/** The program's own defaults for the keys above. */
export const DEFAULT_SETTINGS: StackSettings = {
    allowPublicBind: DEFAULT_CONFIG.allowPublicBind,
    retainData: {
        postgres: DEFAULT_CONFIG.postgres.retainDataOnDestroy,
        redis: DEFAULT_CONFIG.redis.retainDataOnDestroy,
        qdrant: DEFAULT_CONFIG.qdrant.retainDataOnDestroy,
    },
    credentials: new Map(),
};

const NAMESPACE = "zentoria";

/**
 * The `zentoria:*` config with the program's defaults merged in, read by the program's own
 * reader (config/source.ts, which also takes the older `zentoria:config:<key>` form).
 */
export function zentoriaConfig(configJson: string | undefined): Record<string, unknown> {
    const all = configJson ? (JSON.parse(configJson) as Record<string, string>) : {};
    const raw = rawConfigFromPulumi(all, () => false, "policy");
    return mergeOverDefaults(DEFAULT_CONFIG, raw.values) as Record<string, unknown>;
}

function asBoolean(value: unknown, key: string, fallback: boolean): boolean {
    if (value === undefined) {
        return fallback;
    }
    if (value === true || value === "true") {
        return true;
    }
    if (value === false || value === "false") {
        return false;
    }
    throw new Error(`stack config ${NAMESPACE}:${key} must be true or false, not ${JSON.stringify(value)}`);
}

function credentialLeaves(value: unknown, path: string, into: Map<string, string>): void {
    if (typeof value === "string" && value.length > 0) {
        into.set(path, value);
    } else if (value !== null && typeof value === "object") {
        for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
            credentialLeaves(child, `${path}.${key}`, into);
        }
    }
}

export function stackSettings(env: NodeJS.ProcessEnv = process.env): StackSettings {
    const config = zentoriaConfig(env.PULUMI_CONFIG);
    const retainData = { ...DEFAULT_SETTINGS.retainData };
    for (const service of DATA_SERVICES) {
        const section = config[service] as { retainDataOnDestroy?: unknown } | undefined;
        retainData[service] = asBoolean(section?.retainDataOnDestroy, `${service}.retainDataOnDestroy`, DEFAULT_SETTINGS.retainData[service]);
    }
    const credentials = new Map<string, string>();
    credentialLeaves(config.credentials, `${NAMESPACE}:credentials`, credentials);
    return {
        stack: env.PULUMI_STACK || undefined,
        allowPublicBind: asBoolean(config.allowPublicBind, "allowPublicBind", DEFAULT_SETTINGS.allowPublicBind),
        retainData,
        credentials,
    };
}
