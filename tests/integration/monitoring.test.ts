// Section 5.2's monitoring queries, run as the monitoring role (member of pg_monitor) through
// its pooled URL, against a PostgreSQL with other roles' sessions to report on.
import { Client } from "pg";
import { connectPg, pgConfigFromLibpqUrl } from "./support/clients";
import { Stack, useStack } from "./support/fixture";

const servers = useStack({ postgres: true, pgbouncer: true });

// Section 5.2, verbatim.
const CONNECTIONS_BY_APPLICATION = `
SELECT
    application_name,
    state,
    COUNT(*) as count
FROM pg_stat_activity
WHERE backend_type = 'client backend'
GROUP BY application_name, state
ORDER BY count DESC;`;

const CONNECTION_USAGE_BY_DATABASE = `
SELECT
    datname,
    numbackends,
    (SELECT setting::int FROM pg_settings WHERE name = 'max_connections') as max_conn,
    ROUND(100.0 * numbackends / (SELECT setting::int FROM pg_settings WHERE name = 'max_connections'), 2) as pct
FROM pg_stat_database
WHERE datname IS NOT NULL
ORDER BY numbackends DESC;`;

const LONG_RUNNING_QUERIES = `
SELECT
    pid,
    now() - pg_stat_activity.query_start AS duration,
    query,
    state
FROM pg_stat_activity
WHERE state != 'idle'
    AND now() - pg_stat_activity.query_start > interval '30 seconds';`;

/** Longer than the 30 seconds of the third query; the superuser has no statement_timeout. */
const LONG_QUERY = "select pg_sleep(60) /* zentoria-long-running-probe */";
const LONG_QUERY_APPLICATION = "integration-test-long-query";

// Nested, so that the long query starts after the servers and ends before they stop.
describe("section 5.2's queries as zentoria_monitor", () => {
    let longRunner: { client: Client; pid: number; started: number; done: Promise<unknown> } | undefined;

    beforeAll(async () => {
        const client = await connectPg({ ...servers.stack.superuserConfig(), application_name: LONG_QUERY_APPLICATION });
        const pid = Number((await client.query("select pg_backend_pid() as pid")).rows[0].pid);
        const done = client.query(LONG_QUERY).catch((error: Error) => error);
        longRunner = { client, pid, started: Date.now(), done };
    }, 60_000);

    afterAll(async () => {
        if (longRunner) {
            const superuser = await servers.stack.superuser();
            await superuser.query("select pg_cancel_backend($1)", [longRunner.pid]);
            await superuser.end();
            await longRunner.done;
            await longRunner.client.end();
        }
    }, 60_000);

    async function monitoringClient(stack: Stack): Promise<Client> {
        const pool = stack.plan.pools.find((candidate) => candidate.service === "monitoring")!;
        expect(pool.role).toBe("zentoria_monitor");
        const client = await connectPg(pgConfigFromLibpqUrl(stack.connectionStrings().postgres.monitoring[pool.database].pooled));
        const { rows } = await client.query("select current_user as role, pg_has_role(current_user, 'pg_monitor', 'member') as monitor");
        expect(rows).toEqual([{ role: pool.role, monitor: true }]);
        return client;
    }

    servers.test("current connections by application: other roles' sessions, with their state", async (stack) => {
        const client = await monitoringClient(stack);
        try {
            const { rows } = await client.query<{ application_name: string; state: string | null; count: string }>(CONNECTIONS_BY_APPLICATION);
            expect(rows.length).toBeGreaterThan(0);
            // The superuser's long query, seen with its state: pg_monitor reads every session.
            expect(rows).toContainEqual({ application_name: LONG_QUERY_APPLICATION, state: "active", count: "1" });
            // This query itself, on the server connection PgBouncer lent, under the service's application_name.
            expect(rows).toContainEqual({ application_name: "monitoring", state: "active", count: "1" });
        } finally {
            await client.end();
        }
    }, 120_000);

    servers.test("connection usage by database: a row per database against the plan's max_connections", async (stack) => {
        const client = await monitoringClient(stack);
        try {
            const { rows } = await client.query<{ datname: string; numbackends: number; max_conn: number; pct: string }>(CONNECTION_USAGE_BY_DATABASE);
            const names = rows.map((row) => row.datname);
            for (const database of [...stack.plan.databases.map((db) => db.name), "postgres"]) {
                expect(names).toContain(database);
            }
            for (const row of rows) {
                expect(row.max_conn).toBe(stack.plan.postgres.maxConnections);
                expect(Number(row.pct)).toBeCloseTo((100 * row.numbackends) / stack.plan.postgres.maxConnections, 2);
            }
            // postgres holds the long query and this one.
            expect(rows.find((row) => row.datname === "postgres")!.numbackends).toBeGreaterThanOrEqual(2);
        } finally {
            await client.end();
        }
    }, 120_000);

    servers.test(
        "long-running queries: the superuser's query past 30 seconds, with its text",
        async (stack) => {
            if (!longRunner) {
                throw new Error("the long query did not start");
            }
            const client = await monitoringClient(stack);
            try {
                const before = await client.query(LONG_RUNNING_QUERIES);
                if (Date.now() - longRunner.started < 29_000) {
                    // Not yet 30 seconds: nothing qualifies.
                    expect(before.rows.filter((row) => row.pid === longRunner!.pid)).toEqual([]);
                }
                const wait = longRunner.started + 31_000 - Date.now();
                if (wait > 0) {
                    await new Promise((resolve) => setTimeout(resolve, wait));
                }
                const { rows } = await client.query<{ pid: number; query: string; state: string }>(LONG_RUNNING_QUERIES);
                expect(rows).toContainEqual(expect.objectContaining({ pid: longRunner.pid, query: LONG_QUERY, state: "active" }));
            } finally {
                await client.end();
            }
        },
        90_000,
    );
});
