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

/** The problem lines of plan's output, sorted: the order of problems is not part of the contract. */
function errorLines(stderr: string): string[] {
    return stderr
        .split("\n")
        .filter((line) => line.startsWith("  error: "))
        .sort();
}

test("the dev stack: every table, exit 0", () => {
    const result = plan("Pulumi.dev.yaml");
    expect(result.status).toBe(0);
    for (const title of ["Pools", "Per PostgreSQL database", "Per role", "PostgreSQL totals and headroom", "PgBouncer clients", "Redis", "Qdrant"]) {
        expect(result.stdout).toContain(title);
    }
    expect(result.stdout).toMatch(/^zentoria_app\s+application\s+70\s+91\s+4\s+0\s+74\s+95\s+78%$/m);
    expect(result.stdout).toContain("Pulumi.dev.yaml: the plan is valid (1 warning(s)).");
}, 60_000);

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
}, 60_000);

test("invalid config: every problem with its key path, exit 1", () => {
    const file = stackFile(["config:", "  zentoria:pgbouncer:", "    poolMode: batch", "    maxClientConn: -1", "  zentoria:redis:", "    hostPort: 6432", ""].join("\n"));
    const result = plan(file);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("3 problem(s)");
    expect(result.stderr).toContain("error: zentoria:pgbouncer.poolMode:");
    expect(result.stderr).toContain("error: zentoria:pgbouncer.maxClientConn:");
    expect(result.stderr).toContain("error: zentoria:redis.hostPort: host port 6432 is already used by pgbouncer.hostPort");
}, 60_000);

test("five different mistakes: five lines, each naming its key, exit 1", () => {
    const file = stackFile(
        [
            "config:",
            "  zentoria:pgbouncer:",
            "    poolMode: batch",
            "    maxClientConn: 4294967296",
            "  zentoria:postgres:",
            "    settings:",
            "      include_dir: conf.d",
            "  zentoria:redis:",
            "    maxmemory: 1tb",
            "  zentoria:roles:",
            "    pg_app: { access: application, connectionLimit: 5, directConnections: 0 }",
            "",
        ].join("\n"),
    );
    const result = plan(file);
    expect(result.status).toBe(1);
    expect(errorLines(result.stderr)).toEqual(
        [
        "  error: zentoria:postgres.settings.include_dir: cannot be set here: would read settings the program has not checked",
        "  error: zentoria:pgbouncer.poolMode: batch is not one of session, transaction, statement",
        "  error: zentoria:pgbouncer.maxClientConn: Number must be less than or equal to 2147483647",
        "  error: zentoria:roles.pg_app: must not start with pg_: PostgreSQL reserves those role names",
        "  error: zentoria:redis.maxmemory: 1tb is not a size Redis reads: digits, then b, k, kb, m, mb, g or gb, at most 2^64-1 bytes",
        ].sort(),
    );
    expect(result.stderr).toContain("5 problem(s)");
    expect(result.stderr).not.toMatch(/\n\s+at /);
}, 60_000);

test("mistakes in one section: a value the schema refuses does not hide the section's other problems", () => {
    // The line break fails postgres' schema; include_dir and maxConnections are checked after it,
    // on the section with work_mem put back to its default.
    const file = stackFile(
        [
            "config:",
            "  zentoria:postgres:",
            "    maxConnections: 300000",
            "    settings:",
            "      include_dir: /etc",
            '      work_mem: "4MB\\nfsync = off"',
            "",
        ].join("\n"),
    );
    const result = plan(file);
    expect(result.status).toBe(1);
    expect(errorLines(result.stderr)).toEqual(
        [
            "  error: zentoria:postgres.settings.work_mem: a setting's value must be one line without NUL characters",
            "  error: zentoria:postgres.settings.include_dir: cannot be set here: would read settings the program has not checked",
            "  error: zentoria:postgres.maxConnections: 300000 gives max_connections outside PostgreSQL 15's range 1 .. 262143",
        ].sort(),
    );
}, 60_000);

test("a YAML problem: file:line: message, no stack trace, exit 1", () => {
    const file = stackFile("config:\n  zentoria:prefix: a\n  zentoria:prefix: b\n");
    const result = plan(file);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`  error: ${file}:3: mapping key "zentoria:prefix" already defined at line 2\n`);
    expect(result.stderr).not.toMatch(/\n\s+at /);
}, 60_000);

test("a missing file is a usage error, exit 2", () => {
    expect(plan("Pulumi.nonexistent.yaml").status).toBe(2);
}, 60_000);
