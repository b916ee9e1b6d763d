import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadPlan, StackConfigError, tryPlan } from "../../config";
import { DEFAULT_CONFIG, DEVIATIONS } from "../../config/defaults";
import { ENCRYPTED_PLACEHOLDER, rawConfigFromPulumi, rawConfigFromStackFile } from "../../config/source";
import { mergeOverDefaults } from "../../config/validate";
import { rawConfig, stackFile } from "./support/config";

function errorKeys(values: Record<string, unknown>, secretKeys: string[] = []): string[] {
    return tryPlan(rawConfig(values, secretKeys))
        .problems.filter((problem) => problem.severity === "error")
        .map((problem) => problem.key)
        .sort();
}

function errorFor(values: Record<string, unknown>, key: string): string {
    const problem = tryPlan(rawConfig(values)).problems.find((candidate) => candidate.severity === "error" && candidate.key === key);
    if (!problem) {
        throw new Error(`no error for ${key}; got ${JSON.stringify(tryPlan(rawConfig(values)).problems)}`);
    }
    return problem.message;
}

describe("defaults are the spec's numbers", () => {
    const { plan } = loadPlan(rawConfig());

    test("section 2.1: pool configuration", () => {
        expect(plan.pgbouncer).toMatchObject({
            poolMode: "transaction",
            maxClientConn: 500,
            defaultPoolSize: 20,
            minPoolSize: 5,
            reservePoolSize: 5,
            maxDbConnections: 50,
        });
    });

    test("section 2.2: connection distribution (pool size, max connections) per service and database", () => {
        const distribution = plan.pools.map((pool) => [pool.service, pool.database, pool.poolSize, pool.maxClientConnections]);
        expect(distribution.sort()).toEqual(
            [
                ["backend", "zentoria_main", 20, 40],
                ["backend", "zentoria_vectors", 10, 20],
                ["n8n", "zentoria_main", 5, 10],
                ["n8n", "n8n", 10, 20],
                ["ai_orchestrator", "zentoria_main", 5, 10],
                ["ai_orchestrator", "zentoria_vectors", 15, 30],
                ["monitoring", "postgres", 5, 10],
            ].sort(),
        );
        expect(plan.pools.reduce((sum, pool) => sum + pool.maxClientConnections, 0)).toBe(140);
    });

    test("section 2.4: services log in as the spec's roles, databases as the spec names them", () => {
        expect(plan.services.map((service) => [service.name, service.role])).toEqual([
            ["ai_orchestrator", "zentoria_app"],
            ["backend", "zentoria_app"],
            ["monitoring", "zentoria_monitor"],
            ["n8n", "n8n_app"],
        ]);
        expect(plan.databases.map((database) => database.name)).toEqual(["n8n", "zentoria_main", "zentoria_vectors"]);
        // Applications reach PgBouncer as zentoria-db:6432; PostgreSQL answers direct connections on 5432.
        expect([plan.pgbouncer.hostname, plan.pgbouncer.port]).toEqual(["zentoria-db", 6432]);
        expect(plan.postgres.port).toBe(5432);
    });

    test("section 2.5: limits the spec gives are kept where they fit, and every change is listed with its reason", () => {
        const limits = Object.fromEntries(plan.roles.map((role) => [role.name, role.connectionLimit]));
        expect(limits.readonly).toBe(10);
        expect(limits.postgres).toBe(10);
        for (const role of ["zentoria_app", "n8n_app"]) {
            const deviation = DEVIATIONS.find((candidate) => candidate.key === `roles.${role}.connectionLimit`);
            expect(deviation?.default).toBe(String(limits[role]));
        }
    });

    test("sections 3.2 and 3.3: Redis databases and maxclients", () => {
        expect(plan.redis.maxclients).toBe(1000);
        expect(plan.redis.clients.map((client) => [client.database, client.maxConnections, client.purpose])).toEqual([
            [0, 20, "Session management"],
            [1, 30, "API response cache"],
            [2, 15, "Job queues"],
            [3, 10, "Real-time events"],
            [4, 20, "Conversation context"],
            [5, 10, "Rate limiting"],
        ]);
        expect(plan.redis.clients.reduce((sum, client) => sum + client.maxConnections, 0)).toBe(105);
        expect(plan.redis.databases).toBeGreaterThanOrEqual(6);
        expect([plan.redis.hostname, plan.redis.port]).toEqual(["zentoria-redis", 6379]);
    });

    test("section 4: Qdrant ports and 4.2's limits", () => {
        expect([plan.qdrant.hostname, plan.qdrant.httpPort, plan.qdrant.grpcPort]).toEqual(["zentoria-embeddings", 6333, 6334]);
        expect(plan.qdrant.operations.map((operation) => [operation.name, operation.concurrency, operation.timeoutSeconds])).toEqual([
            ["vectorSearch", 10, 5],
            ["batchUpsert", 5, 30],
            ["collectionOperations", 2, 60],
        ]);
        expect([plan.qdrant.httpMaxSockets, plan.qdrant.httpMaxFreeSockets]).toEqual([50, 10]);
    });

    test("section 6.1: timeouts", () => {
        expect(plan.timeouts).toEqual({ connectSeconds: 10, querySeconds: 30, idleSeconds: 60 });
    });

    test("everything is published on loopback only", () => {
        expect(
            [plan.postgres.publish, plan.pgbouncer.publish, plan.redis.publish, plan.qdrant.publishHttp, plan.qdrant.publishGrpc].map((publish) => publish.address),
        ).toEqual(Array(5).fill("127.0.0.1"));
    });

    test("the plan cannot be changed by the code that reads it", () => {
        expect(Object.isFrozen(plan.pgbouncer)).toBe(true);
        expect(() => {
            (plan.pools as unknown as unknown[]).push({});
        }).toThrow();
    });
});

describe("bad input is refused with the key and the reason", () => {
    test("wrong type", () => {
        expect(errorFor({ postgres: { hostPort: "5432x" } }, "postgres.hostPort")).toMatch(/Expected number, received string/);
    });

    test("unknown keys, nested and top-level", () => {
        expect(errorFor({ pgbouncer: { poolSzie: 3 } }, "pgbouncer.poolSzie")).toBe("unknown key");
        expect(errorFor({ "postgres.hostPort": 5433 }, "postgres.hostPort")).toMatch(/pulumi config set --path/);
    });

    test("zero and negative sizes", () => {
        expect(errorFor({ pgbouncer: { defaultPoolSize: 0 } }, "pgbouncer.defaultPoolSize")).toMatch(/greater than 0/);
        expect(errorFor({ services: { backend: { pools: { zentoria_main: { poolSize: -1 } } } } }, "services.backend.pools.zentoria_main.poolSize")).toMatch(/greater than 0/);
        expect(errorFor({ pgbouncer: { reservePoolSize: -5 } }, "pgbouncer.reservePoolSize")).toMatch(/greater than or equal to 0/);
    });

    test("an unknown pool mode", () => {
        expect(errorFor({ pgbouncer: { poolMode: "batch" } }, "pgbouncer.poolMode")).toBe("batch is not one of session, transaction, statement");
    });

    test("a port used twice", () => {
        expect(errorFor({ redis: { hostPort: 5432 } }, "redis.hostPort")).toBe("host port 5432 is already used by postgres.hostPort");
        expect(errorFor({ pgbouncer: { hostname: "zentoria-redis" } }, "redis.hostname")).toBe("host name zentoria-redis is already used by pgbouncer.hostname");
        expect(errorFor({ qdrant: { grpcPort: 6333 } }, "qdrant.grpcPort")).toMatch(/already used by qdrant.httpPort/);
    });

    test("a missing required value", () => {
        expect(errorFor({ services: { analytics: { driver: "libpq", sslmode: "prefer", pools: {} } } }, "services.analytics.role")).toBe("Required");
    });

    test("references to things that do not exist", () => {
        expect(errorFor({ services: { backend: { role: "nobody" } } }, "services.backend.role")).toMatch(/not defined in roles/);
        expect(errorFor({ databases: { zentoria_main: { owner: "readonly" } } }, "databases.zentoria_main.owner")).toMatch(/must be an application role/);
        expect(errorFor({ redis: { clients: { cache: { database: 16 } } } }, "redis.clients.cache.database")).toMatch(/does not exist/);
        expect(errorFor({ qdrant: { services: ["frontend"] } }, "qdrant.services")).toMatch(/"frontend" is not defined/);
    });

    test("two pools answering to one PgBouncer database name", () => {
        expect(errorFor({ services: { n8n: { pools: { zentoria_main: { alias: "zentoria_main_ai" } } } } }, "services.n8n.pools.zentoria_main.alias")).toMatch(
            /also used by services.ai_orchestrator.pools.zentoria_main/,
        );
        expect(errorFor({ services: { n8n: { pools: { zentoria_main: { alias: "n8n" } } } } }, "services.n8n.pools.zentoria_main.alias")).toMatch(
            /name of another database/,
        );
    });

    test("unpinned images", () => {
        expect(errorFor({ redis: { image: "redis:latest" } }, "redis.image")).toMatch(/latest/);
        expect(errorFor({ qdrant: { image: "qdrant/qdrant" } }, "qdrant.image")).toMatch(/pinned/);
        expect(errorKeys({ qdrant: { image: `qdrant/qdrant@sha256:${"a".repeat(64)}` } })).toEqual([]);
    });

    test("a public address without the explicit opt-in", () => {
        expect(errorFor({ bindAddress: "0.0.0.0" }, "bindAddress")).toMatch(/allowPublicBind/);
        expect(errorKeys({ bindAddress: "0.0.0.0", allowPublicBind: true, tls: { enabled: true } })).toEqual([]);
    });

    test("a public address without TLS: one line naming tls.enabled (issue 11)", () => {
        expect(errorKeys({ bindAddress: "0.0.0.0", allowPublicBind: true })).toEqual(["tls.enabled"]);
        expect(errorFor({ bindAddress: "172.17.0.1", allowPublicBind: true }, "tls.enabled")).toBe(
            "must be true when the ports are published on 172.17.0.1 (allowPublicBind): every published port speaks TLS",
        );
        expect(errorFor({ tls: { inNetwork: true } }, "tls.inNetwork")).toMatch(/needs tls.enabled/);
        expect(errorKeys({ bindAddress: "127.0.0.1", tls: { enabled: true, inNetwork: true } })).toEqual([]);
        expect(errorFor({ tls: { extraNames: ["Bad Name"] } }, "tls.extraNames[0]")).toMatch(/DNS name/);
        expect(errorFor({ tls: { caFile: "relative/ca.crt" } }, "tls.caFile")).toMatch(/absolute path/);
    });

    test("an sslmode that needs TLS, which the servers do not have", () => {
        expect(errorFor({ services: { monitoring: { sslmode: "verify-full" } } }, "services.monitoring.sslmode")).toMatch(/needs TLS/);
        expect(errorKeys({ services: { monitoring: { sslmode: "verify-full" } }, tls: { enabled: true } })).toEqual([]);
    });

    test("monitoring on a stack whose servers speak TLS only is refused, naming the key", () => {
        expect(errorFor({ monitoring: { enabled: true }, tls: { enabled: true } }, "monitoring.enabled")).toMatch(/cannot be combined with tls.enabled/);
        expect(errorKeys({ monitoring: { enabled: true } })).toEqual([]);
    });

    test("settings the program owns cannot be overridden", () => {
        expect(errorFor({ postgres: { settings: { max_connections: 500 } } }, "postgres.settings.max_connections")).toMatch(/rendered by the program: set postgres.maxConnections/);
    });

    test("prepared statements on a PgBouncer that has none", () => {
        expect(errorFor({ pgbouncer: { image: "example/pgbouncer:1.18.0", maxPreparedStatements: 100 } }, "pgbouncer.maxPreparedStatements")).toMatch(/1\.21/);
    });

    test("every problem is reported at once, before anything else happens", () => {
        const values = {
            postgres: { hostPort: "x" },
            pgbouncer: { poolMode: "batch", defaultPoolSize: 0 },
            redis: { maxclients: -1 },
            bogus: true,
        };
        expect(errorKeys(values)).toEqual(["bogus", "pgbouncer.defaultPoolSize", "pgbouncer.poolMode", "postgres.hostPort", "redis.maxclients"]);
        let thrown: unknown;
        try {
            loadPlan(rawConfig(values));
        } catch (error) {
            thrown = error;
        }
        expect(thrown).toBeInstanceOf(StackConfigError);
        const message = (thrown as Error).message;
        expect(message).toMatch(/5 problem\(s\)/);
        for (const key of ["zentoria:bogus", "zentoria:pgbouncer.defaultPoolSize", "zentoria:pgbouncer.poolMode", "zentoria:postgres.hostPort", "zentoria:redis.maxclients"]) {
            expect(message).toContain(key);
        }
    });
});

describe("credentials", () => {
    const credentials = { postgres: { zentoria_app: "Given-Password-42" }, qdrantApiKey: "given-qdrant-key-0001" };

    test("given as a secret, they reach the plan", () => {
        const { plan } = loadPlan(rawConfig({ credentials }, ["credentials"]));
        expect(plan.providedCredentials.postgres?.zentoria_app).toBe("Given-Password-42");
    });

    test("given in plaintext, they are refused, each leaf by its key", () => {
        expect(errorKeys({ credentials })).toEqual(["credentials.postgres.zentoria_app", "credentials.qdrantApiKey"]);
    });

    test("characters that would break .env files or SCRAM are refused", () => {
        expect(errorKeys({ credentials: { postgres: { zentoria_app: "has space and $dollar" } } }, ["credentials"])).toEqual(["credentials.postgres.zentoria_app"]);
        expect(errorKeys({ credentials: { postgres: { zentoria_app: "short" } } }, ["credentials"])).toEqual(["credentials.postgres.zentoria_app"]);
        expect(errorKeys({ credentials: { postgres: { nobody: "Long-Enough-Password" } } }, ["credentials"])).toEqual(["credentials.postgres.nobody"]);
    });
});

describe("config sources", () => {
    test("Pulumi's config map: namespaced keys, JSON values, secret keys", () => {
        const raw = rawConfigFromPulumi(
            { "zentoria:postgres": '{"hostPort":15432}', "zentoria:prefix": "zentoria-x", "docker:host": "unix:///x", "zentoria:credentials": "{}" },
            (key) => key === "zentoria:credentials",
            "dev",
        );
        expect(raw.values).toEqual({ postgres: { hostPort: 15432 }, prefix: "zentoria-x", credentials: {} });
        expect([...raw.secretKeys]).toEqual(["credentials"]);
    });

    test("a stack file read without the CLI: encrypted leaves count as given secrets", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zentoria-"));
        const file = path.join(dir, "Pulumi.x.yaml");
        fs.writeFileSync(
            file,
            ["config:", "  zentoria:credentials:", "    postgres:", "      zentoria_app:", "        secure: v1:abc", "  zentoria:redis:", "    hostPort: 16379", ""].join("\n"),
        );
        const raw = rawConfigFromStackFile(file);
        expect(raw.values).toEqual({ credentials: { postgres: { zentoria_app: ENCRYPTED_PLACEHOLDER } }, redis: { hostPort: 16379 } });
        expect([...raw.secretKeys]).toEqual(["credentials"]);
        expect(tryPlan(raw).problems.filter((problem) => problem.severity === "error")).toEqual([]);
    });

    test.each(["dev", "prod"])("Pulumi.%s.yaml is a valid stack", (stack) => {
        const attempt = tryPlan(stackFile(stack));
        expect(attempt.problems.filter((problem) => problem.severity === "error")).toEqual([]);
        expect(attempt.plan).toBeDefined();
    });

    test("prod differs from dev where an environment should", () => {
        const dev = loadPlan(stackFile("dev")).plan;
        const prod = loadPlan(stackFile("prod")).plan;
        expect(prod.prefix).not.toBe(dev.prefix);
        expect(prod.postgres.publish.port).not.toBe(dev.postgres.publish.port);
        expect(prod.postgres.volumeName).not.toBe(dev.postgres.volumeName);
        expect(prod.postgres.sharedBuffers).toBe("1GB");
    });
});

test("merging: objects merge, other values replace, null removes a default entry", () => {
    expect(mergeOverDefaults({ a: { b: 1, c: 2 }, list: [1, 2] }, { a: { c: 3 }, list: [9] })).toEqual({ a: { b: 1, c: 3 }, list: [9] });
    const merged = mergeOverDefaults(DEFAULT_CONFIG, { services: { monitoring: null } }) as typeof DEFAULT_CONFIG;
    expect(Object.keys(merged.services)).not.toContain("monitoring");
    expect(Object.keys(DEFAULT_CONFIG.services)).toContain("monitoring");
});
