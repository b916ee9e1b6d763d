// Runs the whole Pulumi program (index.ts) under mocks with a stack's config file.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
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

export async function runProgram(config: Record<string, unknown>, secretKeys: string[] = [], preview = false): Promise<ProgramExports> {
    await installMocks("zentoria", "test", preview);
    pulumi.runtime.setAllConfig(pulumiConfigMap(config), secretKeys);
    let programExports: ProgramExports = {};
    jest.isolateModules(() => {
        programExports = require("../../../index");
    });
    await settle();
    return programExports;
}
