// pgbench tables in every database of the plan that an application role owns, created by that
// owner over its direct URL (as its migrations would), and the table of the restart test.
import * as fs from "fs";
import * as path from "path";
import { Client } from "pg";
import { connectPg } from "../../tests/integration/support/clients";
import { run } from "../../tests/integration/support/processes";
import type { Context } from "./context";
import { PGBENCH } from "./machine";
import { libpqEnv } from "./pgbench";
import type { Workload } from "./results";
import type { PoolTarget } from "./targets";

/** Section 5.2's "connection usage by database", the monitoring service's own query: its share runs this. */
export const MONITORING_QUERY =
    "SELECT datname, numbackends, (SELECT setting::int FROM pg_settings WHERE name = 'max_connections') AS max_conn, " +
    "ROUND(100.0 * numbackends / (SELECT setting::int FROM pg_settings WHERE name = 'max_connections'), 2) AS pct " +
    "FROM pg_stat_database WHERE datname IS NOT NULL ORDER BY numbackends DESC;";

export const COMMITS_TABLE = "bench_commits";

/** A pool whose role owns its database: its direct URL is the owner's (pgbench -i, VACUUM, TRUNCATE). */
export function ownerTargets(context: Pick<Context, "servers" | "targets">): Map<string, PoolTarget> {
    const owners = new Map<string, PoolTarget>();
    for (const database of context.servers.plan.databases) {
        const target = context.targets.find((candidate) => candidate.pool.database === database.name && candidate.pool.role === database.owner);
        if (target) {
            owners.set(database.name, target);
        }
    }
    return owners;
}

export async function asOwner<T>(target: PoolTarget, body: (client: Client) => Promise<T>): Promise<T> {
    const client = await connectPg({ ...target.direct.node, application_name: "bench-maintenance" });
    try {
        return await body(client);
    } finally {
        await client.end().catch(() => undefined);
    }
}

export async function setup(context: Context): Promise<{ initSeconds: number }> {
    const started = Date.now();
    const owners = ownerTargets(context);
    for (const [database, target] of owners) {
        context.log(`pgbench -i -s ${context.options.scale} in ${database} as ${target.pool.role}`);
        const result = await run(PGBENCH, ["--initialize", "--init-steps=dtGvp", `--scale=${context.options.scale}`, "--quiet", database], {
            env: libpqEnv(target.direct.libpq) as Record<string, string>,
            timeoutMs: 600_000,
        });
        if (result.code !== 0) {
            throw new Error(`pgbench -i in ${database} failed (${result.code}): ${result.stderr.trim()}`);
        }
        context.initialisedDatabases.push(database);
    }
    const main = owners.get("zentoria_main");
    if (!main) {
        throw new Error("the plan has no zentoria_main owned by an application role");
    }
    await asOwner(main, (client) =>
        client.query(`CREATE TABLE ${COMMITS_TABLE} (worker int NOT NULL, seq int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp(), PRIMARY KEY (worker, seq))`),
    );
    fs.writeFileSync(context.monitoringScript, `${MONITORING_QUERY}\n`);
    for (const target of context.targets) {
        const workload: Workload = context.initialisedDatabases.includes(target.pool.database) ? "select-only" : "monitoring-query";
        context.workloadByAlias[target.pool.alias] = workload;
        // Every pool's role may run its workload (grants and default privileges as the program applies them).
        const client = await connectPg(target.direct.node);
        try {
            if (workload === "monitoring-query") {
                await client.query(MONITORING_QUERY);
            } else {
                await client.query("BEGIN");
                await client.query("UPDATE pgbench_branches SET bbalance = bbalance WHERE bid = 1");
                await client.query("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, 0, now())");
                await client.query("ROLLBACK");
                if (target.pool.database === "zentoria_main") {
                    await client.query(`SELECT count(*) FROM ${COMMITS_TABLE}`);
                }
            }
        } catch (error) {
            throw new Error(`${target.pool.role} cannot run the benchmark's workload in ${target.pool.database}: ${(error as Error).message}`);
        } finally {
            await client.end();
        }
    }
    return { initSeconds: Math.round((Date.now() - started) / 100) / 10 };
}

/** Before each run: what pgbench itself would do without -n (vacuum the small tables, empty the history), and a checkpoint. */
export async function maintenance(context: Context): Promise<void> {
    for (const [database, target] of ownerTargets(context)) {
        if (!context.initialisedDatabases.includes(database)) {
            continue;
        }
        await asOwner(target, async (client) => {
            await client.query("VACUUM pgbench_branches, pgbench_tellers");
            await client.query("TRUNCATE pgbench_history");
        });
    }
    await context.observer.checkpoint();
}

export function monitoringScriptPath(workDir: string): string {
    return path.join(workDir, "monitoring-query.sql");
}
