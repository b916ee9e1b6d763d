// Reads the running stack's config through the Pulumi SDK, and stops the program the way
// Pulumi prints best: one log line per problem, then a RunError (no stack trace).
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { loadPlan, PlanResult } from "./index";
import { CONFIG_NAMESPACE, formatProblem, StackConfigError } from "./problems";
import { rawConfigFromPulumi, RawStackConfig } from "./source";
import { readStackFile, StackFileError } from "./stackFile";

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

/**
 * The running stack's plan, or every problem as one line of Pulumi's log and a RunError, which
 * Pulumi prints without a stack trace; either way before any resource is registered.
 */
export function planFromStack(): PlanResult {
    try {
        return loadPlan(rawConfigFromStack());
    } catch (error) {
        const lines =
            error instanceof StackConfigError ? error.problems.map(formatProblem) : error instanceof StackFileError ? [...error.lines] : undefined;
        if (!lines) {
            throw error;
        }
        for (const line of lines) {
            pulumi.log.error(line);
        }
        throw new pulumi.RunError(`the stack config has ${lines.length} problem(s), each logged above; nothing was deployed`);
    }
}
