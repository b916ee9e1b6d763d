// Where the raw `zentoria:*` values come from: the running Pulumi program, or a stack config
// file read without the Pulumi CLI (`npm run plan`). Both produce the same RawStackConfig.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { CONFIG_NAMESPACE } from "./problems";

export interface RawStackConfig {
    /** Where the values came from, for messages. */
    source: string;
    /** Top-level keys without the `zentoria:` prefix, values parsed from JSON where they are JSON. */
    values: Readonly<Record<string, unknown>>;
    /** Top-level keys whose value is (or contains) a Pulumi secret. */
    secretKeys: ReadonlySet<string>;
}

/**
 * Stands in for an encrypted (`secure:`) value when a stack file is read without the CLI:
 * the plan does not need the value, only that one is given, and given as a secret.
 */
export const ENCRYPTED_PLACEHOLDER = "encrypted-in-stack-file";

const PREFIX = `${CONFIG_NAMESPACE}:`;

/** Pulumi keeps structured config as JSON text; plain strings stay strings. */
function parseConfigValue(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

export function rawConfigFromPulumi(
    allConfig: Record<string, string>,
    isSecret: (key: string) => boolean,
    stack: string,
): RawStackConfig {
    const values: Record<string, unknown> = {};
    const secretKeys = new Set<string>();
    for (const [fullKey, text] of Object.entries(allConfig)) {
        if (!fullKey.startsWith(PREFIX)) {
            continue;
        }
        const key = fullKey.slice(PREFIX.length);
        values[key] = parseConfigValue(text);
        if (isSecret(fullKey)) {
            secretKeys.add(key);
        }
    }
    return { source: `stack ${stack}`, values, secretKeys };
}

/** Replaces `{ secure: ... }` leaves by the placeholder and reports whether there were any. */
function replaceSecureLeaves(value: unknown): { value: unknown; secret: boolean } {
    if (Array.isArray(value)) {
        const items = value.map(replaceSecureLeaves);
        return { value: items.map((item) => item.value), secret: items.some((item) => item.secret) };
    }
    if (value !== null && typeof value === "object") {
        const entries = Object.entries(value as Record<string, unknown>);
        if (entries.length === 1 && entries[0][0] === "secure" && typeof entries[0][1] === "string") {
            return { value: ENCRYPTED_PLACEHOLDER, secret: true };
        }
        let secret = false;
        const result: Record<string, unknown> = {};
        for (const [key, child] of entries) {
            const replaced = replaceSecureLeaves(child);
            result[key] = replaced.value;
            secret = secret || replaced.secret;
        }
        return { value: result, secret };
    }
    return { value, secret: false };
}

export function rawConfigFromStackFile(file: string): RawStackConfig {
    const document = YAML.parse(fs.readFileSync(file, "utf8")) ?? {};
    const config = (document as { config?: Record<string, unknown> }).config ?? {};
    const values: Record<string, unknown> = {};
    const secretKeys = new Set<string>();
    for (const [fullKey, value] of Object.entries(config)) {
        if (!fullKey.startsWith(PREFIX)) {
            continue;
        }
        const key = fullKey.slice(PREFIX.length);
        const replaced = replaceSecureLeaves(value);
        values[key] = replaced.value;
        if (replaced.secret) {
            secretKeys.add(key);
        }
    }
    return { source: path.basename(file), values, secretKeys };
}
