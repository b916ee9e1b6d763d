// Reads the running stack's config through the Pulumi SDK.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE } from "./problems";
import { rawConfigFromPulumi, RawStackConfig } from "./source";
import { readStackFile } from "./stackFile";

/** The SDK exports isConfigSecret at run time but not in its type declarations. */
const runtimeWithSecrets = pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean };

/**
 * The CLI tells a program which top-level keys hold a secret, not which leaves do; the stack
 * file (the program runs in the project directory) says which leaves are encrypted. Throws
 * StackFileError when that file cannot be read as the CLI reads it.
 */
function encryptedLeaves(stack: string): { leaves: readonly string[] } | { unknown: string } {
    const file = path.join(process.cwd(), `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) {
        return { unknown: `there is no Pulumi.${stack}.yaml in the project directory to tell which leaves are encrypted` };
    }
    return { leaves: readStackFile(file, CONFIG_NAMESPACE, path.basename(file)).secretLeaves };
}

export function rawConfigFromStack(): RawStackConfig {
    const isSecret = runtimeWithSecrets.isConfigSecret ?? (() => false);
    const stack = pulumi.getStack();
    return rawConfigFromPulumi(pulumi.runtime.allConfig(), isSecret, stack, encryptedLeaves(stack));
}
