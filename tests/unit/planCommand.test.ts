// `npm run plan -- <file>`: the same validation as the program, without the Pulumi CLI.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO_ROOT } from "./support/config";

function plan(file: string) {
    const result = spawnSync(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", "scripts/plan.ts", file], {
        cwd: REPO_ROOT,
        encoding: "utf8",
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function stackFile(yaml: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zentoria-plan-"));
    const file = path.join(dir, "Pulumi.test.yaml");
    fs.writeFileSync(file, yaml);
    return file;
}

test("the dev stack: every table, exit 0", () => {
    const result = plan("Pulumi.dev.yaml");
    expect(result.status).toBe(0);
    for (const title of ["Pools", "Per PostgreSQL database", "Per role", "PostgreSQL totals and headroom", "PgBouncer clients", "Redis", "Qdrant"]) {
        expect(result.stdout).toContain(title);
    }
    expect(result.stdout).toMatch(/^zentoria_app\s+application\s+70\s+91\s+4\s+0\s+74\s+95\s+78%$/m);
    expect(result.stdout).toContain("Pulumi.dev.yaml: the plan is valid (1 warning(s)).");
});

test("the spec's literal role limits: budget errors with their keys, exit 1", () => {
    const file = stackFile(
        ["config:", "  zentoria:roles:", "    zentoria_app:", "      connectionLimit: 50", "    n8n_app:", "      connectionLimit: 20", ""].join("\n"),
    );
    const result = plan(file);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("2 problem(s)");
    expect(result.stderr).toMatch(/error: zentoria:roles.zentoria_app.connectionLimit: .*74 at peak, over the limit of 50/);
    expect(result.stderr).toMatch(/error: zentoria:roles.n8n_app.connectionLimit: .*27 at peak, over the limit of 20/);
    // The tables still show where the numbers come from.
    expect(result.stdout).toMatch(/^zentoria_app\s+application\s+70\s+46\s+4\s+0\s+74\s+50\s+148%$/m);
});

test("invalid config: every problem with its key path, exit 1", () => {
    const file = stackFile(["config:", "  zentoria:pgbouncer:", "    poolMode: batch", "    maxClientConn: -1", "  zentoria:redis:", "    hostPort: 6432", ""].join("\n"));
    const result = plan(file);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("3 problem(s)");
    expect(result.stderr).toContain("error: zentoria:pgbouncer.poolMode:");
    expect(result.stderr).toContain("error: zentoria:pgbouncer.maxClientConn:");
    expect(result.stderr).toContain("error: zentoria:redis.hostPort: host port 6432 is already used by pgbouncer.hostPort");
});

test("a missing file is a usage error, exit 2", () => {
    expect(plan("Pulumi.nonexistent.yaml").status).toBe(2);
});
