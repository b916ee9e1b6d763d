// config/: stack config in, one validated and immutable plan out. No resources here.
import { checkPlanBounds } from "./bounds";
import { BudgetResult, computeBudget, ConnectionBudget } from "./budget";
import { buildPlan, StackPlan } from "./plan";
import { errorsIn, Problem, StackConfigError, warningsIn } from "./problems";
import { RawStackConfig } from "./source";
import { validateStackConfig } from "./validate";

export interface PlanResult {
    plan: StackPlan;
    budget: ConnectionBudget;
    warnings: Problem[];
}

export interface PlanAttempt {
    plan?: StackPlan;
    budget?: BudgetResult["budget"];
    problems: Problem[];
}

/** Validates and budgets without throwing: every problem found, errors and warnings. */
export function tryPlan(raw: RawStackConfig): PlanAttempt {
    const validation = validateStackConfig(raw);
    if (!validation.config || errorsIn(validation.problems).length > 0) {
        return { problems: validation.problems };
    }
    const plan = buildPlan(validation.config);
    const { budget, problems } = computeBudget(plan);
    return { plan, budget, problems: [...validation.problems, ...checkPlanBounds(plan), ...problems] };
}

/** The plan, or a StackConfigError naming every problem at once. */
export function loadPlan(raw: RawStackConfig): PlanResult {
    const attempt = tryPlan(raw);
    if (!attempt.plan || !attempt.budget || errorsIn(attempt.problems).length > 0) {
        throw new StackConfigError(raw.source, attempt.problems);
    }
    return { plan: attempt.plan, budget: attempt.budget, warnings: warningsIn(attempt.problems) };
}

export { DEFAULT_CONFIG, DEVIATIONS } from "./defaults";
export { formatProblem, shown, StackConfigError } from "./problems";
export type { Problem } from "./problems";
export { rawConfigFromPulumi, rawConfigFromStackFile, StackFileError } from "./source";
export type { RawStackConfig } from "./source";
export type { ConnectionBudget } from "./budget";
export type * from "./plan";
