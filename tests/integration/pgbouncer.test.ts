// PgBouncer's admin console (section 5.1) on the rendered pgbouncer.ini and userlist.txt:
// what PgBouncer reports it runs, and who may use the console.
import { Client } from "pg";
import { operatorEnv } from "../../render/connections";
import { connectPg, endAll, pgConfigFromLibpqUrl, psqlRows, refusedConnection, rejection } from "./support/clients";
import { Stack, useStack } from "./support/fixture";
import { pooledConfig } from "./support/load";

const servers = useStack({ postgres: true, pgbouncer: true });

/** Section 5.1's commands. */
const MONITORING_COMMANDS = ["SHOW POOLS", "SHOW SERVERS", "SHOW CLIENTS", "SHOW STATS", "SHOW MEM"];

async function openAdminConsole(stack: Stack): Promise<Client> {
    // The program's own output for the console (connectionStrings().pgbouncerAdmin), as is.
    return connectPg({ connectionString: stack.connectionStrings().pgbouncerAdmin });
}

function statsConsoleUrl(stack: Stack, user: string): string {
    const env = Object.fromEntries(operatorEnv(stack.plan, stack.credentials, stack.endpoints));
    return String(env[`PGBOUNCER_STATS_URL_${user.toUpperCase()}`]);
}

servers.test("SHOW CONFIG reports the plan's pool settings", async (stack) => {
    const adminConsole = await openAdminConsole(stack);
    try {
        const { rows } = await adminConsole.query<{ key: string; value: string }>("SHOW CONFIG");
        const config = Object.fromEntries(rows.map((row) => [row.key, row.value]));
        const pgbouncer = stack.plan.pgbouncer;
        expect(config).toMatchObject({
            pool_mode: pgbouncer.poolMode,
            max_client_conn: String(pgbouncer.maxClientConn),
            default_pool_size: String(pgbouncer.defaultPoolSize),
            min_pool_size: String(pgbouncer.minPoolSize),
            reserve_pool_size: String(pgbouncer.reservePoolSize),
            reserve_pool_timeout: String(pgbouncer.reservePoolTimeoutSeconds),
            max_db_connections: String(pgbouncer.maxDbConnections),
            auth_type: "scram-sha-256",
            admin_users: pgbouncer.adminUser,
            stats_users: pgbouncer.statsUsers.join(","),
            ignore_startup_parameters: pgbouncer.ignoreStartupParameters.join(","),
            query_timeout: String(pgbouncer.queryTimeoutSeconds),
            idle_transaction_timeout: String(stack.plan.timeouts.idleSeconds),
            server_idle_timeout: String(stack.plan.timeouts.idleSeconds),
            server_connect_timeout: String(stack.plan.timeouts.connectSeconds),
            listen_addr: "127.0.0.1",
            listen_port: String(stack.ports.pgbouncer),
            auth_file: stack.layout.pgbouncer.userlistFile,
        });
    } finally {
        await adminConsole.end();
    }
}, 120_000);

servers.test("SHOW DATABASES lists exactly the plan's pools, each with its pool_size, reserve and limit", async (stack) => {
    const adminConsole = await openAdminConsole(stack);
    try {
        const { rows } = await adminConsole.query("SHOW DATABASES");
        const pools = rows.filter((row) => row.name !== "pgbouncer");
        const { pgbouncer } = stack.plan;
        expect(pools.map((row) => ({ ...row }))).toEqual(
            [...stack.plan.pools]
                .sort((a, b) => a.alias.localeCompare(b.alias))
                .map((pool) =>
                    expect.objectContaining({
                        name: pool.alias,
                        host: "127.0.0.1",
                        port: stack.ports.postgres,
                        database: pool.database,
                        pool_size: pool.poolSize,
                        min_pool_size: pgbouncer.minPoolSize,
                        // PgBouncer 1.24 renamed SHOW DATABASES' reserve_pool column.
                        reserve_pool_size: pgbouncer.reservePoolSize,
                        max_connections: pgbouncer.maxDbConnections,
                        paused: 0,
                        disabled: 0,
                    }),
                ),
        );
    } finally {
        await adminConsole.end();
    }
}, 120_000);

servers.test("SHOW POOLS: every pool runs in the plan's pool_mode once its service logs in", async (stack) => {
    const strings = stack.connectionStrings();
    const clients: Client[] = [];
    const adminConsole = await openAdminConsole(stack);
    try {
        for (const pool of stack.plan.pools) {
            const client = await connectPg(pooledConfig(stack.plan, strings, pool));
            clients.push(client);
            await client.query("select 1");
        }
        const { rows } = await adminConsole.query("SHOW POOLS");
        for (const pool of stack.plan.pools) {
            const row = rows.find((candidate) => candidate.database === pool.alias && candidate.user === pool.role);
            expect({ alias: pool.alias, row }).toEqual({
                alias: pool.alias,
                row: expect.objectContaining({ pool_mode: stack.plan.pgbouncer.poolMode, cl_active: 1 }),
            });
        }
    } finally {
        await endAll([...clients, adminConsole]);
    }
}, 120_000);

servers.test("the admin user runs section 5.1's commands and RELOAD", async (stack) => {
    const adminConsole = await openAdminConsole(stack);
    try {
        for (const command of MONITORING_COMMANDS) {
            const result = await adminConsole.query(command);
            expect({ command, fields: result.fields.length > 0 }).toEqual({ command, fields: true });
        }
        const clients = await adminConsole.query("SHOW CLIENTS");
        expect(clients.rows).toContainEqual(expect.objectContaining({ user: stack.plan.pgbouncer.adminUser, database: "pgbouncer" }));
        expect((await adminConsole.query("SHOW MEM")).rows.length).toBeGreaterThan(0);
        expect((await adminConsole.query("RELOAD")).command).toBe("RELOAD");
    } finally {
        await adminConsole.end();
    }
    // The operators' URL (sslmode=prefer) with libpq, exactly as rendered.
    const env = Object.fromEntries(operatorEnv(stack.plan, stack.credentials, stack.endpoints));
    expect((await psqlRows(String(env.PGBOUNCER_ADMIN_URL), "SHOW VERSION"))[0][0]).toMatch(/^PgBouncer /);
}, 120_000);

servers.test("each stats user runs section 5.1's commands and is refused admin commands", async (stack) => {
    expect(stack.plan.pgbouncer.statsUsers).toEqual(["zentoria_monitor"]);
    for (const user of stack.plan.pgbouncer.statsUsers) {
        const url = statsConsoleUrl(stack, user);
        expect(await psqlRows(url, "SHOW VERSION")).toHaveLength(1);
        const statsConsole = await connectPg(pgConfigFromLibpqUrl(url));
        try {
            for (const command of MONITORING_COMMANDS) {
                const result = await statsConsole.query(command);
                expect({ command, fields: result.fields.length > 0 }).toEqual({ command, fields: true });
            }
            for (const command of ["RELOAD", "PAUSE", "SET default_pool_size = 1", "KILL zentoria_main"]) {
                const error = await rejection(statsConsole.query(command));
                expect({ command, message: error.message }).toEqual({ command, message: "admin access needed" });
            }
        } finally {
            await statsConsole.end();
        }
    }
    // Nothing the refused commands asked for happened.
    const admin = await openAdminConsole(stack);
    try {
        const { rows } = await admin.query<{ key: string; value: string }>("SHOW CONFIG");
        expect(rows.find((row) => row.key === "default_pool_size")?.value).toBe(String(stack.plan.pgbouncer.defaultPoolSize));
        const databases = await admin.query("SHOW DATABASES");
        expect(databases.rows.filter((row) => row.paused !== 0)).toEqual([]);
    } finally {
        await admin.end();
    }
}, 120_000);

servers.test("application roles are refused on the console", async (stack) => {
    const statsUsers = new Set(stack.plan.pgbouncer.statsUsers);
    const appRoles = stack.plan.pgbouncer.users.map((user) => user.role).filter((role) => !statsUsers.has(role));
    expect(appRoles).toContain("zentoria_app");
    for (const role of appRoles) {
        const error = await refusedConnection({
            host: "127.0.0.1",
            port: stack.ports.pgbouncer,
            user: role,
            password: stack.credentials.postgres[role],
            database: "pgbouncer",
        });
        expect({ role, message: error.message }).toEqual({ role, message: "not allowed" });
    }
}, 120_000);
