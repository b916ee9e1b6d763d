// A stack with monitoring off is exactly the stack the program deployed before monitoring existed:
// the same resources with the same inputs. tests/golden/dev/registrations.json was recorded from
// the program before the monitoring part was added (UPDATE_GOLDEN=1 rewrites it, for changes of
// the data tier itself); every registration of the dev stack, and of a stack that says
// `monitoring.enabled: false` outright, must match it.
import * as fs from "fs";
import * as path from "path";
import { isSecretValue, plain, recorded } from "./support/mocks";
import { REPO_ROOT } from "./support/config";
import { runProgram, stackConfigValues } from "./support/program";

const GOLDEN = path.join(REPO_ROOT, "tests/golden/dev/registrations.json");

/** Every registration as type, name, inputs (and which inputs are secret); the dynamic provider's serialized code aside. */
function registrations(): Array<{ type: string; name: string; secretInputs: string[]; inputs: Record<string, unknown> }> {
    return recorded
        .map((resource) => {
            const inputs = Object.fromEntries(Object.entries(resource.inputs).filter(([key]) => key !== "__provider"));
            return {
                type: resource.type,
                name: resource.name,
                secretInputs: Object.keys(inputs).filter((key) => isSecretValue(inputs[key])).sort(),
                inputs: plain(inputs),
            };
        })
        .sort((a, b) => `${a.type}::${a.name}`.localeCompare(`${b.type}::${b.name}`));
}

const serialized = () => JSON.stringify(registrations(), null, 1) + "\n";

describe("monitoring off: today's stack, resource for resource", () => {
    let warn: jest.SpyInstance;
    beforeAll(() => {
        warn = jest.spyOn(console, "warn").mockImplementation(() => undefined);
    });
    afterAll(() => warn.mockRestore());

    test("the dev stack (monitoring off by default)", async () => {
        await runProgram(stackConfigValues("dev"));
        const actual = serialized();
        if (process.env.UPDATE_GOLDEN === "1") {
            fs.writeFileSync(GOLDEN, actual);
        }
        expect(actual).toBe(fs.readFileSync(GOLDEN, "utf8"));
    }, 120_000);

    test("a stack that turns monitoring off explicitly, with every other monitoring key changed", async () => {
        await runProgram({
            ...stackConfigValues("dev"),
            "zentoria:monitoring": {
                enabled: false,
                scrapeIntervalSeconds: 5,
                evaluationIntervalSeconds: 5,
                prometheus: { hostPort: 19090, image: "prom/prometheus:v3.5.0" },
                alertmanager: { enabled: true },
                exporters: { memory: "32m" },
                thresholds: { pgbouncerClientsWarningPercent: 50, longQuerySeconds: 10 },
            },
        });
        expect(serialized()).toBe(fs.readFileSync(GOLDEN, "utf8"));
    }, 120_000);
});
