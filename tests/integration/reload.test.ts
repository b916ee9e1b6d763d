// A pool size changed in the plan, re-rendered by the program over pgbouncer.ini and applied
// with RELOAD (the reload path of pitfall 14): it takes effect without dropping clients.
import * as fs from "fs";
import { Socket } from "net";
import { Client } from "pg";
import { renderPgbouncerIni } from "../../render/pgbouncer";
import { connectPg, endAll } from "./support/clients";
import { useStack } from "./support/fixture";
import { pooledConfig, transactionsThroughPool } from "./support/load";
import { devPlan } from "./support/plan";

const servers = useStack({ postgres: true, pgbouncer: true });
const ALIAS = "zentoria_main";
const NEW_POOL_SIZE = 7;

/** What identifies one PgBouncer client in SHOW CLIENTS (1.24 adds a unique `id`; `ptr` may be reused after a disconnect). */
interface ClientIdentity {
    user: string;
    database: string;
    port: number;
    connect_time: string;
    ptr: string;
    id?: unknown;
}

servers.test(`services.backend.pools.zentoria_main.poolSize ${NEW_POOL_SIZE}: re-rendered, RELOADed, in effect, no client dropped`, async (stack) => {
    const before = stack.plan.pools.find((pool) => pool.alias === ALIAS)!;
    expect(before.poolSize).not.toBe(NEW_POOL_SIZE);
    const { plan } = devPlan(stack.ports, { services: { [before.service]: { pools: { [before.database]: { poolSize: NEW_POOL_SIZE } } } } });
    const after = plan.pools.find((pool) => pool.alias === ALIAS)!;
    expect(after.poolSize).toBe(NEW_POOL_SIZE);

    const oldIni = fs.readFileSync(stack.layout.pgbouncer.configFile, "utf8");
    const newIni = renderPgbouncerIni(plan, stack.layout);
    // One line differs: the alias' pool_size.
    const changed = oldIni
        .split("\n")
        .map((line, index) => [line, newIni.split("\n")[index]])
        .filter(([a, b]) => a !== b);
    expect(changed).toEqual([
        [
            `${ALIAS} = host=127.0.0.1 port=${stack.ports.postgres} dbname=${before.database} pool_size=${before.poolSize}`,
            `${ALIAS} = host=127.0.0.1 port=${stack.ports.postgres} dbname=${after.database} pool_size=${NEW_POOL_SIZE}`,
        ],
    ]);

    const clients: Client[] = [];
    const admin = await connectPg(stack.adminConsoleConfig());
    clients.push(admin);
    try {
        // A client of the pool, connected before the reload and idle outside any transaction.
        const idle = await connectPg(pooledConfig(stack.plan, stack.connectionStrings(), before));
        clients.push(idle);
        let idleEnded = false;
        idle.on("end", () => (idleEnded = true));
        expect((await idle.query("select current_user as role, current_database() as database")).rows).toEqual([{ role: before.role, database: before.database }]);
        const localPort = (idle.connection.stream as Socket).localPort;
        // Only what identifies the client: request_time, state and wait change with every query.
        const identity = async (): Promise<ClientIdentity[]> =>
            (await admin.query<ClientIdentity>("SHOW CLIENTS")).rows
                .filter((row) => row.port === localPort && row.database === ALIAS)
                .map(({ user, database, port, connect_time, ptr, id }) => ({ user, database, port, connect_time, ptr, id }));
        const identityBefore = await identity();
        expect(identityBefore).toHaveLength(1);
        expect(identityBefore[0].id).toBeDefined();
        const poolSizeShown = async () => (await admin.query("SHOW DATABASES")).rows.find((row) => row.name === ALIAS)?.pool_size;
        expect(await poolSizeShown()).toBe(before.poolSize);
        const pid = stack.server("pgbouncer").pid;

        fs.writeFileSync(stack.layout.pgbouncer.configFile, newIni);
        expect((await admin.query("RELOAD")).command).toBe("RELOAD");

        expect(await poolSizeShown()).toBe(NEW_POOL_SIZE);
        // Every other pool unchanged.
        const { rows } = await admin.query("SHOW DATABASES");
        for (const pool of plan.pools.filter((candidate) => candidate.alias !== ALIAS)) {
            expect({ alias: pool.alias, size: rows.find((row) => row.name === pool.alias)?.pool_size }).toEqual({ alias: pool.alias, size: pool.poolSize });
        }
        // The same process, the same client connection (same socket, same PgBouncer client), still serving.
        expect(stack.server("pgbouncer").running).toBe(true);
        expect(stack.server("pgbouncer").pid).toBe(pid);
        expect((await idle.query("select current_user as role, current_database() as database")).rows).toEqual([{ role: before.role, database: before.database }]);
        expect(idleEnded).toBe(false);
        // Still connected, and the same PgBouncer client as before the RELOAD.
        expect(await identity()).toEqual(identityBefore);

        // The new size is the one PgBouncer enforces: 3 x 7 clients get at most 7 + reserve server connections (the old size was 20).
        const { reservePoolSize } = plan.pgbouncer;
        const load = await transactionsThroughPool(stack, after, { clients: 3 * NEW_POOL_SIZE, sleepSeconds: 0.3 });
        expect(load.failures).toEqual([]);
        expect(load.maxServerActive).toBeLessThanOrEqual(NEW_POOL_SIZE + reservePoolSize);
        expect(load.maxTaggedBackends).toBeGreaterThan(0);
        expect(load.maxTaggedBackends).toBeLessThanOrEqual(NEW_POOL_SIZE + reservePoolSize);
        expect(load.maxWaiting).toBeGreaterThan(0);
        expect(fs.readFileSync(stack.server("pgbouncer").logFile, "utf8")).toMatch(/RELOAD command issued/);
    } finally {
        await endAll(clients);
    }
}, 120_000);
