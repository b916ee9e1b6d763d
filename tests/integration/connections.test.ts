// Section 2.4's connection strings, built by the program (connectionStrings, serviceEnv) for
// endpoints on 127.0.0.1 and the test ports, against PgBouncer and PostgreSQL running the
// rendered files; and no plaintext password in anything the servers were given.
import * as fs from "fs";
import * as path from "path";
import { Client } from "pg";
import { serviceEnv } from "../../render/connections";
import { connectObserved, connectPg, parseAsyncpgUrl, pgConfigFromLibpqUrl, psqlRows, redisClient, refusedConnection } from "./support/clients";
import { useStack } from "./support/fixture";
import { plaintextSecrets, planForTestNames, randomPassword } from "./support/plan";

const servers = useStack({ postgres: true, pgbouncer: true, redis: true });
const namingPlan = planForTestNames();
const WHO = "select current_user, current_database(), current_setting('application_name')";

describe("pooled connection strings through PgBouncer", () => {
    for (const service of namingPlan.services.filter((candidate) => candidate.driver === "libpq")) {
        servers.test(`${service.name}: each pooled URL, exactly as rendered, logs in with libpq (psql) and reaches its role and database`, async (stack) => {
            const strings = stack.connectionStrings();
            const pools = stack.plan.pools.filter((pool) => pool.service === service.name);
            expect(pools.length).toBeGreaterThan(0);
            for (const pool of pools) {
                const url = strings.postgres[service.name][pool.database].pooled;
                expect(url).toContain(`@127.0.0.1:${stack.ports.pgbouncer}/${pool.alias}?`);
                expect(await psqlRows(url, WHO)).toEqual([[pool.role, pool.database, service.name]]);
            }
        }, 120_000);
    }

    servers.test("node-postgres logs in through every pool with SCRAM-SHA-256 and verifies PgBouncer's server signature", async (stack) => {
        const strings = stack.connectionStrings();
        for (const pool of stack.plan.pools) {
            const service = stack.plan.services.find((candidate) => candidate.name === pool.service)!;
            const url = strings.postgres[pool.service][pool.database].pooled;
            const config = service.driver === "asyncpg" ? parseAsyncpgUrl(url).config : pgConfigFromLibpqUrl(url);
            const { client, saslMechanisms, saslCompleted } = await connectObserved(config);
            try {
                expect({ alias: pool.alias, saslMechanisms, saslCompleted }).toEqual({ alias: pool.alias, saslMechanisms: ["SCRAM-SHA-256"], saslCompleted: true });
                const { rows } = await client.query(
                    "select current_user as role, current_database() as database, inet_server_port() as port, current_setting('statement_timeout') as statement_timeout",
                );
                // The server connection PgBouncer lent: the pool's role on the real database, on PostgreSQL's port,
                // with the role's statement_timeout (section 6.1's query timeout).
                expect(rows).toEqual([
                    { role: pool.role, database: pool.database, port: stack.ports.postgres, statement_timeout: `${stack.plan.timeouts.querySeconds}s` },
                ]);
            } finally {
                await client.end();
            }
        }
    }, 120_000);

    servers.test("the Node services' URLs work verbatim as node-postgres connection strings", async (stack) => {
        // The backend and n8n run on node-postgres, which reads sslmode=prefer as verify-full.
        const strings = stack.connectionStrings();
        for (const service of ["backend", "n8n"]) {
            for (const [database, urls] of Object.entries(strings.postgres[service])) {
                for (const url of [urls.pooled, urls.direct]) {
                    const client = new Client({ connectionString: url });
                    await client.connect();
                    try {
                        const { rows } = await client.query("select current_database() as database");
                        expect([service, rows[0].database]).toEqual([service, database]);
                    } finally {
                        await client.end();
                    }
                }
            }
        }
    }, 120_000);

    servers.test("the asyncpg URL carries no prepared-statement workaround (PgBouncer keeps them) and its parts log in", async (stack) => {
        const strings = stack.connectionStrings();
        const asyncpgServices = stack.plan.services.filter((service) => service.driver === "asyncpg");
        expect(asyncpgServices.map((service) => service.name)).toEqual(["ai_orchestrator"]);
        for (const service of asyncpgServices) {
            for (const pool of service.pools) {
                const url = strings.postgres[service.name][pool.database].pooled;
                expect(url.startsWith("postgresql+asyncpg://")).toBe(true);
                const { config, params } = parseAsyncpgUrl(url);
                // max_prepared_statements 200 is rendered: SQLAlchemy may cache (clients.test.ts runs it).
                expect(stack.plan.pgbouncer.maxPreparedStatements).toBe(200);
                expect(params).toEqual({});
                expect(config).toMatchObject({ host: "127.0.0.1", port: stack.ports.pgbouncer, user: pool.role, database: pool.alias });
                const client = await connectPg(config);
                try {
                    const { rows } = await client.query("select current_user as role, current_database() as database");
                    expect(rows).toEqual([{ role: pool.role, database: pool.database }]);
                } finally {
                    await client.end();
                }
            }
        }
    }, 120_000);

    servers.test("n8n's DB_POSTGRESDB_* variables from serviceEnv log in to the n8n pool", async (stack) => {
        const env = Object.fromEntries(serviceEnv(stack.plan, stack.credentials, stack.endpoints, "n8n"));
        const pool = stack.plan.pools.find((candidate) => candidate.format === "n8n")!;
        expect(pool.env).toBe("DB_POSTGRESDB");
        expect(env.DB_TYPE).toBe("postgresdb");
        const client = await connectPg({
            host: String(env.DB_POSTGRESDB_HOST),
            port: Number(env.DB_POSTGRESDB_PORT),
            database: String(env.DB_POSTGRESDB_DATABASE),
            user: String(env.DB_POSTGRESDB_USER),
            password: String(env.DB_POSTGRESDB_PASSWORD),
            connectionTimeoutMillis: Number(env.DB_POSTGRESDB_CONNECTION_TIMEOUT),
        });
        try {
            expect(client.port).toBe(stack.ports.pgbouncer);
            const { rows } = await client.query("select current_user as role, current_database() as database");
            expect(rows).toEqual([{ role: pool.role, database: pool.database }]);
        } finally {
            await client.end();
        }
    }, 120_000);

    servers.test("every service's .env variables: pooled URLs equal connectionStrings, direct URLs reach PostgreSQL itself", async (stack) => {
        const strings = stack.connectionStrings();
        for (const service of stack.plan.services) {
            const env = Object.fromEntries(serviceEnv(stack.plan, stack.credentials, stack.endpoints, service.name));
            for (const pool of service.pools) {
                const urls = strings.postgres[service.name][pool.database];
                const direct = pool.format === "n8n" ? env[`DIRECT_${pool.env}_URL`] : env[`DIRECT_${pool.env}`];
                expect(direct).toBe(urls.direct);
                if (pool.format === "url") {
                    expect(env[pool.env]).toBe(urls.pooled);
                }
                const config = service.driver === "asyncpg" ? parseAsyncpgUrl(urls.direct).config : pgConfigFromLibpqUrl(urls.direct);
                const client = await connectPg(config);
                try {
                    const { rows } = await client.query("select current_user as role, current_database() as database, inet_server_port() as port");
                    expect(rows).toEqual([{ role: pool.role, database: pool.database, port: stack.ports.postgres }]);
                } finally {
                    await client.end();
                }
            }
        }
    }, 120_000);

    servers.test("a wrong password is refused: SASL authentication failed at PgBouncer, password authentication failed at PostgreSQL", async (stack) => {
        const strings = stack.connectionStrings();
        // One pool per pooled role.
        const byRole = new Map(stack.plan.pools.map((pool) => [pool.role, pool]));
        for (const pool of byRole.values()) {
            const service = stack.plan.services.find((candidate) => candidate.name === pool.service)!;
            const urls = strings.postgres[pool.service][pool.database];
            const parse = service.driver === "asyncpg" ? (url: string) => parseAsyncpgUrl(url).config : pgConfigFromLibpqUrl;
            const pooled = await refusedConnection({ ...parse(urls.pooled), password: randomPassword() });
            expect(pooled.message).toBe("SASL authentication failed");
            const direct = await refusedConnection({ ...parse(urls.direct), password: randomPassword() });
            expect(direct.message).toBe(`password authentication failed for user "${pool.role}"`);
        }
        expect([...byRole.keys()].sort()).toEqual(stack.plan.pgbouncer.users.map((user) => user.role).sort());
        const admin = await refusedConnection({ ...stack.adminConsoleConfig(), password: randomPassword() });
        expect(admin.message).toBe("SASL authentication failed");
    }, 120_000);
});

/** Files under `dir`, recursively. */
function filesUnder(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
        const full = path.join(dir, entry.name);
        return entry.isDirectory() ? filesUnder(full) : entry.isFile() ? [full] : [];
    });
}

describe("secrets", () => {
    servers.test("no plaintext password in any rendered file, data directory or server log", async (stack) => {
        // Some traffic first, so that logs, WAL and the append-only file have something to give away.
        const redis = redisClient(stack.connectionStrings().redis.sessions);
        await redis.connect();
        await redis.set("zentoria:it:secrets", "value");
        redis.disconnect();
        const superuser = await stack.superuser();
        await superuser.query("CHECKPOINT");
        await superuser.end();

        const secrets = plaintextSecrets(stack.secrets);
        expect(secrets.length).toBe(stack.plan.roles.length + 1 + stack.plan.redis.users.length);
        const byDesign = new Set(stack.files.filter((file) => file.plaintextByDesign).map((file) => file.path));
        // The one exception: the healthcheck's own password, for redis-cli, which redis-server never reads.
        expect([...byDesign]).toEqual([stack.layout.redis.healthcheckPasswordFile]);
        expect(fs.readFileSync(stack.layout.redis.healthcheckPasswordFile, "utf8")).toBe(stack.credentials.redis.healthcheck);

        for (const file of stack.files.filter((candidate) => !candidate.plaintextByDesign)) {
            for (const [label, secret] of secrets) {
                expect({ file: file.path, label, found: file.content.includes(secret) }).toEqual({ file: file.path, label, found: false });
            }
        }
        const scanned = filesUnder(stack.dir).filter((file) => !byDesign.has(file));
        const leaks: string[] = [];
        let verifiersSeen = 0;
        for (const file of scanned) {
            const content = fs.readFileSync(file);
            for (const [label, secret] of secrets) {
                if (content.includes(secret)) {
                    leaks.push(`${label} in ${path.relative(stack.dir, file)}`);
                }
            }
            verifiersSeen += Object.values(stack.secrets.verifiers).filter((verifier) => content.includes(verifier)).length;
        }
        // The scan reads what the servers hold: the verifiers are there (userlist.txt, pg_authid), the passwords are not.
        expect(scanned.some((file) => file.startsWith(stack.postgresDataDir))).toBe(true);
        expect(scanned.some((file) => file.startsWith(stack.layout.redis.dataDirectory))).toBe(true);
        expect(verifiersSeen).toBeGreaterThan(0);
        expect(leaks).toEqual([]);
    }, 120_000);
});
