// Wiring and exports only: config -> plan -> components -> outputs.
import * as pulumi from "@pulumi/pulumi";
import { formatProblem, loadPlan, PlanResult, StackConfigError, StackFileError } from "./config";
import { rawConfigFromStack } from "./config/pulumi";
import { DataTier } from "./components/dataTier";

/**
 * The plan, or every problem as one line of Pulumi's log and a RunError (which Pulumi prints
 * without a stack trace), before any resource is registered.
 */
function planOrStop(): PlanResult {
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

const { plan, budget, warnings } = planOrStop();
for (const warning of warnings) {
    pulumi.log.warn(formatProblem(warning));
}

const tier = new DataTier("zentoria", { plan, budget });

export const connectionStrings = tier.connectionStrings;
export const hostConnectionStrings = tier.hostConnectionStrings;
export const env = tier.envFiles;
export const summary = tier.summary;
export const connectionBudget = { tables: tier.budgetTables, warnings: warnings.map(formatProblem) };
