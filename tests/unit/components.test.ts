// Which resources each component registers, with which inputs and options.
import { configFiles, DYNAMIC, fakePassword, isSecretValue, MOCK_GATEWAY, MOCK_SUBNET, named, ofType, outputValue, plain, recorded, serverConfig } from "./support/mocks";
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
        expect(containers.map((resource) => resource.name).sort()).toEqual(["zentoria-backup", "zentoria-pgbouncer", "zentoria-postgres", "zentoria-qdrant", "zentoria-redis"]);
        for (const resource of containers) {
            const inputs = plain(resource.inputs);
            expect(inputs.healthcheck.tests.length).toBeGreaterThan(1);
            expect(inputs.restart).toBe("unless-stopped");
            expect(inputs.wait).toBe(true);
            const options = optionsOf(built, CONTAINER, resource.name);
            expect(options.deleteBeforeReplace).toBe(true);
            expect(options.replaceOnChanges).toEqual(["healthcheck"]);
            // No file content travels with a container: a changed file must not replace it.
            expect(inputs.uploads).toBeUndefined();
        }
        const images = ofType("docker:index/remoteImage:RemoteImage").map((resource) => plain(resource.inputs));
        expect(images.map((image) => image.name).sort()).toEqual([
            "ghcr.io/cloudnative-pg/pgbouncer:1.25.2",
            // PostgreSQL's, and the backup sidecar's (the same image, already on the host).
            "pgvector/pgvector:0.8.1-pg15-bookworm",
            "pgvector/pgvector:0.8.1-pg15-bookworm",
            "qdrant/qdrant:v1.15.4-unprivileged",
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
            ofType(CONTAINER).map((resource) => [resource.name, plain(resource.inputs).networksAdvanced.flatMap((network: any) => network.aliases ?? [])]),
        );
        expect(aliases).toEqual({
            // Nobody connects to the backup sidecar.
            "zentoria-backup": [],
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
        // Every server's files carry a verifier, a hash or a key, so the whole list is sent as a secret.
        for (const name of ["zentoria-pgbouncer-config", "zentoria-redis-config", "zentoria-qdrant-config", "zentoria-postgres-config"]) {
            expect(isSecretValue(named(DYNAMIC, name).inputs.files)).toBe(true);
            expect(isSecretValue(named(DYNAMIC, name).inputs.access)).toBe(true);
        }
        expect(isSecretValue(named(DYNAMIC, "zentoria-backup-store-files").inputs.files)).toBe(true);
        // The official entrypoint keeps what POSTGRES_PASSWORD_FILE names in the server's
        // environment: the server container is given no password variable at all.
        expect(JSON.stringify(container("zentoria-postgres").envs)).not.toMatch(/PASSWORD/);
    });

    test("every server: its files on a config volume mounted read-only, written by its ServerConfig before it starts", () => {
        const mounts: Record<string, string> = {
            "zentoria-postgres": "/etc/postgresql",
            "zentoria-pgbouncer": "/etc/pgbouncer",
            "zentoria-redis": "/usr/local/etc/redis",
            "zentoria-qdrant": "/qdrant/zentoria",
        };
        for (const [name, path] of Object.entries(mounts)) {
            const volumes = container(name).volumes as Array<{ volumeName: string; containerPath: string; readOnly?: boolean }>;
            const configMount = volumes.find((volume) => volume.containerPath === path);
            expect([name, configMount]).toEqual([name, { volumeName: `${name.replace("zentoria-qdrant", "zentoria-qdrant")}-config`, containerPath: path, readOnly: true }]);
            expect(serverConfig(`${name}-config`).volume).toBe(`${name}-config`);
            expect(serverConfig(`${name}-config`).container).toBe(container(name).name);
            const dependsOn = optionsOf(built, CONTAINER, name).dependsOn as unknown[];
            expect(dependsOn).toContain((built.tier as any)[{ "zentoria-postgres": "postgres", "zentoria-pgbouncer": "pgbouncer", "zentoria-redis": "redis", "zentoria-qdrant": "qdrant" }[name]!].config);
        }
    });

    test("hardening: no new privileges, every capability dropped, read-only root, memory limit, rotated logs", () => {
        for (const resource of ofType(CONTAINER)) {
            const inputs = plain(resource.inputs);
            expect([resource.name, inputs.securityOpts]).toEqual([resource.name, ["no-new-privileges:true"]]);
            expect([resource.name, inputs.capabilities]).toEqual([resource.name, { drops: ["ALL"], adds: [] }]);
            expect([resource.name, inputs.readOnly]).toEqual([resource.name, true]);
            expect(inputs.tmpfs["/tmp"]).toBe("rw,mode=1777");
            expect(inputs.memory).toBeGreaterThanOrEqual(256);
            expect(inputs.memorySwap).toBe(inputs.memory);
            expect(inputs.logDriver).toBe("json-file");
            expect(inputs.logOpts).toEqual({ "max-size": "10m", "max-file": "3" });
        }
        expect(container("zentoria-postgres").user).toBe("postgres");
        expect(container("zentoria-postgres").shmSize).toBe(256);
        expect(container("zentoria-postgres").memory).toBe(2048);
        expect(container("zentoria-redis").user).toBe("redis");
        expect(container("zentoria-postgres").tmpfs["/var/run/postgresql"]).toBe("rw,mode=1777");
    });

    test("PostgreSQL: files on its config volume, data on the named volume, the data directory initialised by the image's init step, TCP healthcheck", () => {
        const postgres = container("zentoria-postgres");
        expect(postgres.name).toBe("zentoria-postgres");
        expect(postgres.command).toEqual(["postgres", "-c", "config_file=/etc/postgresql/postgresql.conf"]);
        expect(postgres.envs).toEqual(["PGDATA=/var/lib/postgresql/data/pgdata"]);
        const files = configFiles("zentoria-postgres-config");
        expect(Object.keys(files).sort()).toEqual(["pg_hba.conf", "pg_ident.conf", "postgresql.conf", "superuser-verifier"]);
        expect(files["superuser-verifier"]).toMatch(/^SCRAM-SHA-256\$4096:/);
        expect(files["postgresql.conf"]).toContain("max_connections = 190\n");
        expect(postgres.volumes).toContainEqual({ volumeName: "zentoria-pgdata", containerPath: "/var/lib/postgresql/data" });
        expect(postgres.healthcheck.tests).toEqual(["CMD", "pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "postgres"]);
        expect(postgres.labels).toContainEqual({ label: "zentoria.container", value: "404" });
        const init = plain(named(DYNAMIC, "zentoria-postgres-data-directory").inputs);
        expect(init).toMatchObject({ dataVolume: "zentoria-pgdata", configVolume: "zentoria-postgres-config", pgdata: "/var/lib/postgresql/data/pgdata", superuser: "postgres", verifierFile: "superuser-verifier", majorVersion: 15 });
        expect(optionsOf(built, CONTAINER, "zentoria-postgres").dependsOn).toContain(built.tier.postgres.dataDirectory);
    });

    test("PostgreSQL: settings split by what applying them takes, from PostgreSQL's own contexts", () => {
        const config = serverConfig("zentoria-postgres-config");
        expect(Object.keys(config.restart).sort()).toEqual([
            "archive_mode",
            "hba_file",
            "ident_file",
            "listen_addresses",
            "max_connections",
            "port",
            "shared_buffers",
            "superuser_reserved_connections",
            "unix_socket_directories",
        ]);
        expect(config.live).toMatchObject({ idle_in_transaction_session_timeout: "60s", password_encryption: "scram-sha-256", default_text_search_config: "pg_catalog.english", timezone: "Etc/UTC" });
        expect(config.live).toMatchObject({ archive_timeout: "300s", archive_command: expect.stringContaining("/backups/postgres/wal/%f.gz") });
        expect(config.live["pg_hba.conf"]).toContain(`host  all  postgres  ${MOCK_GATEWAY}/32  scram-sha-256`);
    });

    test("pg_hba.conf: the superuser only over the socket and from the gateway, each role to its own databases, a reject last", () => {
        const rules = configFiles("zentoria-postgres-config")["pg_hba.conf"].split("\n").filter((line) => /^(local|host)/.test(line));
        expect(rules).toEqual([
            "local  all  postgres  peer map=superuser",
            "local  all  all  reject",
            `host  all  postgres  ${MOCK_GATEWAY}/32  scram-sha-256`,
            `host  n8n,zentoria_main  n8n_app  ${MOCK_SUBNET}  scram-sha-256`,
            `host  n8n,zentoria_main,zentoria_vectors  readonly  ${MOCK_SUBNET}  scram-sha-256`,
            `host  zentoria_main,zentoria_vectors  zentoria_app  ${MOCK_SUBNET}  scram-sha-256`,
            `host  n8n,postgres,zentoria_main,zentoria_vectors  zentoria_monitor  ${MOCK_SUBNET}  scram-sha-256`,
            `host  replication  zentoria_backup  ${MOCK_SUBNET}  scram-sha-256`,
            "host  all  all  0.0.0.0/0  reject",
            "host  all  all  ::/0  reject",
        ]);
        expect(configFiles("zentoria-postgres-config")["pg_ident.conf"]).toContain("superuser  postgres  postgres\n");
    });

    test("data volumes survive pulumi destroy by default", () => {
        const volumes = ofType(VOLUME).map((resource) => [plain(resource.inputs).name, optionsOf(built, VOLUME, resource.name).retainOnDelete]);
        expect(volumes.sort()).toEqual([
            ["zentoria-backup-config", true],
            ["zentoria-backups", true],
            ["zentoria-pgbouncer-config", true],
            ["zentoria-pgdata", true],
            ["zentoria-postgres-config", true],
            ["zentoria-qdrant-config", true],
            ["zentoria-qdrant-snapshots", true],
            ["zentoria-qdrant-storage", true],
            ["zentoria-redis-config", true],
            ["zentoria-redis-data", true],
        ]);
    });

    test("PgBouncer: own container as zentoria-db, rendered ini and userlist, descriptors for every connection, created after the roles", () => {
        const pgbouncer = container("zentoria-pgbouncer");
        expect(pgbouncer.entrypoints).toEqual(["pgbouncer"]);
        expect(pgbouncer.command).toEqual(["/etc/pgbouncer/pgbouncer.ini"]);
        expect(pgbouncer.ulimits).toEqual([{ name: "nofile", soft: 4096, hard: 4096 }]);
        expect(pgbouncer.healthcheck.tests).toEqual(["CMD", "pg_isready", "-h", "127.0.0.1", "-p", "6432", "-d", "pgbouncer", "-U", "pgbouncer"]);
        // PgBouncer 1.23+ waits for every client on SIGTERM; SIGINT lets running transactions finish, then exits.
        expect(pgbouncer.stopSignal).toBe("SIGINT");
        const files = configFiles("zentoria-pgbouncer-config");
        expect(files["pgbouncer.ini"]).toContain("pool_mode = transaction\n");
        expect(serverConfig("zentoria-pgbouncer-config").live).toMatchObject({ pool_mode: "transaction", "databases.zentoria_main": "host=zentoria-postgres port=5432 dbname=zentoria_main pool_size=20" });
        expect(serverConfig("zentoria-pgbouncer-config").restart).toEqual({});
        const userlist: string = files["userlist.txt"];
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
        const userlist = configFiles("zentoria-pgbouncer-config")["userlist.txt"];
        for (const role of ["zentoria_app", "n8n_app", "zentoria_monitor"]) {
            const password = plain(named("postgresql:index/role:Role", `zentoria-schema-role-${role}`).inputs).password;
            expect(userlist).toContain(`"${role}" "${password}"`);
            // A rotation reaches PostgreSQL and PgBouncer in one step, through PgBouncerConfig.
            expect(optionsOf(built, "postgresql:index/role:Role", `zentoria-schema-role-${role}`).ignoreChanges).toEqual(["password"]);
        }
        expect(optionsOf(built, "postgresql:index/role:Role", "zentoria-schema-role-readonly").ignoreChanges).toBeUndefined();
    });

    test("Redis: config and ACL file on its config volume, hashed passwords, persistence volume, authenticated healthcheck", () => {
        const redis = container("zentoria-redis");
        expect(redis.command).toEqual(["redis-server", "/usr/local/etc/redis/redis.conf"]);
        expect(redis.volumes).toContainEqual({ volumeName: "zentoria-redis-data", containerPath: "/data" });
        expect(redis.ulimits).toEqual([{ name: "nofile", soft: 4096, hard: 4096 }]);
        expect(redis.healthcheck.tests[0]).toBe("CMD-SHELL");
        // The password reaches redis-cli in its environment, never on its command line.
        expect(redis.healthcheck.tests[1]).toContain('REDISCLI_AUTH="$(cat /usr/local/etc/redis/healthcheck.pass)" redis-cli');
        expect(redis.healthcheck.tests[1]).not.toContain("--pass");
        const files = configFiles("zentoria-redis-config");
        expect(files["redis.conf"]).toContain("aclfile /usr/local/etc/redis/users.acl\n");
        expect(files["redis.conf"]).not.toMatch(/^user /m);
        expect(files["users.acl"]).toMatch(/^user default off /m);
        expect(files["users.acl"]).toMatch(/^user backend reset on #[0-9a-f]{64} /m);
        for (const password of generatedPasswords()) {
            expect(files["redis.conf"] + files["users.acl"]).not.toContain(password);
        }
        const config = serverConfig("zentoria-redis-config");
        expect(config.restart).toEqual({ databases: 16 });
        expect(config.live).toMatchObject({ maxclients: 1000, "maxmemory-policy": "noeviction", "tcp-keepalive": 30 });
    });

    test("Qdrant: API keys in the mounted config file, not in env vars; readiness probe without curl", () => {
        const qdrant = container("zentoria-qdrant");
        expect(qdrant.envs).toEqual(["QDRANT_INIT_FILE_PATH=/tmp/.qdrant-initialized"]);
        expect(qdrant.command).toEqual(["./entrypoint.sh", "--config-path", "/qdrant/zentoria/config.yaml"]);
        expect(qdrant.volumes).toContainEqual({ volumeName: "zentoria-qdrant-storage", containerPath: "/qdrant/storage" });
        // Snapshots on a volume, not under the image's WORKDIR (pitfall 25).
        expect(qdrant.volumes).toContainEqual({ volumeName: "zentoria-qdrant-snapshots", containerPath: "/qdrant/snapshots" });
        expect(qdrant.healthcheck.tests.slice(0, 2)).toEqual(["CMD", "bash"]);
        expect(qdrant.healthcheck.tests[3]).toContain("/dev/tcp/127.0.0.1/6333");
        const config = configFiles("zentoria-qdrant-config")["config.yaml"];
        expect(config).toContain('snapshots_path: "/qdrant/snapshots"');
        // Every change restarts Qdrant, and the preview says so without showing a key.
        expect(Object.keys(serverConfig("zentoria-qdrant-config").restart)).toEqual(["config.yaml"]);
        expect(JSON.stringify(serverConfig("zentoria-qdrant-config").restart)).not.toContain(fakePassword("qdrant-api-key-password"));
        expect(config).toContain(`api_key: "${fakePassword("qdrant-api-key-password")}"`);
        expect(config).toContain(`read_only_api_key: "${fakePassword("qdrant-read-only-api-key-password")}"`);
    });

    test("PostgreSQL objects: the provider waits for the container and connects without TLS on the published port", () => {
        const provider = plain(named("pulumi:providers:postgresql", "zentoria-schema-provider").inputs);
        expect(provider).toMatchObject({ host: "127.0.0.1", port: "5432", username: "postgres", sslmode: "disable", superuser: "true", database: "postgres" });
        const dependsOn = optionsOf(built, "pulumi:providers:postgresql", "zentoria-schema-provider").dependsOn as unknown[];
        expect(dependsOn).toContain(built.tier.postgres.container);
        // And after a restart that a config change brings, in the same `up`.
        expect(dependsOn).toContain(built.tier.postgres.config);
    });

    test("removing a role or grant from the plan takes the access away: the reconciler knows every role, grant and database", () => {
        const access = plain(named(DYNAMIC, "zentoria-schema-access").inputs);
        expect(access.roles).toEqual(["n8n_app", "readonly", "zentoria_app", "zentoria_monitor"]);
        expect(access.databases).toEqual(["n8n", "zentoria_main", "zentoria_vectors"]);
        expect(access.retainObjects).toBe(true);
        expect(access.socket).toEqual({ container: "zentoria-postgres", superuser: "postgres", socketDirectory: "/var/run/postgresql", port: 5432 });
        expect(access.grants).toContainEqual({ role: "readonly", database: "n8n", access: "readonly", owner: "n8n_app" });
    });

    test("roles of section 2.5 with their CONNECTION LIMITs, statement_timeout and SCRAM verifiers; none for the superuser", () => {
        const roles = ofType("postgresql:index/role:Role").map((resource) => plain(resource.inputs));
        expect(roles.map((role) => [role.name, role.connectionLimit, role.statementTimeout, role.login, role.roles, role.replication]).sort()).toEqual([
            ["n8n_app", 35, 30000, true, [], undefined],
            ["readonly", 10, 30000, true, [], undefined],
            ["zentoria_app", 95, 30000, true, [], undefined],
            // Base backups: replication only, exactly pg_basebackup's two connections.
            ["zentoria_backup", 2, undefined, true, undefined, true],
            ["zentoria_monitor", 15, 30000, true, ["pg_monitor"], undefined],
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
        // The backups' replication role among them (turning backups off drops it: tests/unit/backups.test.ts).
        expect(objects.map((resource) => resource.name)).toContain("zentoria-backup-role");
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
        // 16 of StackCredentials (the backup Redis user's among them) and the replication role's.
        expect(passwords.length).toBe(17);
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
        expect(plain(named(DYNAMIC, "zentoria-schema-access").inputs).retainObjects).toBe(false);
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
