import * as path from "path";
import { leafPaths, RawStackConfig, rawConfigFromStackFile } from "../../../config/source";

/** Raw config as the program gets it; every leaf under `secretKeys` counts as encrypted. */
export function rawConfig(values: Record<string, unknown> = {}, secretKeys: string[] = []): RawStackConfig {
    const secretLeaves = new Set(secretKeys.flatMap((key) => leafPaths(values[key], key)));
    return { source: "test", values, secretKeys: new Set(secretKeys), secretLeaves };
}

export const REPO_ROOT = path.resolve(__dirname, "../../..");

export function stackFile(stack: string): RawStackConfig {
    return rawConfigFromStackFile(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`));
}
