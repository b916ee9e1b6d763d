// Runs the whole Pulumi program (index.ts) under mocks with a stack's config file.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { readStackFile } from "../../../config/stackFile";
import { installMocks, settle } from "./mocks";
import { REPO_ROOT } from "./config";

/** Config as the CLI hands it to the program: structured values as JSON text. */
export function pulumiConfigMap(values: Record<string, unknown>): Record<string, string> {
    return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)]));
}

/** A stack file's config as the CLI hands it to the program, read by the program's own reader. */
export function stackConfigValues(stack: string): Record<string, unknown> {
    return readStackFile(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`), "zentoria").config;
}

export type ProgramExports = Record<string, any>;

/** Every leaf of `value` as an encrypted one, the way `pulumi config set --secret --path` writes it. */
function encrypted(value: unknown): unknown {
    if (Array.isArray(value)) {
        return value.map(encrypted);
    }
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, encrypted(child)]));
    }
    return { secure: "v1:mock-ciphertext" };
}

/**
 * The Pulumi.test.yaml the CLI would have beside the program for this config: the program
 * reads which leaves are encrypted from it (the CLI tells it only which keys hold a secret).
 */
function stackFileFor(config: Record<string, unknown>, secretKeys: readonly string[]): string {
    const parsed = (value: unknown) => {
        try {
            return typeof value === "string" ? JSON.parse(value) : value;
        } catch {
            return value;
        }
    };
    const entries = Object.entries(config).map(([key, value]) => [key, secretKeys.includes(key) ? encrypted(parsed(value)) : parsed(value)]);
    return YAML.stringify({ config: Object.fromEntries(entries) });
}

/**
 * Loads index.ts afresh (mocks installed, config set) the way the CLI runs it: in its project
 * directory, beside the stack file of `config` (stack "test").
 */
export function loadProgram(config: Record<string, unknown>, secretKeys: readonly string[] = []): ProgramExports {
    const projectDir = fs.mkdtempSync(path.join(os.tmpdir(), "zentoria-program-"));
    fs.writeFileSync(path.join(projectDir, "Pulumi.test.yaml"), stackFileFor(config, secretKeys));
    const cwd = process.cwd();
    let programExports: ProgramExports = {};
    try {
        process.chdir(projectDir);
        jest.isolateModules(() => {
            programExports = require("../../../index");
        });
    } finally {
        process.chdir(cwd);
        fs.rmSync(projectDir, { recursive: true, force: true });
    }
    return programExports;
}

export async function runProgram(config: Record<string, unknown>, secretKeys: string[] = [], preview = false): Promise<ProgramExports> {
    await installMocks("zentoria", "test", preview);
    pulumi.runtime.setAllConfig(pulumiConfigMap(config), secretKeys);
    const programExports = loadProgram(config, secretKeys);
    await settle();
    return programExports;
}
