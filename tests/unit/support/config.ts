import * as path from "path";
import { RawStackConfig, rawConfigFromStackFile } from "../../../config/source";

export function rawConfig(values: Record<string, unknown> = {}, secretKeys: string[] = []): RawStackConfig {
    return { source: "test", values, secretKeys: new Set(secretKeys) };
}

export const REPO_ROOT = path.resolve(__dirname, "../../..");

export function stackFile(stack: string): RawStackConfig {
    return rawConfigFromStackFile(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`));
}
