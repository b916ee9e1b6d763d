// Command-line pieces both commands share. Pure.
import { UsageError } from "../errors";

const UNIT_SECONDS: Record<string, number> = { "": 1, s: 1, m: 60, min: 60, h: 3600, d: 86400 };

/** `90`, `90s`, `30m`, `1h`, `2d` -> seconds; a clear UsageError for anything else. */
export function parseDuration(value: string | undefined, option: string): number {
    const match = /^(\d+(?:\.\d+)?)\s*(s|m|min|h|d)?$/.exec((value ?? "").trim());
    if (!match) {
        throw new UsageError(`${option} takes a duration such as 90s, 30m or 2h, not ${JSON.stringify(value ?? "")}`);
    }
    return Number(match[1]) * UNIT_SECONDS[match[2] ?? ""];
}

/** `30m` for 1800: how the commands print a duration they were given. */
export function formatDuration(seconds: number): string {
    for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]] as const) {
        if (seconds >= size && seconds % size === 0) {
            return `${seconds / size}${unit}`;
        }
    }
    return `${seconds}s`;
}

export interface ParsedArgs {
    positional: string[];
    flags: Set<string>;
    values: Map<string, string>;
}

/**
 * `--name value`, `--name=value` and bare flags. `valued` names the options that take a value;
 * `optionalValue` those whose value may be left out (then the next word is taken only when it is a
 * number). Unknown options are refused.
 */
export function parseArgs(argv: readonly string[], known: { flags: readonly string[]; valued: readonly string[]; optionalValue?: readonly string[] }): ParsedArgs {
    const parsed: ParsedArgs = { positional: [], flags: new Set(), values: new Map() };
    for (let i = 0; i < argv.length; i++) {
        const word = argv[i];
        if (!word.startsWith("--")) {
            parsed.positional.push(word);
            continue;
        }
        const [name, inline] = word.includes("=") ? [word.slice(0, word.indexOf("=")), word.slice(word.indexOf("=") + 1)] : [word, undefined];
        if (known.flags.includes(name)) {
            if (inline !== undefined) {
                throw new UsageError(`${name} takes no value`);
            }
            parsed.flags.add(name);
        } else if (known.valued.includes(name)) {
            const value = inline ?? argv[++i];
            if (value === undefined || value.startsWith("--")) {
                throw new UsageError(`${name} needs a value`);
            }
            parsed.values.set(name, value);
        } else if (known.optionalValue?.includes(name)) {
            if (inline !== undefined) {
                parsed.values.set(name, inline);
            } else if (argv[i + 1] !== undefined && /^\d+(\.\d+)?$/.test(argv[i + 1])) {
                parsed.values.set(name, argv[++i]);
            } else {
                parsed.flags.add(name);
            }
        } else {
            throw new UsageError(`unknown option ${name}`);
        }
    }
    return parsed;
}

/** A stack name as Pulumi takes it (letters, digits, `-`, `_`, `.`; an org/project/ prefix allowed). */
export function checkStackName(stack: string | undefined, usage: string): string {
    if (!stack || !/^[A-Za-z0-9_.\-/]+$/.test(stack)) {
        throw new UsageError(stack ? `${JSON.stringify(stack)} is not a stack name\n${usage}` : usage);
    }
    return stack;
}
