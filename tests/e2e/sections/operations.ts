// Issue 17: `npm run status` as an operator runs it against the deployed default stack, from the
// repository, through the real Pulumi CLI on the stack's state backend; and the one line it
// prints for a stack that does not exist or is not deployed.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Client } from "pg";
import { pgConfig } from "../../../ops/console/connect";
import { Report } from "../../../ops/console/report";
import { DefaultStack } from "../support/defaultStack";
import { REPO_ROOT } from "../support/project";

interface Run {
    code: number | null;
    stdout: string;
    stderr: string;
}

export function describeOperations(stack: DefaultStack): void {
    const TIMEOUT = 5 * 60 * 1000;
    const lookDir = fs.mkdtempSync(path.join(os.tmpdir(), "zentoria-e2e-status-"));

    /** `npm run status -- <args>` from the repository, on the deployment's backend and passphrase. */
    function npmRunStatus(...args: string[]): Run {
        const workspace = stack.deployment.stack.workspace;
        const result = spawnSync("npm", ["run", "--silent", "status", "--", ...args], {
            cwd: REPO_ROOT,
            env: {
                ...process.env,
                PULUMI_BACKEND_URL: `file://${stack.deployment.stateDir}`,
                PULUMI_CONFIG_PASSPHRASE: workspace.envVars.PULUMI_CONFIG_PASSPHRASE,
                ZENTORIA_STATUS_DIR: lookDir,
                NO_COLOR: "1",
            },
            encoding: "utf8",
            timeout: 180_000,
        });
        return { code: result.status, stdout: result.stdout, stderr: result.stderr };
    }

    test(
        "npm run status -- e2e: the deployed stack, quiet, is ok (exit 0); every pool of the plan, PostgreSQL 17 and Redis judged",
        async () => {
            // Every pool once from the Docker host, so that PgBouncer has made them all.
            const strings = await stack.deployment.hostStrings();
            for (const databases of Object.values(strings.postgres)) {
                for (const urls of Object.values(databases)) {
                    // SQLAlchemy's asyncpg URL is a libpq URL to node-postgres once the driver suffix goes.
                    const client = new Client(pgConfig(urls.pooled.replace(/^postgresql\+asyncpg:/, "postgresql:"), "e2e-touch"));
                    await client.connect();
                    await client.query("SELECT 1");
                    await client.end();
                }
            }
            const json = npmRunStatus("e2e", "--json");
            expect({ code: json.code, stderr: json.stderr }).toEqual({ code: 0, stderr: "" });
            const report = JSON.parse(json.stdout) as Report;
            expect(report.verdict).toBe("ok");
            const summary = (await stack.deployment.outputs()).summary.value as { pgbouncer: { pools: Array<{ database: string; role: string }> } };
            if (!report.pgbouncer.reachable || !report.postgres.reachable || !report.redis.reachable) {
                throw new Error(`a server was not reached: ${JSON.stringify(report)}`);
            }
            expect(report.pgbouncer.endpoint).toBe(`127.0.0.1:${stack.ports.pgbouncer}`);
            expect(report.pgbouncer.version).toMatch(/^PgBouncer 1\.24/);
            expect(report.pgbouncer.pools.map((pool) => `${pool.database}/${pool.user}`).sort()).toEqual(summary.pgbouncer.pools.map((planned) => `${planned.database}/${planned.role}`).sort());
            for (const pool of report.pgbouncer.pools) {
                expect({ pool: pool.database, verdict: pool.verdict }).toEqual({ pool: pool.database, verdict: "ok" });
                expect(pool.clients.limit).toBeGreaterThan(0);
                expect(pool.servers.limit).toBeGreaterThan(0);
                // PgBouncer's log was read through the Docker CLI.
                expect(pool.errors).toBeDefined();
            }
            expect(report.pgbouncer.errorsUnavailable).toBeUndefined();
            expect(report.postgres.version).toMatch(/^17\./);
            expect(report.postgres.endpoint).toBe(`127.0.0.1:${stack.ports.postgres}`);
            expect(report.redis.endpoint).toBe(`127.0.0.1:${stack.ports.redis}`);
            expect(report.qdrant).toBeUndefined();

            const table = npmRunStatus("e2e");
            expect({ code: table.code, stderr: table.stderr }).toEqual({ code: 0, stderr: "" });
            expect(table.stdout).toMatch(/^Stack e2e: ok \(/);
            expect(table.stdout).toMatch(/^PostgreSQL 17\.\S+ .*: ok$/m);
            process.stdout.write(`npm run status -- e2e printed:\n${table.stdout}\n`);
        },
        TIMEOUT,
    );

    test(
        "with backups on (the default): postgres' and redis' last backups, each with a time and a size, ok, in --json and the table",
        async () => {
            const store = ((await stack.deployment.outputs()).backups.value as { store: string }).store;
            // The sidecar's first run starts about a minute after it does: poll, with a generous deadline.
            const deadline = Date.now() + 6 * 60 * 1000;
            const backedUp = (report: Report) => report.backups?.reachable === true && ["postgres", "redis"].every((service) => report.backups!.reachable && report.backups!.services.some((entry) => entry.service === service && entry.lastSuccess));
            let json = npmRunStatus("e2e", "--json");
            while (!backedUp(JSON.parse(json.stdout || "{}") as Report)) {
                if (Date.now() > deadline) {
                    throw new Error(`no backup of postgres and redis shown after 6 minutes; the last look: exit ${json.code}, ${json.stdout} ${json.stderr}`);
                }
                await new Promise((resolve) => setTimeout(resolve, 15_000));
                json = npmRunStatus("e2e", "--json");
            }
            expect({ code: json.code, stderr: json.stderr }).toEqual({ code: 0, stderr: "" });
            const report = JSON.parse(json.stdout) as Report;
            if (!report.backups?.reachable) {
                throw new Error(`the backup store was not read: ${JSON.stringify(report.backups)}`);
            }
            expect(report.backups).toMatchObject({ endpoint: store, verdict: "ok" });
            for (const service of ["postgres", "redis"]) {
                const entry = report.backups.services.find((candidate) => candidate.service === service)!;
                expect({ service, health: entry.health, verdict: entry.verdict, lastRun: entry.lastRun?.outcome }).toEqual({ service, health: "ok", verdict: "ok", lastRun: "success" });
                expect(Number.isNaN(Date.parse(entry.lastSuccess!.finishedAt))).toBe(false);
                expect(entry.lastSuccess!.bytes).toBeGreaterThan(0);
            }
            expect(report.verdict).toBe("ok");

            const table = npmRunStatus("e2e");
            expect({ code: table.code, stderr: table.stderr }).toEqual({ code: 0, stderr: "" });
            expect(table.stdout).toContain(`Backups in ${store} (every `);
            expect(table.stdout).toMatch(/^ {2}postgres +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC +[\d.]+ (B|KiB|MiB|GiB) +success .* ok$/m);
            expect(table.stdout).toMatch(/^ {2}redis +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC +[\d.]+ (B|KiB|MiB|GiB) +success .* ok$/m);
        },
        10 * 60 * 1000,
    );

    test(
        "a stack that does not exist, and one created but never deployed: exit 3 with one line",
        () => {
            const missing = npmRunStatus("no-such-stack");
            expect(missing.code).toBe(3);
            expect(missing.stdout).toBe("");
            expect(missing.stderr).toBe(`status: could not read stack no-such-stack's outputs from file://${stack.deployment.stateDir}: no stack named 'no-such-stack' found\n`);

            const workspace = stack.deployment.stack.workspace;
            const init = spawnSync("pulumi", ["stack", "init", "never-deployed", "--secrets-provider", "passphrase", "--non-interactive"], {
                cwd: stack.deployment.project,
                env: { ...process.env, PULUMI_BACKEND_URL: `file://${stack.deployment.stateDir}`, PULUMI_CONFIG_PASSPHRASE: workspace.envVars.PULUMI_CONFIG_PASSPHRASE },
                encoding: "utf8",
                timeout: 120_000,
            });
            expect({ code: init.status, stderr: init.stderr }).toEqual({ code: 0, stderr: "Created stack 'never-deployed'\n" });
            const empty = npmRunStatus("never-deployed");
            expect({ code: empty.code, stdout: empty.stdout, stderr: empty.stderr }).toEqual({
                code: 3,
                stdout: "",
                stderr: "status: stack never-deployed has no outputs: it is not deployed (npm run deploy -- never-deployed)\n",
            });
            spawnSync("pulumi", ["stack", "rm", "never-deployed", "--yes"], { cwd: stack.deployment.project, env: { ...process.env, PULUMI_BACKEND_URL: `file://${stack.deployment.stateDir}` }, timeout: 120_000 });
        },
        TIMEOUT,
    );
}
