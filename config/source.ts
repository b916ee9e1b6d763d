// Where the raw `zentoria:*` values come from: what the Pulumi CLI hands a running program
// (or the policy pack), or a stack file read the way the CLI reads it (config/stackFile.ts,
// for `npm run plan`). Both go through rawConfigFromPulumi, so both produce the same
// RawStackConfig for the same file.
import * as path from "path";
import { CONFIG_NAMESPACE } from "./problems";
import { readStackFile, StackFileConfig } from "./stackFile";

export { ENCRYPTED_PLACEHOLDER, StackFileError } from "./stackFile";

export interface RawStackConfig {
    /** Where the values came from, for messages. */
    source: string;
    /** Top-level keys without the `zentoria:` prefix, values parsed from JSON where they are JSON. */
    values: Readonly<Record<string, unknown>>;
    /** Top-level keys whose value is (or contains) a Pulumi secret. */
    secretKeys: ReadonlySet<string>;
    /** Leaves known to be encrypted, as paths like `credentials.postgres.zentoria_app` (see leafPaths). */
    secretLeaves: ReadonlySet<string>;
    /** Why secretLeaves may miss encrypted leaves, for messages; unset when they are known exactly. */
    secretLeavesUnknown?: string;
}

const PREFIX = `${CONFIG_NAMESPACE}:`;
const LEGACY_PREFIX = `${CONFIG_NAMESPACE}:config:`;

/** Pulumi keeps structured config as JSON text; plain strings stay strings. */
function parseConfigValue(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

/** `zentoria:key` or the older `zentoria:config:key` -> `key`; undefined for other namespaces. */
export function projectKey(fullKey: string): string | undefined {
    if (fullKey.startsWith(LEGACY_PREFIX)) {
        return fullKey.slice(LEGACY_PREFIX.length);
    }
    return fullKey.startsWith(PREFIX) ? fullKey.slice(PREFIX.length) : undefined;
}

export function childPath(parent: string, key: string | number): string {
    return typeof key === "number" ? `${parent}[${key}]` : `${parent}.${key}`;
}

/** The path of every leaf (anything but a non-empty map or list) of `value`. */
export function leafPaths(value: unknown, at: string): string[] {
    if (Array.isArray(value) && value.length > 0) {
        return value.flatMap((item, index) => leafPaths(item, childPath(at, index)));
    }
    if (value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length > 0) {
        return Object.entries(value).flatMap(([key, child]) => leafPaths(child, childPath(at, key)));
    }
    return [at];
}

/**
 * The program's view of Pulumi's config map (`pulumi.runtime.allConfig()`, or PULUMI_CONFIG
 * for the policy pack). The CLI says which top-level keys hold secrets, not which leaves:
 * `secretLeaves` (full `zentoria:` paths, from the stack file) says that when it is known.
 */
export function rawConfigFromPulumi(
    allConfig: Record<string, string>,
    isSecret: (key: string) => boolean,
    stack: string,
    secretLeaves?: { leaves: readonly string[] } | { unknown: string },
): RawStackConfig {
    const values: Record<string, unknown> = {};
    const secretKeys = new Set<string>();
    for (const [fullKey, text] of Object.entries(allConfig)) {
        const key = projectKey(fullKey);
        if (key === undefined) {
            continue;
        }
        values[key] = parseConfigValue(text);
        if (isSecret(fullKey)) {
            secretKeys.add(key);
        }
    }
    const leaves = new Set<string>();
    if (secretLeaves && "leaves" in secretLeaves) {
        for (const leaf of secretLeaves.leaves) {
            const key = projectKey(leaf);
            if (key !== undefined) {
                leaves.add(key);
            }
        }
    } else {
        // Without the stack file only a secret key that is itself a leaf is known to be one.
        for (const key of secretKeys) {
            const paths = leafPaths(values[key], key);
            if (paths.length === 1 && paths[0] === key) {
                leaves.add(key);
            }
        }
    }
    const unknown = secretLeaves && "unknown" in secretLeaves ? secretLeaves.unknown : secretLeaves ? undefined : "only whole keys are known to be secret";
    return { source: `stack ${stack}`, values, secretKeys, secretLeaves: leaves, ...(unknown ? { secretLeavesUnknown: unknown } : {}) };
}

/** What a program gets from the CLI for a stack file, as RawStackConfig. */
export function rawConfigFromStackFileConfig(read: StackFileConfig, source: string): RawStackConfig {
    const secret = new Set(read.secretKeys);
    const raw = rawConfigFromPulumi(read.config, (key) => secret.has(key), source, { leaves: read.secretLeaves });
    return { ...raw, source };
}

/** A stack file read like the CLI reads it; throws StackFileError naming each problem by line. */
export function rawConfigFromStackFile(file: string): RawStackConfig {
    return rawConfigFromStackFileConfig(readStackFile(file, CONFIG_NAMESPACE), path.basename(file));
}
