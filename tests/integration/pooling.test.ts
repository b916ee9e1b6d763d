// Transaction pooling under load (sections 2.1 and 2.2): more clients than a pool's size are
// queued and served, PostgreSQL never sees more server connections than the plan allows, and
// clients beyond max_client_conn are refused.
import * as fs from "fs";
import * as path from "path";
import { Client } from "pg";
import { renderPgbouncerIni } from "../../render/pgbouncer";
import { connectPg, endAll, refusedConnection } from "./support/clients";
import { Stack, useStack } from "./support/fixture";
import { pooledConfig, transactionsThroughPool } from "./support/load";
import { devPlan, planForTestNames, testLayout } from "./support/plan";
import { freePorts } from "./support/ports";

const servers = useStack({ postgres: true, pgbouncer: true });
const namingPlan = planForTestNames();
const SLEEP_SECONDS = 0.3;
const CLIENTS_PER_SERVER_CONNECTION = 3;

describe("transaction pooling under concurrency", () => {
    for (const namingPool of namingPlan.pools) {
        const clients = CLIENTS_PER_SERVER_CONNECTION * namingPool.poolSize;
        servers.test(
            `${namingPool.alias} (${namingPool.role} on ${namingPool.database}, pool_size ${namingPool.poolSize}): ` +
                `${clients} clients in transactions are queued and all served`,
            async (stack) => {
                const pool = stack.plan.pools.find((candidate) => candidate.alias === namingPool.alias)!;
                const { reservePoolSize, maxDbConnections } = stack.plan.pgbouncer;
                const allowed = Math.min(pool.poolSize + reservePoolSize, maxDbConnections);
                const result = await transactionsThroughPool(stack, pool, { clients, sleepSeconds: SLEEP_SECONDS });

                expect(result.failures).toEqual([]);
                expect(result.succeeded).toBe(clients);
                expect(result.samples).toBeGreaterThan(5);
                // PostgreSQL's view: the pool's server connections stay within pool_size + reserve_pool_size.
                expect(result.maxTaggedBackends).toBeGreaterThan(0);
                expect(result.maxTaggedBackends).toBeLessThanOrEqual(allowed);
                // Every alias of this role and database together stays within the sum of their allowances.
                const sharing = stack.plan.pools.filter((candidate) => candidate.role === pool.role && candidate.database === pool.database);
                const sharedAllowance = sharing.reduce((sum, candidate) => sum + Math.min(candidate.poolSize + reservePoolSize, maxDbConnections), 0);
                expect(result.maxRoleDatabaseBackends).toBeLessThanOrEqual(sharedAllowance);
                // PgBouncer's view agrees, and it made clients wait instead of refusing them.
                expect(result.maxServerActive).toBeLessThanOrEqual(allowed);
                expect(result.maxWaiting).toBeGreaterThan(0);
                // With at most `allowed` transactions at a time, the run takes at least this many sleeps.
                expect(result.elapsedMs).toBeGreaterThanOrEqual(Math.ceil(clients / allowed) * SLEEP_SECONDS * 1000);
            },
            90_000,
        );
    }
});

describe("max_client_conn", () => {
    let second: { stack: Stack; port: number } | undefined;
    const MAX_CLIENT_CONN = 20;

    /** The dev plan with a small max_client_conn; the pools' client budgets shrink with it so the plan stays valid. */
    function smallPlan(stack: Stack, port: number) {
        const services: Record<string, { pools: Record<string, { maxClientConnections: number }> }> = {};
        for (const pool of stack.plan.pools) {
            ((services[pool.service] ??= { pools: {} }).pools[pool.database] = { maxClientConnections: 2 });
        }
        return devPlan({ ...stack.ports, pgbouncer: port }, { pgbouncer: { maxClientConn: MAX_CLIENT_CONN }, services });
    }

    servers.test(`a second PgBouncer rendered with max_client_conn ${MAX_CLIENT_CONN} differs only there`, async (stack) => {
        const [port] = await freePorts(1);
        const { plan, warnings } = smallPlan(stack, port);
        expect(plan.pgbouncer.maxClientConn).toBe(MAX_CLIENT_CONN);
        expect(warnings.map((warning) => warning.key)).toContain("pgbouncer.maxClientConn");
        const layout = testLayout(stack.dir, path.join(stack.dir, "pgbouncer-max-client-conn"));
        const changed = (a: string, b: string) => {
            const left = a.split("\n");
            const right = b.split("\n");
            return left.map((line, index) => [line, right[index]]).filter(([x, y]) => x !== y);
        };
        expect(changed(renderPgbouncerIni(stack.plan, stack.layout), renderPgbouncerIni(plan, layout))).toEqual([
            [`auth_file = ${stack.layout.pgbouncer.userlistFile}`, `auth_file = ${layout.pgbouncer.userlistFile}`],
            [`listen_port = ${stack.ports.pgbouncer}`, `listen_port = ${port}`],
            [`max_client_conn = ${stack.plan.pgbouncer.maxClientConn}`, `max_client_conn = ${MAX_CLIENT_CONN}`],
        ]);
        await stack.startPgbouncer("pgbouncer-max-client-conn", plan, layout);
        expect(fs.readFileSync(layout.pgbouncer.configFile, "utf8")).toBe(renderPgbouncerIni(plan, layout));
        second = { stack, port };
    }, 120_000);

    servers.test(`clients beyond max_client_conn ${MAX_CLIENT_CONN} are refused, the admin console counted among them`, async (stack) => {
        if (!second) {
            throw new Error("the second PgBouncer did not start (see the previous test)");
        }
        const { port } = second;
        const { plan } = smallPlan(stack, port);
        const pool = plan.pools.find((candidate) => candidate.alias === "zentoria_main")!;
        const config = pooledConfig(plan, stack.connectionStrings(), pool);
        const appConfig = { ...config, port };
        const clients: Client[] = [];
        const adminConsole = await connectPg(stack.adminConsoleConfig(port));
        try {
            // Only this console is connected (the readiness probe's has gone).
            await waitFor(async () => (await adminConsole.query("SHOW CLIENTS")).rows.length === 1, "one client on the second PgBouncer");
            // PgBouncer counts every client, the console too: max_client_conn - 1 application clients fit.
            for (let index = 0; index < MAX_CLIENT_CONN - 1; index++) {
                clients.push(await connectPg(appConfig));
            }
            expect((await adminConsole.query("SHOW CLIENTS")).rows).toHaveLength(MAX_CLIENT_CONN);
            const refused = await refusedConnection(appConfig);
            expect(refused.message).toBe("no more connections allowed (max_client_conn)");
            // The clients already in keep working.
            for (const client of clients.slice(0, 3)) {
                expect((await client.query("select current_user as role")).rows).toEqual([{ role: pool.role }]);
            }
            // PgBouncer lets the admin console in past the limit (it still counts it).
            const extraConsole = await connectPg(stack.adminConsoleConfig(port));
            clients.push(extraConsole);
            expect((await extraConsole.query("SHOW CLIENTS")).rows).toHaveLength(MAX_CLIENT_CONN + 1);
            await clients.pop()!.end();
            // A client that leaves makes room for one more.
            await clients.pop()!.end();
            await waitFor(async () => (await adminConsole.query("SHOW CLIENTS")).rows.length === MAX_CLIENT_CONN - 1, "a free client slot");
            clients.push(await connectPg(appConfig));
            expect((await refusedConnection(appConfig)).message).toBe("no more connections allowed (max_client_conn)");
        } finally {
            await endAll([...clients, adminConsole]);
        }
    }, 120_000);
});

async function waitFor(probe: () => Promise<boolean>, what: string): Promise<void> {
    for (let attempt = 0; attempt < 100; attempt++) {
        if (await probe()) {
            return;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`timed out waiting for ${what}`);
}
