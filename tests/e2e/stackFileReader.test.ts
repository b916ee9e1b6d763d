// config/stackFile.ts against the real Pulumi CLI: for every stack file of the corpus, what
// `pulumi config --json --show-secrets` says the program gets, and what the reader produces,
// must be the same, value for value and secret for secret; and both must refuse the same
// files (the reader refuses a few more, each for a stated reason). Needs the Pulumi CLI on
// PATH (eval "$(bash .ci/toolchain.sh)"); without it the test fails, it does not skip.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { leafPaths, projectKey, rawConfigFromPulumi, rawConfigFromStackFileConfig } from "../../config/source";
import { ENCRYPTED_PLACEHOLDER, parseStackFile, StackFileConfig, StackFileError } from "../../config/stackFile";
import { CORPUS, CorpusCase, SECURE } from "../support/stackFileCorpus";

jest.setTimeout(10 * 60 * 1000);

const STACK = "reader";
let project: string;
let env: NodeJS.ProcessEnv;
let saltLine: string;
let ciphertext: string;

function pulumi(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync("pulumi", args, { cwd: project, env, encoding: "utf8", timeout: 120_000 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function requirePulumi(): void {
    try {
        execFileSync("pulumi", ["version"], { encoding: "utf8", env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" } });
    } catch {
        throw new Error('this test needs the Pulumi CLI on PATH: eval "$(bash .ci/toolchain.sh)"');
    }
}

beforeAll(() => {
    requirePulumi();
    project = fs.mkdtempSync(path.join(os.tmpdir(), "zentoria-reader-"));
    fs.writeFileSync(path.join(project, "Pulumi.yaml"), "name: zentoria\nruntime: nodejs\n");
    fs.mkdirSync(path.join(project, "state"));
    env = {
        ...process.env,
        PULUMI_BACKEND_URL: `file://${path.join(project, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: "reader-test",
        PULUMI_SKIP_UPDATE_CHECK: "true",
    };
    for (const args of [
        ["stack", "init", STACK, "--non-interactive"],
        ["config", "set", "--secret", "--stack", STACK, "zentoria:tmp", ENCRYPTED_PLACEHOLDER],
    ]) {
        const result = pulumi(args);
        if (result.status !== 0) {
            throw new Error(`pulumi ${args.join(" ")}: ${result.stderr}`);
        }
    }
    const stackFile = fs.readFileSync(path.join(project, `Pulumi.${STACK}.yaml`), "utf8");
    saltLine = stackFile.split("\n").find((line) => line.startsWith("encryptionsalt:")) ?? "";
    ciphertext = /secure: (\S+)/.exec(stackFile)?.[1] ?? "";
    expect(saltLine).not.toBe("");
    expect(ciphertext).not.toBe("");
});

afterAll(() => {
    if (project) {
        fs.rmSync(project, { recursive: true, force: true });
    }
});

function stackFileText(corpusCase: CorpusCase): string {
    const body = corpusCase.yaml.split(SECURE).join(ciphertext);
    return corpusCase.yaml.includes(SECURE) ? `${saltLine}\n${body}` : body;
}

interface CliView {
    /** key -> value text, as the program gets it. */
    config: Record<string, string>;
    secretKeys: string[];
}

function readWithCli(text: string): CliView | { refused: string } {
    fs.writeFileSync(path.join(project, `Pulumi.${STACK}.yaml`), text);
    const result = pulumi(["config", "--json", "--show-secrets", "--stack", STACK]);
    if (result.status !== 0) {
        return { refused: result.stderr.trim() };
    }
    const entries = JSON.parse(result.stdout) as Record<string, { value?: string; secret: boolean }>;
    return {
        config: Object.fromEntries(Object.entries(entries).map(([key, entry]) => [key, entry.value ?? ""])),
        secretKeys: Object.keys(entries).filter((key) => entries[key].secret),
    };
}

function readWithReader(text: string): StackFileConfig | { refused: string } {
    try {
        return parseStackFile(text, `Pulumi.${STACK}.yaml`, "zentoria");
    } catch (error) {
        if (error instanceof StackFileError) {
            return { refused: error.message };
        }
        throw error;
    }
}

const parsed = (text: string): unknown => {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
};

/** Leaves whose decrypted value is the placeholder: with the corpus's ciphertexts, exactly the encrypted ones. */
function placeholderLeaves(config: Record<string, string>): string[] {
    return Object.entries(config).flatMap(([key, text]) => {
        const value = parsed(text);
        const leaves = text === ENCRYPTED_PLACEHOLDER ? [key] : leafPaths(value, key).filter((leaf) => leafValue(value, key, leaf) === ENCRYPTED_PLACEHOLDER);
        return leaves;
    });
}

function leafValue(value: unknown, root: string, leaf: string): unknown {
    const steps = leaf.slice(root.length).match(/\.[^.[]+|\[\d+\]/g) ?? [];
    return steps.reduce<unknown>((node, step) => {
        if (node === null || typeof node !== "object") {
            return undefined;
        }
        return step.startsWith("[") ? (node as unknown[])[Number(step.slice(1, -1))] : (node as Record<string, unknown>)[step.slice(1)];
    }, value);
}

const sameOutcome = CORPUS.filter((corpusCase) => corpusCase.expect === "same");
const stricter = CORPUS.filter((corpusCase) => corpusCase.expect !== "same");

test.each(sameOutcome.map((corpusCase) => [corpusCase.name, corpusCase] as const))("the same as the CLI: %s", (_name, corpusCase) => {
    const text = stackFileText(corpusCase);
    const cli = readWithCli(text);
    const reader = readWithReader(text);
    if ("refused" in cli || "refused" in reader) {
        // Both refuse, or neither: the messages may differ, the outcome may not.
        expect({ cliRefused: "refused" in cli, readerRefused: "refused" in reader }).toEqual({ cliRefused: "refused" in cli, readerRefused: "refused" in cli });
        if ("refused" in reader) {
            // One line per problem, each `file:line: message`.
            for (const line of reader.refused.split("\n")) {
                expect(line).toMatch(/^Pulumi\.reader\.yaml:\d+: \S/);
            }
        }
        return;
    }
    // Every key, every namespace, as the same value once parsed the way the program parses it.
    expect(Object.keys(reader.config).sort()).toEqual(Object.keys(cli.config).sort());
    for (const key of Object.keys(cli.config)) {
        expect({ key, value: parsed(reader.config[key]) }).toEqual({ key, value: parsed(cli.config[key]) });
    }
    expect([...reader.secretKeys].sort()).toEqual([...cli.secretKeys].sort());
    expect([...reader.secretLeaves].sort()).toEqual(placeholderLeaves(cli.config).sort());
    // And the program's view of both is the same RawStackConfig.
    const fromCli = rawConfigFromPulumi(cli.config, (key) => cli.secretKeys.includes(key), STACK, { leaves: placeholderLeaves(cli.config) });
    const fromReader = rawConfigFromStackFileConfig(reader, STACK);
    expect(fromReader.values).toEqual(fromCli.values);
    expect([...fromReader.secretKeys].sort()).toEqual([...fromCli.secretKeys].sort());
    expect([...fromReader.secretLeaves].sort()).toEqual([...fromCli.secretLeaves].sort());
    expect(Object.keys(fromReader.values).every((key) => projectKey(`zentoria:${key}`) === key)).toBe(true);
});

test.each(stricter.map((corpusCase) => [corpusCase.name, corpusCase] as const))("refused by the reader, read by the CLI: %s", (_name, corpusCase) => {
    const text = stackFileText(corpusCase);
    expect("refused" in readWithCli(text)).toBe(false);
    const reader = readWithReader(text);
    expect("refused" in reader && reader.refused).toMatch(/given twice|again/);
});
