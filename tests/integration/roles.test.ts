// Section 2.5's CONNECTION LIMITs as the program sets them (render/sql.ts), held by a real
// PostgreSQL: exactly the limit of direct connections succeeds, one more is refused.
import { Client } from "pg";
import { RolePlan } from "../../config/plan";
import { connectPg, endAll, refusedConnection } from "./support/clients";
import { Stack, useStack } from "./support/fixture";
import { planForTestNames } from "./support/plan";

// PostgreSQL alone: PgBouncer's server connections would count against the same limits.
const servers = useStack({ postgres: true });
const namingPlan = planForTestNames();

function directConfig(stack: Stack, role: RolePlan) {
    // A database the plan lets the role into (owner, readwrite, readonly or connect grant).
    const database = stack.plan.grants.find((grant) => grant.role === role.name)?.database;
    if (!database) {
        throw new Error(`the plan grants ${role.name} no database`);
    }
    return { host: "127.0.0.1", port: stack.ports.postgres, user: role.name, password: stack.credentials.postgres[role.name], database };
}

servers.test("every role has the plan's CONNECTION LIMIT; the superuser has none (PostgreSQL would ignore it)", async (stack) => {
    const superuser = await stack.superuser();
    try {
        const { rows } = await superuser.query<{ rolname: string; rolconnlimit: number; rolsuper: boolean; rolcanlogin: boolean }>(
            "select rolname, rolconnlimit, rolsuper, rolcanlogin from pg_roles where rolname = any($1) order by rolname",
            [stack.plan.roles.map((role) => role.name)],
        );
        expect(rows).toEqual(
            [...stack.plan.roles]
                .sort((a, b) => a.name.localeCompare(b.name))
                .map((role) => ({
                    rolname: role.name,
                    rolconnlimit: role.access === "superuser" ? -1 : role.connectionLimit,
                    rolsuper: role.access === "superuser",
                    rolcanlogin: true,
                })),
        );
        const { rows: settings } = await superuser.query<{ max_connections: string }>("select current_setting('max_connections') as max_connections");
        expect(Number(settings[0].max_connections)).toBe(stack.plan.postgres.maxConnections);
    } finally {
        await superuser.end();
    }
}, 120_000);

for (const namingRole of namingPlan.roles.filter((role) => role.access !== "superuser")) {
    servers.test(`${namingRole.name}: ${namingRole.connectionLimit} direct connections succeed, one more gets "too many connections for role"`, async (stack) => {
        const role = stack.plan.roles.find((candidate) => candidate.name === namingRole.name)!;
        const config = directConfig(stack, role);
        const clients: Client[] = [];
        const superuser = await stack.superuser();
        try {
            // In batches, so that PostgreSQL's postmaster is not flooded with simultaneous forks.
            while (clients.length < role.connectionLimit) {
                const batch = Math.min(20, role.connectionLimit - clients.length);
                clients.push(...(await Promise.all(Array.from({ length: batch }, () => connectPg(config)))));
            }
            const { rows } = await superuser.query<{ count: string }>(
                "select count(*) from pg_stat_activity where usename = $1 and backend_type = 'client backend'",
                [role.name],
            );
            expect(Number(rows[0].count)).toBe(role.connectionLimit);
            for (const client of clients.slice(0, 3)) {
                expect((await client.query("select current_user as role")).rows).toEqual([{ role: role.name }]);
            }

            const refused = await refusedConnection(config);
            expect(refused.message).toBe(`too many connections for role "${role.name}"`);

            // The limit counts open connections: one closed, one more gets in.
            await clients.pop()!.end();
            await waitForCount(superuser, role.name, role.connectionLimit - 1);
            clients.push(await connectPg(config));
        } finally {
            await endAll([...clients, superuser]);
        }
    }, 120_000);
}

async function waitForCount(superuser: Client, role: string, count: number): Promise<void> {
    for (let attempt = 0; attempt < 100; attempt++) {
        const { rows } = await superuser.query<{ count: string }>(
            "select count(*) from pg_stat_activity where usename = $1 and backend_type = 'client backend'",
            [role],
        );
        if (Number(rows[0].count) === count) {
            return;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`${role} never went down to ${count} connections`);
}
