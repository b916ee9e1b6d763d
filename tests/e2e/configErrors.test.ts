// What a user sees from `pulumi preview` when the stack config is wrong: one line of Pulumi's
// log per problem, naming its key, then Pulumi's RunError; no stack trace, nothing registered
// but the stack itself. Needs the Pulumi CLI on PATH, not Docker (nothing gets that far).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { copyProject } from "./support/project";

jest.setTimeout(10 * 60 * 1000);

let project: string;
let env: NodeJS.ProcessEnv;

function pulumi(args: string[]): { status: number | null; output: string } {
    const result = spawnSync("pulumi", [...args, "--non-interactive"], { cwd: project, env, encoding: "utf8", timeout: 300_000 });
    if (result.error) {
        throw new Error(`the Pulumi CLI did not run (${result.error.message}): eval "$(bash .ci/toolchain.sh)"`);
    }
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function preview(stack: string, config: string): { status: number | null; output: string } {
    const init = pulumi(["stack", "init", stack]);
    expect(init.status).toBe(0);
    fs.appendFileSync(path.join(project, `Pulumi.${stack}.yaml`), config);
    return pulumi(["preview", "--stack", stack]);
}

/** The Diagnostics section: what the CLI prints once per problem. */
const diagnostics = (output: string) => output.slice(output.indexOf("Diagnostics:"));

beforeAll(() => {
    project = copyProject();
    fs.mkdirSync(path.join(project, "state"));
    env = { ...process.env, PULUMI_BACKEND_URL: `file://${path.join(project, "state")}`, PULUMI_CONFIG_PASSPHRASE: "config-errors", PULUMI_SKIP_UPDATE_CHECK: "true" };
});

afterAll(() => {
    if (project) {
        fs.rmSync(project, { recursive: true, force: true });
    }
});

test("several mistakes: one error line each, then the RunError's, and no stack trace", () => {
    const result = preview(
        "mistakes",
        [
            "config:",
            "  zentoria:pgbouncer:",
            "    poolMode: batch",
            "    maxClientConn: 0",
            "  zentoria:postgres:",
            "    settings:",
            '      include_dir: "conf.d"',
            "  zentoria:redis:",
            "    hostPort: 5432",
            '  "zentoria:bad\\u202ekey": 1',
            "",
        ].join("\n"),
    );
    expect(result.status).not.toBe(0);
    const lines = diagnostics(result.output)
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line.startsWith("error: "));
    expect(lines[lines.length - 1]).toBe("error: the stack config has 5 problem(s), each logged above; nothing was deployed");
    expect(lines).toHaveLength(6);
    const keys = ['"bad\\u202ekey"', "pgbouncer.poolMode", "pgbouncer.maxClientConn", "redis.hostPort", "postgres.settings.include_dir"];
    for (const key of keys) {
        expect(lines.filter((line) => line.startsWith(`error: zentoria:${key}: `))).toHaveLength(1);
    }
    expect(lines).toContain("error: zentoria:pgbouncer.poolMode: batch is not one of session, transaction, statement");
    expect(lines).toContain("error: zentoria:redis.hostPort: host port 5432 is already used by postgres.hostPort");
    expect(result.output).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
    expect(result.output).not.toContain("\u202e");
});

test("a plaintext credential beside an encrypted one is refused by its own key", () => {
    const stack = "credentials";
    expect(pulumi(["stack", "init", stack]).status).toBe(0);
    expect(pulumi(["config", "set", "--secret", "--path", "--stack", stack, "zentoria:credentials.postgres.zentoria_app", "Given-Password-42"]).status).toBe(0);
    expect(pulumi(["config", "set", "--path", "--stack", stack, "zentoria:credentials.qdrantApiKey", "plain-text-key-0001"]).status).toBe(0);
    const result = pulumi(["preview", "--stack", stack]);
    expect(result.status).not.toBe(0);
    const lines = diagnostics(result.output)
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line.startsWith("error: "));
    expect(lines).toEqual([
        "error: zentoria:credentials.qdrantApiKey: must be stored encrypted: set it with `pulumi config set --secret --path 'zentoria:credentials.qdrantApiKey' ...`",
        "error: the stack config has 1 problem(s), each logged above; nothing was deployed",
    ]);
    expect(result.output).not.toContain("plain-text-key-0001");
});
