// Builds the DataTier component directly (not through index.ts) so that resource options,
// which mocks do not see, can be captured with a transformation.
import * as pulumi from "@pulumi/pulumi";
import { loadPlan } from "../../../config";
import { StackPlan } from "../../../config/plan";
import { DataTier } from "../../../components/dataTier";
import { installMocks, settle } from "./mocks";
import { rawConfig } from "./config";

export interface BuiltTier {
    tier: DataTier;
    plan: StackPlan;
    /** Resource options by `type::name` (a component and its container may share a name). */
    options: Map<string, pulumi.ResourceOptions>;
}

export function optionsOf(built: BuiltTier, type: string, name: string): pulumi.CustomResourceOptions {
    const options = built.options.get(`${type}::${name}`);
    if (!options) {
        throw new Error(`no options captured for ${type}::${name}`);
    }
    return options;
}

export async function buildTier(values: Record<string, unknown> = {}, secretKeys: string[] = []): Promise<BuiltTier> {
    await installMocks();
    const { plan, budget } = loadPlan(rawConfig(values, secretKeys));
    const options = new Map<string, pulumi.ResourceOptions>();
    const capture: pulumi.ResourceTransformation = (args) => {
        options.set(`${args.type}::${args.name}`, args.opts);
        return undefined;
    };
    const tier = new DataTier("zentoria", { plan, budget }, { transformations: [capture] });
    await settle();
    return { tier, plan, options };
}
