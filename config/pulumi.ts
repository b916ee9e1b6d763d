// Reads the running stack's config through the Pulumi SDK.
import * as pulumi from "@pulumi/pulumi";
import { rawConfigFromPulumi, RawStackConfig } from "./source";

/** The SDK exports isConfigSecret at run time but not in its type declarations. */
const runtimeWithSecrets = pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean };

export function rawConfigFromStack(): RawStackConfig {
    const isSecret = runtimeWithSecrets.isConfigSecret ?? (() => false);
    return rawConfigFromPulumi(pulumi.runtime.allConfig(), isSecret, pulumi.getStack());
}
