// Many clients through one PgBouncer pool at once, with PostgreSQL and PgBouncer sampled
// while they run: how many server connections the pool really used, and whether clients queued.
import { Client, ClientConfig } from "pg";
import { PoolPlan, StackPlan } from "../../../config/plan";
import { ConnectionStrings } from "../../../render/connections";
import { connectPg, endAll, parseAsyncpgUrl, pgConfigFromLibpqUrl } from "./clients";
import { Stack } from "./stack";

/** node-postgres settings for a pool's pooled URL, whichever driver the service uses. */
export function pooledConfig(plan: StackPlan, strings: ConnectionStrings, pool: PoolPlan): ClientConfig {
    const service = plan.services.find((candidate) => candidate.name === pool.service);
    const url = strings.postgres[pool.service][pool.database].pooled;
    return service?.driver === "asyncpg" ? parseAsyncpgUrl(url).config : pgConfigFromLibpqUrl(url);
}

export interface LoadResult {
    clients: number;
    succeeded: number;
    failures: string[];
    elapsedMs: number;
    /** Most server connections PostgreSQL showed serving this run's clients (by application_name). */
    maxTaggedBackends: number;
    /** Most PostgreSQL connections of the pool's role on its database, whichever alias opened them. */
    maxRoleDatabaseBackends: number;
    /** Most clients PgBouncer reported waiting for a server connection in this pool. */
    maxWaiting: number;
    /** Most server connections PgBouncer reported active in this pool. */
    maxServerActive: number;
    samples: number;
}

async function sample(superuser: Client, adminConsole: Client, pool: PoolPlan, tag: string, result: LoadResult): Promise<void> {
    const activity = await superuser.query<{ tagged: string; total: string }>(
        `select count(*) filter (where application_name = $3) as tagged, count(*) as total
           from pg_stat_activity
          where backend_type = 'client backend' and datname = $1 and usename = $2`,
        [pool.database, pool.role, tag],
    );
    result.maxTaggedBackends = Math.max(result.maxTaggedBackends, Number(activity.rows[0].tagged));
    result.maxRoleDatabaseBackends = Math.max(result.maxRoleDatabaseBackends, Number(activity.rows[0].total));
    const pools = await adminConsole.query<{ database: string; user: string; cl_waiting: number; sv_active: number }>("SHOW POOLS");
    const row = pools.rows.find((candidate) => candidate.database === pool.alias && candidate.user === pool.role);
    if (row) {
        result.maxWaiting = Math.max(result.maxWaiting, Number(row.cl_waiting));
        result.maxServerActive = Math.max(result.maxServerActive, Number(row.sv_active));
    }
    result.samples++;
}

/**
 * `clients` connections through `pool`'s pooled URL, each running one transaction that sleeps
 * `sleepSeconds`, all at once. Each client carries `application_name` = a tag unique to this
 * run, which PgBouncer sets on the server connection it lends, so PostgreSQL's own view tells
 * which backends served this pool.
 */
export async function transactionsThroughPool(
    stack: Stack,
    pool: PoolPlan,
    options: { clients: number; sleepSeconds: number; strings?: ConnectionStrings; pgbouncerPort?: number },
): Promise<LoadResult> {
    const tag = `it-load-${pool.alias}-${Date.now()}`;
    const config = { ...pooledConfig(stack.plan, options.strings ?? stack.connectionStrings(), pool), application_name: tag };
    const result: LoadResult = {
        clients: options.clients,
        succeeded: 0,
        failures: [],
        elapsedMs: 0,
        maxTaggedBackends: 0,
        maxRoleDatabaseBackends: 0,
        maxWaiting: 0,
        maxServerActive: 0,
        samples: 0,
    };
    const superuser = await stack.superuser();
    const adminConsole = await connectPg(stack.adminConsoleConfig(options.pgbouncerPort));
    const clients: Client[] = [];
    try {
        for (let index = 0; index < options.clients; index++) {
            clients.push(await connectPg(config));
        }
        let running = true;
        const sampler = (async () => {
            while (running) {
                await sample(superuser, adminConsole, pool, tag, result);
                await new Promise((resolve) => setTimeout(resolve, 5));
            }
        })();
        const started = Date.now();
        const outcomes = await Promise.allSettled(
            clients.map(async (client) => {
                await client.query("BEGIN");
                await client.query(`select pg_sleep(${Number(options.sleepSeconds)})`);
                await client.query("COMMIT");
            }),
        );
        result.elapsedMs = Date.now() - started;
        running = false;
        await sampler;
        for (const outcome of outcomes) {
            if (outcome.status === "fulfilled") {
                result.succeeded++;
            } else {
                result.failures.push(String((outcome.reason as Error).message));
            }
        }
        return result;
    } finally {
        await endAll([...clients, superuser, adminConsole]);
    }
}
