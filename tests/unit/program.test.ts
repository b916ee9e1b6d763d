// The whole program (index.ts) under mocks: the resource graph and every output.
import * as pulumi from "@pulumi/pulumi";
import { fakePassword, ofType, outputValue, plain, recorded } from "./support/mocks";
import { runProgram, stackConfigValues } from "./support/program";
import { loadPlan } from "../../config";
import { roleAndDatabaseStatements } from "../../render/sql";
import { rawConfig } from "./support/config";

const countByType = () =>
    recorded.reduce<Record<string, number>>((counts, resource) => {
        counts[resource.type] = (counts[resource.type] ?? 0) + 1;
        return counts;
    }, {});

describe("dev stack", () => {
    let outputs: Record<string, any>;
    let warn: jest.SpyInstance;

    beforeAll(async () => {
        // The program loads its own copy of the SDK (isolated modules); under mocks its log writes to the console.
        warn = jest.spyOn(console, "warn").mockImplementation(() => undefined);
        outputs = await runProgram(stackConfigValues("dev"));
    }, 60_000);

    afterAll(() => warn.mockRestore());

    test("the resource graph", () => {
        expect(countByType()).toEqual({
            "zentoria:index:DataTier": 1,
            "zentoria:index:Credentials": 1,
            "zentoria:index:Postgres": 1,
            "zentoria:index:PostgresSchema": 1,
            "zentoria:index:PgBouncer": 1,
            "zentoria:index:Redis": 1,
            "zentoria:index:Qdrant": 1,
            "zentoria:index:BackupStore": 1,
            "zentoria:index:BackupAgent": 1,
            "docker:index/network:Network": 1,
            // The backup sidecar runs PostgreSQL's image, found on the host like the others.
            "docker:index/remoteImage:RemoteImage": 5,
            // The backup volume and the sidecar's config volume.
            "docker:index/volume:Volume": 10,
            "docker:index/container:Container": 5,
            // The replication role's password and salt; the backup Redis user's password.
            "random:index/randomPassword:RandomPassword": 17,
            "random:index/randomBytes:RandomBytes": 7,
            "pulumi:providers:postgresql": 1,
            "postgresql:index/role:Role": 5,
            "postgresql:index/database:Database": 3,
            "postgresql:index/extension:Extension": 1,
            "postgresql:index/grant:Grant": 15,
            "postgresql:index/defaultPrivileges:DefaultPrivileges": 8,
            // A ServerConfig per server, PostgreSQL's data directory, the access reconciler, the backup store.
            "pulumi-nodejs:dynamic:Resource": 7,
        });
        // Every resource of the provider goes through the explicit provider, never a default one.
        for (const resource of recorded.filter((candidate) => candidate.type.startsWith("postgresql:index/"))) {
            expect(resource.provider).toMatch(/pulumi:providers:postgresql::zentoria-schema-provider::/);
        }
    });

    test("the PostgreSQL objects are the ones the schema SQL describes", () => {
        const { plan } = loadPlan(rawConfig());
        const fakeVerifiers = Object.fromEntries(plan.roles.map((role) => [role.name, "SCRAM-SHA-256$4096:x$y:z"]));
        const statements = roleAndDatabaseStatements(plan, fakeVerifiers);
        const sqlRoles = statements.flatMap((statement) => /^CREATE ROLE "(\w+)" LOGIN CONNECTION LIMIT (\d+)/.exec(statement)?.slice(1) ?? []);
        // The replication role is the backups' (render/backup.ts backupRoleStatements describes it).
        const resourceRoles = ofType("postgresql:index/role:Role")
            .filter((resource) => resource.inputs.name !== plan.backups.role.name)
            .flatMap((resource) => [resource.inputs.name, String(resource.inputs.connectionLimit)]);
        expect(resourceRoles.sort()).toEqual(sqlRoles.sort());
        const sqlConnects = statements.flatMap((statement) => /^GRANT CONNECT ON DATABASE "(\w+)" TO "(\w+)"/.exec(statement)?.slice(1).join("/") ?? []);
        const resourceConnects = ofType("postgresql:index/grant:Grant")
            .map((resource) => plain(resource.inputs))
            .filter((grant) => grant.objectType === "database" && grant.privileges.includes("CONNECT"))
            .map((grant) => `${grant.database}/${grant.role}`);
        expect(resourceConnects.sort()).toEqual(sqlConnects.sort());
    });

    test("credential-bearing outputs are secret; the summary and budget are not and hold no credential", async () => {
        expect(await pulumi.isSecret(outputs.connectionStrings)).toBe(true);
        expect(await pulumi.isSecret(outputs.hostConnectionStrings)).toBe(true);
        expect(await pulumi.isSecret(outputs.env)).toBe(true);
        const plainOutputs = JSON.stringify([outputs.summary, outputs.connectionBudget]);
        for (const password of ofType("random:index/randomPassword:RandomPassword").map((resource) => fakePassword(resource.name))) {
            expect(plainOutputs).not.toContain(password);
        }
        expect(outputs.summary.pgbouncer).toMatchObject({ host: "zentoria-db", port: 6432, published: "127.0.0.1:6432", poolMode: "transaction" });
        expect(outputs.connectionBudget.warnings).toEqual([expect.stringMatching(/^zentoria:roles.postgres.connectionLimit: postgres is a superuser/)]);
    });

    test("section 2.4's connection strings", async () => {
        const strings = await outputValue(outputs.connectionStrings as pulumi.Output<any>);
        const appPassword = fakePassword("pg-zentoria_app-password");
        // sslmode=disable rather than the spec's prefer: the backend runs node-postgres (see DEVIATIONS).
        expect(strings.postgres.backend.zentoria_main.pooled).toBe(
            `postgresql://zentoria_app:${appPassword}@zentoria-db:6432/zentoria_main?sslmode=disable&connect_timeout=10&application_name=backend`,
        );
        expect(strings.postgres.backend.zentoria_vectors.pooled).toMatch(/^postgresql:\/\/zentoria_app:\w+@zentoria-db:6432\/zentoria_vectors\?sslmode=disable/);
        expect(strings.postgres.monitoring.postgres.pooled).toMatch(/^postgresql:\/\/zentoria_monitor:\w+@zentoria-db:6432\/monitoring\?sslmode=prefer/);
        expect(strings.postgres.ai_orchestrator.zentoria_main.pooled).toBe(
            // PgBouncer 1.25.2 keeps prepared statements (max_prepared_statements 200): no workaround.
            `postgresql+asyncpg://zentoria_app:${appPassword}@zentoria-db:6432/zentoria_main_ai`,
        );
        expect(strings.postgres.ai_orchestrator.zentoria_main.direct).toBe(`postgresql+asyncpg://zentoria_app:${appPassword}@zentoria-postgres:5432/zentoria_main`);
        expect(strings.postgres.n8n.n8n.direct).toMatch(/^postgresql:\/\/n8n_app:\w+@zentoria-postgres:5432\/n8n\?/);
        expect(strings.redis.sessions).toBe(`redis://backend:${fakePassword("redis-backend-password")}@zentoria-redis:6379/0`);
        expect(strings.redis.queues).toMatch(/^redis:\/\/n8n:\w+@zentoria-redis:6379\/2$/);
        expect(strings.qdrant).toEqual({
            url: "http://zentoria-embeddings:6333",
            grpcPort: 6334,
            apiKey: fakePassword("qdrant-api-key-password"),
            readOnlyApiKey: fakePassword("qdrant-read-only-api-key-password"),
        });
        expect(strings.pgbouncerAdmin).toBe(`postgresql://pgbouncer:${fakePassword("pgbouncer-pgbouncer-password")}@zentoria-db:6432/pgbouncer`);
    });

    test("the host-side strings use the published ports on 127.0.0.1", async () => {
        const strings = await outputValue(outputs.hostConnectionStrings as pulumi.Output<any>);
        expect(new URL(strings.postgres.backend.zentoria_main.pooled).host).toBe("127.0.0.1:6432");
        expect(new URL(strings.postgres.backend.zentoria_main.direct).host).toBe("127.0.0.1:5432");
        expect(new URL(strings.redis.cache).host).toBe("127.0.0.1:6379");
    });

    test("n8n's .env carries its DB_POSTGRESDB_* set, password included", async () => {
        const env = await outputValue(outputs.env as pulumi.Output<Record<string, string>>);
        const lines = env.n8n.trim().split("\n");
        expect(lines).toEqual(
            expect.arrayContaining([
                "DB_TYPE=postgresdb",
                "DB_POSTGRESDB_HOST=zentoria-db",
                "DB_POSTGRESDB_PORT=6432",
                "DB_POSTGRESDB_DATABASE=n8n",
                "DB_POSTGRESDB_USER=n8n_app",
                `DB_POSTGRESDB_PASSWORD=${fakePassword("pg-n8n_app-password")}`,
                "QUEUE_BULL_REDIS_DB=2",
            ]),
        );
    });

    test("warnings go through Pulumi's log", () => {
        expect(warn).toHaveBeenCalledWith(expect.stringMatching(/^warning: .*zentoria:roles.postgres.connectionLimit: postgres is a superuser/));
    });
});

test("bad config: the program stops with one log line per problem and no stack trace, before registering anything", async () => {
    const error = jest.spyOn(console, "error").mockImplementation(() => undefined);
    try {
        const run = runProgram({ "zentoria:pgbouncer": { poolMode: "batch", maxClientConn: 0 }, "zentoria:redis": { hostPort: 5432 } });
        // A RunError: Pulumi prints its message and no stack trace.
        await expect(run).rejects.toMatchObject({ __pulumiRunError: true, message: expect.stringMatching(/3 problem\(s\)/) });
        const logged = error.mock.calls.map((call) => String(call[0]));
        expect(logged).toEqual([
            expect.stringMatching(/^error: .*zentoria:pgbouncer.poolMode: batch is not one of session, transaction, statement$/),
            expect.stringMatching(/^error: .*zentoria:pgbouncer.maxClientConn: /),
            expect.stringMatching(/^error: .*zentoria:redis.hostPort: host port 5432 is already used by postgres.hostPort$/),
        ]);
        expect(recorded).toEqual([]);
    } finally {
        error.mockRestore();
    }
}, 60_000);

test("the prod stack builds with its own names and ports", async () => {
    const outputs = await runProgram(stackConfigValues("prod"));
    expect(outputs.summary.postgres).toMatchObject({ container: "zentoria-prod-postgres", published: "127.0.0.1:15432", volume: "zentoria-prod-pgdata" });
    // The four servers, the backup sidecar, and the monitoring part prod turns on: Prometheus, three exporters, the pool-error counter.
    expect(ofType("docker:index/container:Container").length).toBe(10);
}, 60_000);
