// Which resources each component registers, with which inputs and options.
import { named, ofType, outputValue, plain, isSecretValue, fakePassword, recorded } from "./support/mocks";
import { buildTier, BuiltTier, optionsOf } from "./support/tier";

const CONTAINER = "docker:index/container:Container";
const VOLUME = "docker:index/volume:Volume";

function container(name: string) {
    return plain(named(CONTAINER, name).inputs);
}

function generatedPasswords(): string[] {
    return ofType("random:index/randomPassword:RandomPassword").map((resource) => fakePassword(resource.name));
}

describe("default stack", () => {
    let built: BuiltTier;
    beforeAll(async () => {
        built = await buildTier();
    });

    test("one private bridge network for the stack", () => {
        expect(ofType("docker:index/network:Network").map((resource) => plain(resource.inputs))).toEqual([
            expect.objectContaining({ name: "zentoria-net", driver: "bridge" }),
        ]);
    });

    test("every container: pinned image kept on destroy, healthcheck, restart policy, waits until healthy, replaced safely", () => {
        const containers = ofType(CONTAINER);
        expect(containers.map((resource) => resource.name).sort()).toEqual(["zentoria-pgbouncer", "zentoria-postgres", "zentoria-qdrant", "zentoria-redis"]);
        for (const resource of containers) {
            const inputs = plain(resource.inputs);
            expect(inputs.healthcheck.tests.length).toBeGreaterThan(1);
            expect(inputs.restart).toBe("unless-stopped");
            expect(inputs.wait).toBe(true);
            const options = optionsOf(built, CONTAINER, resource.name);
            expect(options.deleteBeforeReplace).toBe(true);
            expect(options.replaceOnChanges).toEqual(["healthcheck"]);
            expect(options.additionalSecretOutputs).toEqual(["uploads"]);
        }
        const images = ofType("docker:index/remoteImage:RemoteImage").map((resource) => plain(resource.inputs));
        expect(images.map((image) => image.name).sort()).toEqual([
            "ghcr.io/cloudnative-pg/pgbouncer:1.26.1",
            "pgvector/pgvector:0.8.1-pg15-bookworm",
            "qdrant/qdrant:v1.15.4",
            "redis:7.4.6-bookworm",
        ]);
        expect(images.every((image) => image.keepLocally === true)).toBe(true);
    });

    test("ports are published on 127.0.0.1 only, one port per service", () => {
        const published = ofType(CONTAINER).flatMap((resource) => plain(resource.inputs).ports ?? []);
        expect(published.map((port: any) => `${port.ip}:${port.external}->${port.internal}`).sort()).toEqual([
            "127.0.0.1:5432->5432",
            "127.0.0.1:6333->6333",
            "127.0.0.1:6334->6334",
            "127.0.0.1:6379->6379",
            "127.0.0.1:6432->6432",
        ]);
    });

    test("the spec's host names are network aliases", () => {
        const aliases = Object.fromEntries(
            ofType(CONTAINER).map((resource) => [resource.name, plain(resource.inputs).networksAdvanced.flatMap((network: any) => network.aliases)]),
        );
        expect(aliases).toEqual({
            "zentoria-pgbouncer": ["zentoria-db"],
            "zentoria-postgres": ["zentoria-postgres"],
            "zentoria-qdrant": ["zentoria-embeddings"],
            "zentoria-redis": ["zentoria-redis"],
        });
    });

    test("no credential in any container's environment or command, and config files carrying secrets are secret inputs", () => {
        const passwords = generatedPasswords();
        for (const resource of ofType(CONTAINER)) {
            const inputs = plain(resource.inputs);
            const exposed = JSON.stringify([inputs.envs ?? [], inputs.command ?? [], inputs.entrypoints ?? [], inputs.healthcheck, inputs.labels]);
            for (const password of passwords) {
                expect(exposed).not.toContain(password);
            }
        }
        // Every container's uploads carry a verifier, a hash or a key, so the whole list is sent as a secret.
        for (const name of ["zentoria-pgbouncer", "zentoria-redis", "zentoria-qdrant", "zentoria-postgres"]) {
            expect(isSecretValue(named(CONTAINER, name).inputs.uploads)).toBe(true);
        }
    });

    test("PostgreSQL: rendered config mounted, data on the named volume, superuser from a verifier file, TCP healthcheck", () => {
        const postgres = container("zentoria-postgres");
        expect(postgres.command).toEqual(["postgres", "-c", "config_file=/etc/postgresql/postgresql.conf"]);
        expect(postgres.envs).toEqual([
            "PGDATA=/var/lib/postgresql/data/pgdata",
            "POSTGRES_USER=postgres",
            "POSTGRES_PASSWORD_FILE=/etc/postgresql/superuser-verifier",
        ]);
        const files = Object.fromEntries(postgres.uploads.map((upload: any) => [upload.file, upload.content]));
        expect(Object.keys(files).sort()).toEqual(["/etc/postgresql/pg_hba.conf", "/etc/postgresql/postgresql.conf", "/etc/postgresql/superuser-verifier"]);
        expect(files["/etc/postgresql/superuser-verifier"]).toMatch(/^SCRAM-SHA-256\$4096:/);
        expect(files["/etc/postgresql/postgresql.conf"]).toContain("max_connections = 269\n");
        expect(postgres.volumes).toEqual([{ volumeName: "zentoria-pgdata", containerPath: "/var/lib/postgresql/data" }]);
        expect(postgres.healthcheck.tests).toEqual(["CMD", "pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "postgres"]);
        expect(postgres.labels).toContainEqual({ label: "zentoria.container", value: "404" });
    });

    test("data volumes survive pulumi destroy by default", () => {
        const volumes = ofType(VOLUME).map((resource) => [plain(resource.inputs).name, optionsOf(built, VOLUME, resource.name).retainOnDelete]);
        expect(volumes.sort()).toEqual([
            ["zentoria-pgdata", true],
            ["zentoria-qdrant-storage", true],
            ["zentoria-redis-data", true],
        ]);
    });

    test("PgBouncer: own container as zentoria-db, rendered ini and userlist, descriptors for every connection, created after the roles", () => {
        const pgbouncer = container("zentoria-pgbouncer");
        expect(pgbouncer.entrypoints).toEqual(["pgbouncer"]);
        expect(pgbouncer.command).toEqual(["/etc/pgbouncer/pgbouncer.ini"]);
        expect(pgbouncer.ulimits).toEqual([{ name: "nofile", soft: 4096, hard: 4096 }]);
        expect(pgbouncer.healthcheck.tests).toEqual(["CMD", "pg_isready", "-h", "127.0.0.1", "-p", "6432", "-d", "pgbouncer", "-U", "pgbouncer"]);
        const files = Object.fromEntries(pgbouncer.uploads.map((upload: any) => [upload.file, upload.content]));
        expect(files["/etc/pgbouncer/pgbouncer.ini"]).toContain("pool_mode = transaction\n");
        const userlist: string = files["/etc/pgbouncer/userlist.txt"];
        expect(userlist.trim().split("\n").map((line) => line.split(" ")[0])).toEqual(['"n8n_app"', '"pgbouncer"', '"zentoria_app"', '"zentoria_monitor"']);
        for (const password of generatedPasswords()) {
            expect(userlist).not.toContain(password);
        }
        // A client PgBouncer admits must find its role on the server: the component waits for every role.
        const dependsOn = optionsOf(built, "zentoria:index:PgBouncer", "zentoria-pgbouncer").dependsOn as unknown[];
        expect(dependsOn).toEqual(expect.arrayContaining(Object.values(built.tier.schema.roles)));
        expect(dependsOn).toHaveLength(4);
    });

    test("PgBouncer's verifiers are the ones its roles get in PostgreSQL", async () => {
        const userlist: string = container("zentoria-pgbouncer").uploads.find((upload: any) => upload.file.endsWith("userlist.txt")).content;
        for (const role of ["zentoria_app", "n8n_app", "zentoria_monitor"]) {
            const password = plain(named("postgresql:index/role:Role", `zentoria-schema-role-${role}`).inputs).password;
            expect(userlist).toContain(`"${role}" "${password}"`);
        }
    });

    test("Redis: rendered config with hashed ACL passwords, persistence volume, authenticated healthcheck", () => {
        const redis = container("zentoria-redis");
        expect(redis.command).toEqual(["redis-server", "/usr/local/etc/redis/redis.conf"]);
        expect(redis.volumes).toEqual([{ volumeName: "zentoria-redis-data", containerPath: "/data" }]);
        expect(redis.ulimits).toEqual([{ name: "nofile", soft: 1032, hard: 1032 }]);
        expect(redis.healthcheck.tests[0]).toBe("CMD-SHELL");
        expect(redis.healthcheck.tests[1]).toContain("--user healthcheck --pass \"$(cat /usr/local/etc/redis/healthcheck.pass)\"");
        const conf: string = redis.uploads.find((upload: any) => upload.file.endsWith("redis.conf")).content;
        expect(conf).toContain("user default reset\n");
        expect(conf).toMatch(/^user backend reset on #[0-9a-f]{64} /m);
        for (const password of generatedPasswords()) {
            expect(conf).not.toContain(password);
        }
    });

    test("Qdrant: API keys in the mounted config file, not in env vars; readiness probe without curl", () => {
        const qdrant = container("zentoria-qdrant");
        expect(qdrant.envs).toBeUndefined();
        expect(qdrant.volumes).toEqual([{ volumeName: "zentoria-qdrant-storage", containerPath: "/qdrant/storage" }]);
        expect(qdrant.healthcheck.tests.slice(0, 2)).toEqual(["CMD", "bash"]);
        expect(qdrant.healthcheck.tests[3]).toContain("/dev/tcp/127.0.0.1/6333");
        const config: string = qdrant.uploads[0].content;
        expect(qdrant.uploads[0].file).toBe("/qdrant/config/production.yaml");
        expect(config).toContain(`api_key: "${fakePassword("qdrant-api-key-password")}"`);
        expect(config).toContain(`read_only_api_key: "${fakePassword("qdrant-read-only-api-key-password")}"`);
    });

    test("PostgreSQL objects: the provider waits for the container and connects without TLS on the published port", () => {
        const provider = plain(named("pulumi:providers:postgresql", "zentoria-schema-provider").inputs);
        expect(provider).toMatchObject({ host: "127.0.0.1", port: "5432", username: "postgres", sslmode: "disable", superuser: "true", database: "postgres" });
        const dependsOn = optionsOf(built, "pulumi:providers:postgresql", "zentoria-schema-provider").dependsOn as unknown[];
        expect(dependsOn).toContain(built.tier.postgres.container);
    });

    test("roles of section 2.5 with their CONNECTION LIMITs, statement_timeout and SCRAM verifiers; none for the superuser", () => {
        const roles = ofType("postgresql:index/role:Role").map((resource) => plain(resource.inputs));
        expect(roles.map((role) => [role.name, role.connectionLimit, role.statementTimeout, role.login, role.roles]).sort()).toEqual([
            ["n8n_app", 35, 30000, true, []],
            ["readonly", 10, 30000, true, []],
            ["zentoria_app", 95, 30000, true, []],
            ["zentoria_monitor", 15, 30000, true, ["pg_monitor"]],
        ]);
        for (const role of roles) {
            expect(role.password).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
        }
        expect(roles.some((role) => role.name === "postgres")).toBe(false);
        for (const resource of ofType("postgresql:index/role:Role")) {
            expect(isSecretValue(resource.inputs.password)).toBe(true);
        }
    });

    test("databases with owners, pgvector in zentoria_vectors", () => {
        const databases = ofType("postgresql:index/database:Database").map((resource) => plain(resource.inputs));
        expect(databases.map((db) => [db.name, db.owner]).sort()).toEqual([
            ["n8n", "n8n_app"],
            ["zentoria_main", "zentoria_app"],
            ["zentoria_vectors", "zentoria_app"],
        ]);
        expect(ofType("postgresql:index/extension:Extension").map((resource) => plain(resource.inputs))).toEqual([{ name: "vector", database: "zentoria_vectors" }]);
    });

    test("databases, roles and grants stay in PostgreSQL when the stack is destroyed with its data kept", () => {
        const objects = recorded.filter((resource) => resource.type.startsWith("postgresql:index/"));
        expect(objects.length).toBeGreaterThan(20);
        for (const resource of objects) {
            expect([resource.name, optionsOf(built, resource.type, resource.name).retainOnDelete]).toEqual([resource.name, true]);
        }
    });

    test("grants: readonly reads every application database, n8n writes zentoria_main, the monitor only connects", () => {
        const grants = ofType("postgresql:index/grant:Grant")
            .map((resource) => plain(resource.inputs))
            .filter((grant) => grant.role !== "public")
            .map((grant) => `${grant.database}/${grant.role}/${grant.objectType}:${grant.privileges.join(",")}`)
            .sort();
        expect(grants).toEqual([
            "n8n/readonly/database:CONNECT",
            "n8n/readonly/sequence:SELECT",
            "n8n/readonly/table:SELECT",
            "n8n/zentoria_monitor/database:CONNECT",
            "zentoria_main/n8n_app/database:CONNECT",
            "zentoria_main/n8n_app/sequence:USAGE,SELECT,UPDATE",
            "zentoria_main/n8n_app/table:SELECT,INSERT,UPDATE,DELETE",
            "zentoria_main/readonly/database:CONNECT",
            "zentoria_main/readonly/sequence:SELECT",
            "zentoria_main/readonly/table:SELECT",
            "zentoria_main/zentoria_monitor/database:CONNECT",
            "zentoria_vectors/readonly/database:CONNECT",
            "zentoria_vectors/readonly/sequence:SELECT",
            "zentoria_vectors/readonly/table:SELECT",
            "zentoria_vectors/zentoria_monitor/database:CONNECT",
        ]);
        const defaults = ofType("postgresql:index/defaultPrivileges:DefaultPrivileges").map((resource) => plain(resource.inputs));
        expect(defaults.every((grant) => grant.owner === (grant.database === "n8n" ? "n8n_app" : "zentoria_app"))).toBe(true);
        for (const resource of ofType("postgresql:index/grant:Grant")) {
            expect(optionsOf(built, "postgresql:index/grant:Grant", resource.name).deleteBeforeReplace).toBe(true);
        }
    });

    test("generated passwords: 32 letters and digits", () => {
        const passwords = ofType("random:index/randomPassword:RandomPassword").map((resource) => plain(resource.inputs));
        expect(passwords.length).toBe(15);
        expect(passwords.every((password) => password.length === 32 && password.special === false)).toBe(true);
    });

    test("the connection strings are secret", async () => {
        const pulumi = await import("@pulumi/pulumi");
        expect(await pulumi.isSecret(built.tier.connectionStrings)).toBe(true);
        expect(await pulumi.isSecret(built.tier.envFiles)).toBe(true);
    });
});

describe("config switches", () => {
    test("Qdrant off: no Qdrant resources, no Qdrant variables", async () => {
        const { tier } = await buildTier({ qdrant: { enabled: false } });
        expect(recorded.filter((resource) => resource.name.includes("qdrant") && !resource.name.startsWith("qdrant-")).map((r) => r.name)).toEqual([]);
        const env = await outputValue(tier.envFiles);
        expect(env.backend).not.toContain("QDRANT");
    });

    test("no pgvector in the image: no extension", async () => {
        await buildTier({ postgres: { pgvector: false } });
        expect(ofType("postgresql:index/extension:Extension")).toEqual([]);
    });

    test("retainDataOnDestroy false: volumes are deleted with the stack", async () => {
        const built = await buildTier({ postgres: { retainDataOnDestroy: false } });
        expect(optionsOf(built, VOLUME, "zentoria-postgres-data").retainOnDelete).toBe(false);
        expect(optionsOf(built, "postgresql:index/database:Database", "zentoria-schema-db-zentoria_main").retainOnDelete).toBe(false);
        expect(optionsOf(built, VOLUME, "zentoria-redis-data").retainOnDelete).toBe(true);
    });

    test("a password given as a config secret replaces the generated one and reaches verifier and URLs", async () => {
        const given = "Given%Pass@word:42/x";
        const { tier } = await buildTier({ credentials: { postgres: { zentoria_app: given } } }, ["credentials"]);
        expect(recorded.some((resource) => resource.name === "pg-zentoria_app-password")).toBe(false);
        const strings = await outputValue(tier.connectionStrings);
        const url = new URL(strings.postgres.backend.zentoria_main.pooled);
        expect(decodeURIComponent(url.password)).toBe(given);
        expect(url.password).toBe(encodeURIComponent(given));
    });

    test("another bind address and prefix move every name and port", async () => {
        await buildTier({ prefix: "zentoria-e2e", postgres: { hostPort: 15432 }, pgbouncer: { hostPort: 16432 } });
        expect(container("zentoria-postgres").name).toBe("zentoria-e2e-postgres");
        expect(container("zentoria-pgbouncer").name).toBe("zentoria-e2e-pgbouncer");
        expect(container("zentoria-postgres").ports).toEqual([{ internal: 5432, external: 15432, ip: "127.0.0.1", protocol: "tcp" }]);
        expect(plain(named("pulumi:providers:postgresql", "zentoria-schema-provider").inputs).port).toBe("15432");
    });
});
