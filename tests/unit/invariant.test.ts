// The config check's invariant, as a property: every config it accepts renders every file
// the components render, and every config it refuses gets problems that each name a key and
// format to one line. Configs come from tests/support/configs.ts: valid-looking ones drawn
// from the schema and PostgreSQL's settings table, and mutated ones.
import fc from "fast-check";
import { formatProblem, tryPlan } from "../../config";
import { anyConfig, mutatedConfig, Overrides, validLookingConfig } from "../support/configs";
import { renderEverything } from "../support/render";
import { rawConfig } from "./support/config";

// FC_SEED and FC_RUNS reproduce or widen a run; fast-check prints the seed of a failure.
const runs = Number(process.env.FC_RUNS ?? 1000);
const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);

const attempt = (values: Overrides) => tryPlan(rawConfig(values, values.credentials === undefined ? [] : ["credentials"]));

const outcomes = { accepted: 0, refused: 0 };

function checkInvariant(values: Overrides): void {
    const result = attempt(values);
    const errors = result.problems.filter((problem) => problem.severity === "error");
    for (const problem of result.problems) {
        expect(problem.key).not.toBe("");
        const line = formatProblem(problem);
        expect(line).toMatch(/^zentoria:\S/);
        // One line of printable ASCII, whatever the stack file held.
        expect(line).toMatch(/^[\x20-\x7e]+$/);
    }
    if (errors.length === 0) {
        expect(result.plan).toBeDefined();
        expect(result.budget).toBeDefined();
        renderEverything(result.plan!, result.budget!);
        outcomes.accepted++;
    } else {
        expect(result.plan === undefined || errors.length > 0).toBe(true);
        outcomes.refused++;
    }
}

test(
    "every accepted config renders every file; every refused one names a key on one line",
    () => {
        fc.assert(fc.property(anyConfig(), checkInvariant), { numRuns: runs, seed });
        // Both sides of the invariant were exercised.
        expect(outcomes.accepted).toBeGreaterThan(runs / 10);
        expect(outcomes.refused).toBeGreaterThan(runs / 10);
    },
    300_000,
);

test(
    "valid-looking configs: accepted or refused, never a throw",
    () => {
        fc.assert(fc.property(validLookingConfig(), checkInvariant), { numRuns: Math.ceil(runs / 2), seed });
    },
    300_000,
);

test(
    "mutated configs are refused with their key, or are still valid and render",
    () => {
        fc.assert(fc.property(mutatedConfig(), checkInvariant), { numRuns: Math.ceil(runs / 2), seed });
    },
    300_000,
);
