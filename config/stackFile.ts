// Reads a stack file (Pulumi.<stack>.yaml) the way the Pulumi CLI 3.248 does, without the
// CLI: the result is what the CLI hands a program (PULUMI_CONFIG: `namespace:key` -> value
// text; PULUMI_CONFIG_SECRET_KEYS), with every encrypted leaf replaced by a placeholder.
//
// The CLI decodes the file with gopkg.in/yaml.v3 into Go values (sdk/go/common/workspace/
// loaders.go LoadProjectStackBytes), puts bare keys into the project's namespace, parses the
// keys (resource/config/key.go ParseKey) and turns each value into text
// (resource/config/object.go MarshalString: strings as they are, numbers and booleans as JSON,
// maps and lists as JSON, a null as ""). yaml.v3 resolves plain scalars by its own rules
// (resolve.go): 017 is octal, 1_000 is 1000, 08 is the float 8, 2001-12-14 is a time, yes is
// a string. The YAML syntax is parsed here by the `yaml` package with every scalar kept as
// text, and the yaml.v3 rules are applied to the plain ones. tests/e2e/stackFileReader.test.ts
// holds this reader to the real CLI on a corpus of stack files.
import * as fs from "fs";
import * as YAML from "yaml";
import { shown } from "./problems";

/** What stands in for an encrypted (`secure:`) leaf: the plan needs to know one is given, not its value. */
export const ENCRYPTED_PLACEHOLDER = "encrypted-in-stack-file";

export interface StackFileConfig {
    /** `namespace:key` -> the value text a program gets from the CLI. */
    config: Record<string, string>;
    /** Keys whose value is, or holds, an encrypted leaf. */
    secretKeys: string[];
    /** Every encrypted leaf: `namespace:key`, then `.member` and `[index]` steps. */
    secretLeaves: string[];
}

/** Problems that make the CLI (or this reader) refuse a stack file, one `file:line: message` each. */
export class StackFileError extends Error {
    constructor(readonly lines: readonly string[]) {
        super(lines.join("\n"));
        this.name = "StackFileError";
    }
}

/** A yaml.v3 timestamp: kept apart from strings (a `secure:` leaf must be a string). */
class GoTime {
    constructor(readonly text: string) {}
}

type GoValue = null | boolean | number | string | GoTime | GoValue[] | GoMap;
interface GoMap {
    [key: string]: GoValue;
}

interface Located {
    line(node: YAML.Node | undefined): number;
}

class Problems {
    readonly lines: string[] = [];
    constructor(private readonly file: string) {}

    add(line: number, message: string): void {
        this.lines.push(`${this.file}:${line}: ${message}`);
    }
}

// ---------------------------------------------------------------- scalars (yaml.v3 resolve.go)

const LONG_TAG_PREFIX = "tag:yaml.org,2002:";
const RESOLVABLE_TAGS = new Set(["", "!!str", "!!bool", "!!int", "!!float", "!!null", "!!timestamp"]);
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const EXACT: ReadonlyMap<string, GoValue> = new Map<string, GoValue>([
    ...["true", "True", "TRUE"].map((text): [string, GoValue] => [text, true]),
    ...["false", "False", "FALSE"].map((text): [string, GoValue] => [text, false]),
    ...["", "~", "null", "Null", "NULL"].map((text): [string, GoValue] => [text, null]),
    ...[".nan", ".NaN", ".NAN"].map((text): [string, GoValue] => [text, NaN]),
    ...[".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"].map((text): [string, GoValue] => [text, Infinity]),
    ...["-.inf", "-.Inf", "-.INF"].map((text): [string, GoValue] => [text, -Infinity]),
]);

function shortTag(tag: string | undefined): string {
    if (!tag) {
        return "";
    }
    return tag.startsWith(LONG_TAG_PREFIX) ? `!!${tag.slice(LONG_TAG_PREFIX.length)}` : tag;
}

/** Go's strconv.ParseInt/ParseUint with base 0 (0x, 0o, 0b and a leading 0 for octal), within 64 bits. */
function parseGoInteger(text: string): number | undefined {
    const match = /^([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
    if (!match) {
        return undefined;
    }
    const [, sign, digits] = match;
    let magnitude: bigint;
    if (/^0[0-7]+$/.test(digits)) {
        magnitude = BigInt(`0o${digits.slice(1)}`);
    } else {
        magnitude = BigInt(digits.replace(/^0([xXoObB])/, (_, base: string) => `0${base.toLowerCase()}`));
    }
    const value = sign === "-" ? -magnitude : magnitude;
    const fits = sign === "-" ? value >= -(2n ** 63n) : value < 2n ** 64n;
    return fits ? Number(value) : undefined;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function validDate(year: number, month: number, day: number): boolean {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return month >= 1 && month <= 12 && day >= 1 && day <= (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]);
}

const pad = (value: number, width = 2) => String(value).padStart(width, "0");

/**
 * yaml.v3's timestamps (parseTimestamp: the layouts 2006-1-2T15:4:5.999999999Z07:00, the same
 * with a lower-case t, 2006-1-2 15:4:5.999999999 and 2006-1-2), printed the way the CLI then
 * prints a Go time.Time (time.Time.String). A zero offset is printed as the CLI does on a machine
 * whose local zone is UTC.
 */
function goTimestamp(text: string): GoTime | undefined {
    const match =
        /^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:([Tt])|( ))(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?)?$/.exec(text);
    if (!match) {
        return undefined;
    }
    const [, year, month, day, t, space, hour = "0", minute = "0", second = "0", fraction = "", zone] = match;
    const hasTime = t !== undefined || space !== undefined;
    if (!validDate(Number(year), Number(month), Number(day)) || Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) {
        return undefined;
    }
    // The T layouts need a zone, the space layout has none.
    if ((t !== undefined && zone === undefined) || (space !== undefined && zone !== undefined) || (!hasTime && zone !== undefined)) {
        return undefined;
    }
    let offset = "+0000 UTC";
    if (zone && zone !== "Z") {
        const [hours, minutes] = zone.slice(1).split(":").map(Number);
        if (hours > 24 || minutes > 59) {
            return undefined;
        }
        const compact = `${zone[0]}${zone.slice(1, 3)}${zone.slice(4, 6)}`;
        offset = hours === 0 && minutes === 0 ? "+0000 UTC" : `${compact} ${compact}`;
    }
    const nanos = fraction.slice(0, 9).replace(/0+$/, "");
    const clock = `${pad(Number(hour))}:${pad(Number(minute))}:${pad(Number(second))}${nanos ? `.${nanos}` : ""}`;
    return new GoTime(`${year}-${pad(Number(month))}-${pad(Number(day))} ${clock} ${offset}`);
}

/** yaml.v3's resolve() for a scalar's text and tag; throws on a value its tag cannot take. */
function resolveScalar(tag: string, text: string): GoValue {
    if (!RESOLVABLE_TAGS.has(tag)) {
        return text;
    }
    let resolved: { tag: string; value: GoValue } = { tag: "!!str", value: text };
    const hint = text === "" ? "N" : /[-+]/.test(text[0]) ? "S" : /[0-9]/.test(text[0]) ? "D" : /[yYnNtTfFoO~]/.test(text[0]) ? "M" : text[0] === "." ? "." : "";
    if (hint !== "" && tag !== "!!str") {
        resolved = resolveUntagged(text, hint, tag) ?? resolved;
    }
    if (tag === "" || tag === resolved.tag || tag === "!!str") {
        return tag === "!!str" ? text : resolved.value;
    }
    if (tag === "!!float" && resolved.tag === "!!int") {
        return resolved.value;
    }
    throw new Error(`cannot decode ${resolved.tag} \`${text}\` as a ${tag}`);
}

function resolveUntagged(text: string, hint: string, tag: string): { tag: string; value: GoValue } | undefined {
    if (EXACT.has(text)) {
        const value = EXACT.get(text) as GoValue;
        return { tag: value === null ? "!!null" : typeof value === "boolean" ? "!!bool" : "!!float", value };
    }
    if (hint === ".") {
        const value = /^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(text) ? Number(text) : undefined;
        return value === undefined ? undefined : { tag: "!!float", value };
    }
    if (hint !== "D" && hint !== "S") {
        return undefined;
    }
    if (tag === "" || tag === "!!timestamp") {
        const time = goTimestamp(text);
        if (time) {
            return { tag: "!!timestamp", value: time };
        }
    }
    const plain = text.replace(/_/g, "");
    const integer = parseGoInteger(plain);
    if (integer !== undefined) {
        return { tag: "!!int", value: integer };
    }
    // Go's ParseFloat fails on a value beyond float64 (1e400), which then stays a string.
    if (YAML_STYLE_FLOAT.test(plain) && Number.isFinite(Number(plain))) {
        return { tag: "!!float", value: Number(plain) };
    }
    return undefined;
}

// ---------------------------------------------------------------- the document (yaml.v3 decode.go)

class Decoder {
    constructor(
        private readonly document: YAML.Document.Parsed,
        private readonly where: Located,
        private readonly problems: Problems,
    ) {}

    /** Returns undefined (with a problem recorded) where yaml.v3 fails. */
    value(node: YAML.Node | null | undefined): GoValue | undefined {
        if (node === null || node === undefined) {
            return null;
        }
        if (YAML.isAlias(node)) {
            return this.value(node.resolve(this.document) as YAML.Node | undefined);
        }
        if (YAML.isScalar(node)) {
            return this.scalar(node);
        }
        if (YAML.isSeq(node)) {
            const items = node.items.map((item) => this.value(item as YAML.Node));
            return items.some((item) => item === undefined) ? undefined : (items as GoValue[]);
        }
        if (YAML.isMap(node)) {
            return this.mapping(node);
        }
        this.problems.add(this.where.line(node), "unsupported YAML node");
        return undefined;
    }

    private scalar(node: YAML.Scalar): GoValue | undefined {
        const tag = shortTag(node.tag);
        const text = Buffer.isBuffer(node.value) ? node.value.toString("latin1") : String(node.value);
        const quoted = node.type !== undefined && node.type !== "PLAIN";
        if (tag === "!!str" || ((tag === "" || tag === "!") && quoted)) {
            return text;
        }
        if (tag === "!!binary") {
            return Buffer.isBuffer(node.value) ? node.value.toString("utf8") : Buffer.from(text, "base64").toString("utf8");
        }
        try {
            return resolveScalar(tag === "!" ? "!" : tag, text);
        } catch (error) {
            this.problems.add(this.where.line(node), (error as Error).message);
            return undefined;
        }
    }

    /** A key as Go's fmt %v prints the decoded key (yaml.v3 decodes keys like values). */
    keyText(node: YAML.Node): string | undefined {
        const key = this.value(node);
        if (key === undefined) {
            return undefined;
        }
        if (key !== null && typeof key === "object" && !(key instanceof GoTime)) {
            this.problems.add(this.where.line(node), "invalid map key: a map or a list");
            return undefined;
        }
        return key === null ? "<nil>" : key instanceof GoTime ? key.text : String(key);
    }

    private isMergeKey(node: unknown): boolean {
        if (!YAML.isScalar(node) || node.value !== "<<") {
            return false;
        }
        const tag = shortTag(node.tag);
        return tag === "" || tag === "!" || tag === "!!merge";
    }

    private mapping(node: YAML.YAMLMap): GoMap | undefined {
        if (!this.checkDuplicates(node)) {
            return undefined;
        }
        const result: GoMap = {};
        let mergeNode: YAML.Node | undefined;
        let failed = false;
        for (const pair of node.items) {
            if (this.isMergeKey(pair.key)) {
                mergeNode = pair.value as YAML.Node;
                continue;
            }
            const key = this.keyText(pair.key as YAML.Node);
            const value = this.value(pair.value as YAML.Node | null);
            if (key === undefined || value === undefined) {
                failed = true;
                continue;
            }
            result[key] = value;
        }
        if (mergeNode !== undefined && !this.merge(mergeNode, result)) {
            failed = true;
        }
        return failed ? undefined : result;
    }

    /** `<<: *base` or `<<: [*a, *b]`: keys already present win, then the earlier merged map. */
    private merge(node: YAML.Node, into: GoMap): boolean {
        const target = YAML.isAlias(node) ? (node.resolve(this.document) as YAML.Node | undefined) : node;
        const sources = YAML.isSeq(target) ? target.items.map((item) => (YAML.isAlias(item) ? item.resolve(this.document) : item)) : [target];
        for (const source of sources) {
            if (!YAML.isMap(source)) {
                this.problems.add(this.where.line(node), "map merge requires map or sequence of maps as the value");
                return false;
            }
            const merged = this.mapping(source);
            if (merged === undefined) {
                return false;
            }
            for (const [key, value] of Object.entries(merged)) {
                if (!(key in into)) {
                    into[key] = value;
                }
            }
        }
        return true;
    }

    /** yaml.v3 refuses two keys of the same kind and text in one mapping. */
    private checkDuplicates(node: YAML.YAMLMap): boolean {
        const seen = new Map<string, number>();
        let unique = true;
        for (const pair of node.items) {
            const key = pair.key as YAML.Node;
            const kind = YAML.isScalar(key) ? "scalar" : YAML.isAlias(key) ? "alias" : YAML.isMap(key) ? "map" : "seq";
            const text = YAML.isScalar(key) ? String(key.value) : YAML.isAlias(key) ? key.source : "";
            const id = `${kind}:${text}`;
            const first = seen.get(id);
            if (first !== undefined) {
                this.problems.add(this.where.line(key), `mapping key ${JSON.stringify(text)} already defined at line ${first}`);
                unique = false;
            } else {
                seen.set(id, this.where.line(key));
            }
        }
        return unique;
    }
}

// ---------------------------------------------------------------- keys and values (Pulumi)

/** `zentoria:key`, `zentoria:config:key` (the old form), or undefined where the CLI refuses the key. */
function parseConfigKey(key: string): { namespace: string; name: string } | undefined {
    const parts = key.split(":");
    if (parts.length === 2) {
        return { namespace: parts[0], name: parts[1] };
    }
    if (parts.length === 3 && parts[1] === "config") {
        return { namespace: parts[0], name: parts[2] };
    }
    return undefined;
}

function isGoMap(value: GoValue): value is GoMap {
    return value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof GoTime);
}

/** The Go value as JSON can hold it: times as their text, encrypted leaves as the placeholder. */
function plainValue(value: GoValue, path: string, secretLeaves: string[]): unknown {
    if (value instanceof GoTime) {
        return value.text;
    }
    if (typeof value === "number") {
        if (!Number.isFinite(value)) {
            throw new Error(`json: unsupported value: ${value > 0 ? "+Inf" : value < 0 ? "-Inf" : "NaN"}`);
        }
        // The CLI writes the file back through yaml.v3 before reading it: -0 comes back as 0.
        return value === 0 ? 0 : value;
    }
    if (Array.isArray(value)) {
        return value.map((item, index) => plainValue(item, `${path}[${index}]`, secretLeaves));
    }
    if (isGoMap(value)) {
        const entries = Object.entries(value);
        if (entries.length === 1 && entries[0][0] === "secure" && typeof entries[0][1] === "string") {
            secretLeaves.push(path);
            return ENCRYPTED_PLACEHOLDER;
        }
        return Object.fromEntries(entries.map(([key, child]) => [key, plainValue(child, `${path}.${key}`, secretLeaves)]));
    }
    return value;
}

/** resource/config/object.go MarshalString, then Plaintext.marshalText. */
function valueText(value: unknown, topLevel: GoValue): string {
    if (topLevel === null) {
        return "";
    }
    return typeof value === "string" ? value : JSON.stringify(value);
}

function lineCounterFor(lineCounter: YAML.LineCounter): Located {
    return { line: (node) => (node?.range ? lineCounter.linePos(node.range[0]).line : 1) };
}

function syntaxProblems(document: YAML.Document.Parsed, problems: Problems): void {
    for (const error of document.errors) {
        const line = error.linePos?.[0].line ?? 1;
        const message = error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
        problems.add(line, message);
    }
}

interface ConfigEntry {
    node: YAML.Node;
    value: GoValue;
    /** The key as written in the file. */
    as: string;
}

/** `namespace:name` -> the entry, with bare keys in the project's namespace, as the CLI reads them. */
function namespacedConfig(configNode: YAML.YAMLMap, decoder: Decoder, project: string, where: Located, problems: Problems): Map<string, ConfigEntry> {
    const entries = new Map<string, ConfigEntry>();
    for (const pair of configNode.items) {
        const keyNode = pair.key as YAML.Node;
        const keyValue = decoder.value(keyNode);
        const value = decoder.value(pair.value as YAML.Node | null);
        if (keyValue === undefined || value === undefined) {
            continue;
        }
        if (typeof keyValue !== "string") {
            problems.add(where.line(keyNode), `could not parse ${shown(decoder.keyText(keyNode) ?? "")} as a configuration key (configuration keys are strings)`);
            continue;
        }
        const written = keyValue.includes(":") ? keyValue : `${project}:${keyValue}`;
        const key = parseConfigKey(written);
        if (!key) {
            problems.add(where.line(keyNode), `could not parse ${shown(keyValue)} as a configuration key (configuration keys should be of the form \`<namespace>:<name>\`)`);
            continue;
        }
        const full = `${key.namespace}:${key.name}`;
        const previous = entries.get(full);
        if (previous) {
            // The CLI keeps one of the two, picked at random (a Go map); neither is safe to assume.
            problems.add(where.line(keyNode), `${shown(keyValue)} is the configuration key ${shown(full)} again (line ${where.line(previous.node)}, as ${shown(previous.as)}); give it once`);
            continue;
        }
        entries.set(full, { node: keyNode, value, as: keyValue });
    }
    return entries;
}

/** Parses a stack file's text; throws StackFileError with one `file:line: message` per problem. */
export function parseStackFile(text: string, file: string, project: string): StackFileConfig {
    const problems = new Problems(file);
    const lineCounter = new YAML.LineCounter();
    // Like the CLI (yaml.v3 Unmarshal): a UTF-8 byte order mark is dropped and only the first document is read.
    const documents = YAML.parseAllDocuments(text.replace(/^\uFEFF/, ""), {
        schema: "failsafe",
        uniqueKeys: false,
        merge: false,
        lineCounter,
    });
    const document = (Array.isArray(documents) ? documents[0] : undefined) as YAML.Document.Parsed | undefined;
    const result: StackFileConfig = { config: {}, secretKeys: [], secretLeaves: [] };
    if (!document) {
        return result;
    }
    syntaxProblems(document, problems);
    if (problems.lines.length > 0) {
        throw new StackFileError(problems.lines);
    }
    const where = lineCounterFor(lineCounter);
    const decoder = new Decoder(document, where, problems);
    const root = decoder.value(document.contents as YAML.Node | null);
    if (root === undefined || problems.lines.length > 0) {
        throw new StackFileError(problems.lines);
    }
    if (root === null) {
        return result;
    }
    if (!isGoMap(root) || !YAML.isMap(document.contents)) {
        throw new StackFileError([`${file}:1: a stack file is a map (config:, encryptionsalt:, ...), not ${describe(root)}`]);
    }
    for (const pair of document.contents.items) {
        if (typeof decoder.value(pair.key as YAML.Node) !== "string") {
            problems.add(where.line(pair.key as YAML.Node), `expected only string keys, got ${shown(decoder.keyText(pair.key as YAML.Node) ?? "")}`);
        }
    }
    if (problems.lines.length > 0) {
        throw new StackFileError(problems.lines);
    }
    const configPair = document.contents.items.find((pair) => YAML.isScalar(pair.key) && pair.key.value === "config");
    const configNode = configPair?.value as YAML.Node | null | undefined;
    const configNodeResolved = YAML.isAlias(configNode) ? (configNode.resolve(document) as YAML.Node | undefined) : configNode;
    if (root.config === undefined || root.config === null) {
        return result;
    }
    if (!YAML.isMap(configNodeResolved)) {
        throw new StackFileError([`${file}:${where.line(configPair?.key as YAML.Node)}: config must be a map of keys to values, not ${describe(root.config)}`]);
    }
    const entries = namespacedConfig(configNodeResolved, decoder, project, where, problems);
    for (const [key, entry] of entries) {
        const leaves: string[] = [];
        try {
            const plain = plainValue(entry.value, key, leaves);
            result.config[key] = valueText(plain, entry.value);
        } catch (error) {
            problems.add(where.line(entry.node), `${shown(key)}: ${(error as Error).message} (a number JSON cannot hold)`);
            continue;
        }
        if (leaves.length > 0) {
            result.secretKeys.push(key);
            result.secretLeaves.push(...leaves);
        }
    }
    if (problems.lines.length > 0) {
        throw new StackFileError(problems.lines);
    }
    return result;
}

function describe(value: GoValue): string {
    if (Array.isArray(value)) {
        return "a list";
    }
    return value instanceof GoTime || typeof value !== "object" ? `the value ${shown(String(value instanceof GoTime ? value.text : value))}` : "a map";
}

/** Reads and parses a stack file; a file that cannot be read is one problem line too. `label` names it in messages. */
export function readStackFile(file: string, project: string, label = file): StackFileConfig {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (error) {
        throw new StackFileError([`${label}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message}`]);
    }
    return parseStackFile(text, label, project);
}
