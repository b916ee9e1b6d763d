// Each policy of policy/ over violating and compliant resources, with properties in the shape the
// engine hands them to a policy pack (camelCase inputs, secrets and unknowns in wire form).
import { messages, policyNamed, policyResource, ResourceInput, run, secret, UNKNOWN_STRING, urnOf } from "../../policy/harness";
import { imageRef } from "../../config/schema";
import { credentialIn, isLoopback, LABEL, stackCredentials, TYPES, unpinnedReason, zentoriaPolicies } from "../../policy/policies";

const CONTAINER = TYPES.container;

function container(name: string, props: Record<string, unknown>): ResourceInput {
    return {
        type: CONTAINER,
        name,
        props: {
            name,
            image: "sha256:" + "a".repeat(64),
            ports: [{ internal: 5432, external: 5432, ip: "127.0.0.1", protocol: "tcp" }],
            healthcheck: { tests: ["CMD", "pg_isready"], interval: "5s", timeout: "5s", retries: 12, startPeriod: "20s" },
            restart: "unless-stopped",
            envs: ["PGDATA=/var/lib/postgresql/data/pgdata", "POSTGRES_USER=postgres", "POSTGRES_PASSWORD_FILE=/etc/postgresql/superuser-verifier"],
            ...props,
        },
    };
}

describe("no-public-port (mandatory)", () => {
    const policy = policyNamed("no-public-port");
    const HINT =
        "publish on 127.0.0.1, or set zentoria:bindAddress with zentoria:allowPublicBind: true in the stack config (the program then labels the container zentoria.public-bind=<address>).";

    test("is mandatory", () => {
        expect(policy.enforcementLevel).toBe("mandatory");
    });

    test("accepts ports on 127.x and ::1", async () => {
        const ports = [
            { internal: 6333, external: 6333, ip: "127.0.0.1", protocol: "tcp" },
            { internal: 6334, external: 6334, ip: "127.10.0.2", protocol: "tcp" },
            { internal: 6379, external: 6379, ip: "::1", protocol: "tcp" },
        ];
        expect(await run(policy, [container("ok", { ports })])).toEqual([]);
        expect(await run(policy, [container("no-ports", { ports: undefined })])).toEqual([]);
    });

    test("reports a port on 0.0.0.0, a LAN address and one without ip, each once", async () => {
        const ports = [
            { internal: 5432, external: 5432, ip: "0.0.0.0", protocol: "tcp" },
            { internal: 6432, external: 6432, ip: "192.168.1.10", protocol: "tcp" },
            { internal: 6379, external: 6379 },
        ];
        const found = await run(policy, [container("zentoria-redis", { ports })]);
        expect(messages(found)).toEqual([
            `zentoria-redis publishes container port 5432/tcp as host port 5432 on address 0.0.0.0; ${HINT}`,
            `zentoria-redis publishes container port 6432/tcp as host port 6432 on address 192.168.1.10; ${HINT}`,
            `zentoria-redis publishes container port 6379/tcp as host port 6379 on every address (no ip given); ${HINT}`,
        ]);
        expect(found.every((violation) => violation.urn === urnOf(CONTAINER, "zentoria-redis"))).toBe(true);
    });

    test("reports the host network", async () => {
        expect(messages(await run(policy, [container("host", { networkMode: "host", ports: [] })]))).toEqual([
            "host uses the host network: every port it listens on is reachable on every address of the host.",
        ]);
    });

    test("accepts the address of the container's zentoria.public-bind label (the stack's zentoria:allowPublicBind), and only that one", async () => {
        const labels = [{ label: LABEL.publicBind, value: "192.168.1.10" }];
        const ports = [
            { internal: 5432, external: 5432, ip: "192.168.1.10", protocol: "tcp" },
            { internal: 6432, external: 6432, ip: "127.0.0.1", protocol: "tcp" },
            { internal: 6379, external: 6379, ip: "0.0.0.0", protocol: "tcp" },
        ];
        expect(messages(await run(policy, [container("public", { labels, ports })]))).toEqual([
            `public publishes container port 6379/tcp as host port 6379 on address 0.0.0.0; ${HINT}`,
        ]);
        const anyAddress = [{ label: LABEL.publicBind, value: "0.0.0.0" }];
        expect(await run(policy, [container("public", { labels: anyAddress, ports: [ports[2]] })])).toEqual([]);
        expect(await run(policy, [container("host", { labels: anyAddress, networkMode: "host", ports: [] })])).toEqual([]);
        expect(await run(policy, [container("host", { labels, networkMode: "host", ports: [] })])).toHaveLength(1);
    });

    test("loopback means 127.0.0.0/8 and ::1 only", () => {
        expect(["127.0.0.1", "127.255.0.9", "::1"].map(isLoopback)).toEqual([true, true, true]);
        expect(["0.0.0.0", "::", "10.0.0.1", "localhost", "", undefined].map(isLoopback)).toEqual([false, false, false, false, false, false]);
    });
});

describe("container-healthcheck and container-restart-policy (advisory)", () => {
    const healthcheck = policyNamed("container-healthcheck");
    const restart = policyNamed("container-restart-policy");

    test("are advisory", () => {
        expect([healthcheck.enforcementLevel, restart.enforcementLevel]).toEqual(["advisory", "advisory"]);
    });

    test("accept a container with a test and restart unless-stopped", async () => {
        expect(await run(healthcheck, [container("ok", {})])).toEqual([]);
        expect(await run(restart, [container("ok", {})])).toEqual([]);
    });

    test("report a missing, empty or NONE healthcheck", async () => {
        const found = await run(healthcheck, [
            container("missing", { healthcheck: undefined }),
            container("empty", { healthcheck: { tests: [] } }),
            container("disabled", { healthcheck: { tests: ["NONE"] } }),
        ]);
        expect(messages(found)).toEqual(["missing has no healthcheck test.", "empty has no healthcheck test.", "disabled has no healthcheck test."]);
        expect(found.map((violation) => violation.level)).toEqual(["advisory", "advisory", "advisory"]);
    });

    test('report restart "no", empty or unset', async () => {
        const found = await run(restart, [container("no", { restart: "no" }), container("empty", { restart: "" }), container("unset", { restart: undefined })]);
        expect(messages(found)).toEqual([
            'no has restart policy "no" (Docker\'s default "no"): it stays down after a crash or a reboot.',
            'empty has restart policy "" (Docker\'s default "no"): it stays down after a crash or a reboot.',
            'unset has restart policy "" (Docker\'s default "no"): it stays down after a crash or a reboot.',
        ]);
    });

    test("ignore resources of other types", async () => {
        expect(await run(healthcheck, [{ type: TYPES.volume, name: "v", props: { name: "v" } }])).toEqual([]);
    });
});

describe("data-volume-retained (mandatory, stack)", () => {
    const policy = policyNamed("data-volume-retained");
    const labels = (entries: Record<string, string>) => Object.entries(entries).map(([label, value]) => ({ label, value }));
    const volume = (name: string, service: string | undefined, opts: { protect?: boolean } = {}): ResourceInput => ({
        type: TYPES.volume,
        name,
        props: { name, labels: service ? labels({ "zentoria.stack": "zentoria", "zentoria.service": service }) : [] },
        opts,
    });
    const owner = (service: string, extra: Record<string, string> = {}, stack = "zentoria"): ResourceInput =>
        container(`${stack}-${service}`, { labels: labels({ "zentoria.stack": stack, "zentoria.service": service, ...extra }) });
    const owners = [owner("postgres"), owner("redis"), owner("qdrant")];

    test("is mandatory", () => {
        expect(policy.enforcementLevel).toBe("mandatory");
    });

    test("accepts the data services' volumes while their containers do not declare zentoria.data-retained=false (the default)", async () => {
        expect(await run(policy, [volume("pg", "postgres"), volume("redis", "redis"), volume("qdrant", "qdrant"), ...owners])).toEqual([]);
    });

    test("reports the volume of a service whose container says its data is not retained, unless it is protected", async () => {
        const resources = [volume("zentoria-redis-data", "redis"), volume("pg", "postgres"), owner("postgres"), owner("redis", { [LABEL.dataRetained]: "false" })];
        const found = await run(policy, resources);
        expect(messages(found)).toEqual([
            'zentoria-redis-data is deleted with the stack: zentoria:redis.retainDataOnDestroy is false and the volume is not protected. If that is intended, say so in this stack\'s policy config: {"data-volume-retained": {"notRetainedServices": ["redis"]}}.',
        ]);
        expect(found[0].urn).toBe(urnOf(TYPES.volume, "zentoria-redis-data"));
        expect(await run(policy, [volume("zentoria-redis-data", "redis", { protect: true }), owner("redis", { [LABEL.dataRetained]: "false" })])).toEqual([]);
    });

    test("matches a volume with the containers of its own stack only", async () => {
        const other = owner("redis", { [LABEL.dataRetained]: "false" }, "zentoria-prod");
        expect(await run(policy, [volume("zentoria-redis-data", "redis"), owner("redis"), other])).toEqual([]);
    });

    test("the stack's policy config waives it for the services it names, or disables it", async () => {
        const resources = [volume("zentoria-redis-data", "redis"), volume("pg", "postgres"), owner("redis", { [LABEL.dataRetained]: "false" }), owner("postgres", { [LABEL.dataRetained]: "false" })];
        const found = await run(policy, resources, { "data-volume-retained": { notRetainedServices: ["redis"] } });
        expect(found.map((violation) => violation.urn)).toEqual([urnOf(TYPES.volume, "pg")]);
        expect(await run(policy, resources, { "data-volume-retained": "disabled" })).toEqual([]);
        expect(policy.configSchema?.properties.notRetainedServices).toMatchObject({ type: "array", items: { enum: ["postgres", "redis", "qdrant", "monitoring", "backup"] } });
    });

    test("reports a volume of no data service, or with no container of its service, unless it is protected", async () => {
        const message =
            "scratch is not protected and has no zentoria.service label of a data service (postgres, redis, qdrant, monitoring, backup), so its retention cannot be verified; set protect: true.";
        expect(messages(await run(policy, [volume("scratch", undefined)]))).toEqual([message]);
        expect(messages(await run(policy, [volume("scratch", "pgbouncer")]))).toHaveLength(1);
        expect(await run(policy, [volume("scratch", undefined, { protect: true })])).toEqual([]);
        expect(messages(await run(policy, [volume("orphan", "qdrant")]))).toEqual([
            "orphan is not protected and no qdrant container of stack zentoria is there to declare its retention; set protect: true.",
        ]);
    });
});

describe("image-pinned (mandatory)", () => {
    const policy = policyNamed("image-pinned");
    const image = (name: string): ResourceInput => ({ type: TYPES.remoteImage, name: `image-${name}`, props: { name, keepLocally: true } });

    test("is mandatory", () => {
        expect(policy.enforcementLevel).toBe("mandatory");
    });

    test("accepts tags and digests", async () => {
        const pinned = ["pgvector/pgvector:0.8.1-pg15-bookworm", "ghcr.io/cloudnative-pg/pgbouncer:1.26.1", "localhost:5000/redis:7.4.6", `qdrant/qdrant@sha256:${"0".repeat(64)}`];
        expect(await run(policy, pinned.map(image))).toEqual([]);
    });

    test("reports latest and untagged images (a registry port is no tag)", async () => {
        expect(messages(await run(policy, ["redis:latest", "redis", "localhost:5000/redis"].map(image)))).toEqual([
            'image-redis:latest: "redis:latest" uses the mutable tag "latest".',
            'image-redis: "redis" has no tag, so Docker takes "latest".',
            'image-localhost:5000/redis: "localhost:5000/redis" has no tag, so Docker takes "latest".',
        ]);
    });

    test("checks a container's image: an image ID or a pinned reference passes, an unknown one (preview) is skipped", async () => {
        expect(await run(policy, [container("by-id", {}), container("by-tag", { image: "redis:7.4.6" }), container("preview", { image: UNKNOWN_STRING })])).toEqual([]);
        expect(messages(await run(policy, [container("latest", { image: "redis:latest" })]))).toEqual(['latest: "redis:latest" uses the mutable tag "latest".']);
    });

    test("the rule agrees with config/schema.ts's imageRef", () => {
        for (const ref of ["redis:7.4.6-bookworm", "redis:latest", "redis", "host:5000/redis", `redis@sha256:${"c".repeat(64)}`]) {
            expect(unpinnedReason(ref) === undefined).toBe(imageRef.safeParse(ref).success);
        }
    });
});

describe("role-connection-limit (mandatory)", () => {
    const policy = policyNamed("role-connection-limit");
    const role = (name: string, props: Record<string, unknown>): ResourceInput => ({
        type: TYPES.role,
        name: `zentoria-schema-role-${name}`,
        props: { name, password: secret("SCRAM-SHA-256$4096:c2FsdA==$a:b"), statementTimeout: 30000, ...props },
    });

    test("is mandatory", () => {
        expect(policy.enforcementLevel).toBe("mandatory");
    });

    test("accepts login roles with a limit, including 0, and roles that cannot log in", async () => {
        expect(await run(policy, [role("app", { login: true, connectionLimit: 95 }), role("locked", { login: true, connectionLimit: 0 }), role("group", { login: false })])).toEqual(
            [],
        );
    });

    test("reports a login role with -1 or no limit", async () => {
        expect(messages(await run(policy, [role("n8n_app", { login: true, connectionLimit: -1 }), role("readonly", { login: true })]))).toEqual([
            "login role n8n_app has no connection limit (connectionLimit -1, i.e. unlimited).",
            "login role readonly has no connection limit (connectionLimit unset, i.e. unlimited).",
        ]);
    });
});

describe("no-credential-in-env (mandatory)", () => {
    const policy = policyNamed("no-credential-in-env");

    test("is mandatory", () => {
        expect(policy.enforcementLevel).toBe("mandatory");
    });

    test("accepts plain settings and *_FILE paths", async () => {
        expect(await run(policy, [container("ok", {})])).toEqual([]);
        expect(await run(policy, [container("url", { envs: ["DATABASE_URL=postgresql://zentoria_app@zentoria-db:6432/zentoria_main", "KEYDB_HOST=x", "MAX_KEYS=5"] })])).toEqual([]);
    });

    test("reports credential names with literal values and URLs with passwords, never quoting them", async () => {
        const envs = [
            "POSTGRES_PASSWORD=hunter2hunter2",
            "QDRANT__SERVICE__API_KEY=abc123",
            "REDIS_URL=redis://backend:s3cret@zentoria-redis:6379/0",
            "APP_SETTING=Configured-Secret-Value-42",
            "GITHUB_TOKEN=",
        ];
        const found = await run(policy, [container("leaky", { envs })]);
        expect(messages(found)).toEqual([
            "leaky env #0 (POSTGRES_PASSWORD): POSTGRES_PASSWORD is set to a literal value; pass the credential as a file instead.",
            "leaky env #1 (QDRANT__SERVICE__API_KEY): QDRANT__SERVICE__API_KEY is set to a literal value; pass the credential as a file instead.",
            "leaky env #2 (REDIS_URL): a URL carries a password (scheme://user:password@host); pass the credential as a file instead.",
        ]);
        expect(messages(found).join("\n")).not.toMatch(/hunter2|abc123|s3cret/);
    });

    test("sees a secret env value as its plaintext, so a secret Output is judged by its content", async () => {
        const found = await run(policy, [container("secret-env", { envs: secret(["POSTGRES_PASSWORD=generated0123456789"]) })]);
        expect(messages(found)).toEqual(["secret-env env #0 (POSTGRES_PASSWORD): POSTGRES_PASSWORD is set to a literal value; pass the credential as a file instead."]);
    });

    test("skips entries unknown during preview (no-generated-secret-in-env looks at their origin)", async () => {
        expect(await run(policy, [container("preview", { envs: ["PGDATA=/data", UNKNOWN_STRING] })])).toEqual([]);
        expect(await run(policy, [container("preview-all", { envs: UNKNOWN_STRING })])).toEqual([]);
    });

    test("credentialIn reads .env text line by line, and knows the stack's credentials when given them", () => {
        expect(credentialIn("A=1\nexport REDIS_PASSWORD=x\n")).toBe("REDIS_PASSWORD is set to a literal value");
        expect(credentialIn("A=1\nB=2")).toBeUndefined();
        expect(credentialIn("B=Configured-Secret-Value-42", new Map([["Configured-Secret-Value-42", "env.backend"]]))).toBe("it contains the stack's credential handed out in env.backend");
    });
});

describe("no-generated-secret-in-env (mandatory, stack)", () => {
    const policy = policyNamed("no-generated-secret-in-env");
    const password = { type: "random:index/randomPassword:RandomPassword", name: "pg-zentoria_app-password", props: { length: 32 } };
    const network = { type: "docker:index/network:Network", name: "zentoria-network", props: { name: "zentoria-net" } };

    test("is mandatory", () => {
        expect(policy.enforcementLevel).toBe("mandatory");
    });

    test("reports envs computed from a RandomPassword, even when unknown during preview", async () => {
        const leaky = { ...container("zentoria-backend", { envs: UNKNOWN_STRING }), propertyDependencies: { envs: [policyResource(password)] } };
        const found = await run(policy, [password, leaky]);
        expect(messages(found)).toEqual([
            "zentoria-backend: envs are computed from RandomPassword pg-zentoria_app-password, a generated secret; pass it as a file instead.",
        ]);
        expect(found[0].urn).toBe(urnOf(CONTAINER, "zentoria-backend"));
    });

    test("accepts envs computed from other resources, and uploads computed from secrets", async () => {
        const fine = {
            ...container("zentoria-postgres", {}),
            propertyDependencies: { envs: [policyResource(network)], uploads: [policyResource(password)] },
        };
        expect(await run(policy, [password, network, fine])).toEqual([]);
    });
});

describe("no-plaintext-credential-output (mandatory, stack)", () => {
    const policy = policyNamed("no-plaintext-credential-output");
    const stack = (outputs: Record<string, unknown>): ResourceInput => ({ type: TYPES.stack, name: "zentoria-dev", props: outputs });

    test("is mandatory", () => {
        expect(policy.enforcementLevel).toBe("mandatory");
    });

    test("accepts credentials in the declared secret outputs and credential-free outputs", async () => {
        const outputs = {
            connectionStrings: secret({ backend: { DATABASE_URL: "postgresql://zentoria_app:pw123456789012@zentoria-db:6432/zentoria_main" } }),
            env: secret({ backend: "DATABASE_URL=postgresql://zentoria_app:pw123456789012@zentoria-db:6432/zentoria_main\n" }),
            summary: { postgres: { published: "127.0.0.1:5432", image: "pgvector/pgvector:0.8.1-pg15-bookworm" } },
            connectionBudget: { warnings: [] },
        };
        expect(await run(policy, [stack(outputs)])).toEqual([]);
    });

    test("reports every other output holding a credential, by path, secret or not", async () => {
        const outputs = {
            adminUrl: "postgresql://postgres:pw123456789012@127.0.0.1:5432/postgres",
            debug: { redis: ["ok", secret("REDIS_PASSWORD=pw123456789012")] },
            later: UNKNOWN_STRING,
        };
        const found = await run(policy, [stack(outputs)]);
        expect(messages(found)).toEqual([
            "stack output adminUrl: a URL carries a password (scheme://user:password@host); export it with pulumi.secret() and list it in SECRET_OUTPUTS, or leave it out.",
            "stack output debug.redis[1]: REDIS_PASSWORD is set to a literal value; export it with pulumi.secret() and list it in SECRET_OUTPUTS, or leave it out.",
        ]);
        expect(found.every((violation) => violation.urn === urnOf(TYPES.stack, "zentoria-dev"))).toBe(true);
    });
});

describe("the stack's own credentials, as the pack learns them from the secret outputs", () => {
    // A password given in the stack's config (zentoria:credentials) has no shape to recognise; the
    // stack hands it out in its secret outputs, which the pack sees decrypted.
    const given = "Configured-Secret-Value-42";
    const generated = "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6";
    const stack: ResourceInput = {
        type: TYPES.stack,
        name: "zentoria-dev",
        props: {
            connectionStrings: secret({
                postgres: { backend: { zentoria_main: { pooled: `postgresql://zentoria_app:${encodeURIComponent(given)}@zentoria-db:6432/zentoria_main?sslmode=disable` } } },
                qdrant: { url: "http://zentoria-embeddings:6333", apiKey: generated, readOnlyApiKey: "short" },
            }),
            env: secret({ operators: `REDIS_ADMIN_PASSWORD=${generated}x\nPGHOST=zentoria-postgres\n` }),
            summary: { postgres: { image: "pgvector/pgvector:0.8.1-pg15-bookworm" } },
        },
    };

    test("stackCredentials: URL passwords, credential-named keys and variables, nothing shorter than 12 characters, nothing from other outputs", async () => {
        const [resource] = [policyResource(stack)];
        expect([...stackCredentials([resource])]).toEqual([
            [given, "connectionStrings.postgres.backend.zentoria_main.pooled"],
            [generated, "connectionStrings.qdrant.apiKey"],
            [`${generated}x`, "env.operators"],
        ]);
    });

    test("no-generated-secret-in-env reports an env var holding one, wherever it came from", async () => {
        const policy = policyNamed("no-generated-secret-in-env");
        const leaky = container("zentoria-backend", { envs: ["PGHOST=zentoria-db", `APP_SETTING=${given}`] });
        const found = await run(policy, [stack, leaky]);
        expect(messages(found)).toEqual([
            "zentoria-backend env #1 (APP_SETTING): it contains the stack's credential handed out in connectionStrings.postgres.backend.zentoria_main.pooled; pass it as a file instead.",
        ]);
        expect(found[0].urn).toBe(urnOf(CONTAINER, "zentoria-backend"));
        expect(await run(policy, [stack, container("fine", {})])).toEqual([]);
    });

    test("no-plaintext-credential-output reports another output holding one", async () => {
        const policy = policyNamed("no-plaintext-credential-output");
        const withDebug: ResourceInput = { ...stack, props: { ...stack.props, debug: { note: `key ${generated}` } } };
        expect(messages(await run(policy, [withDebug]))).toEqual([
            "stack output debug.note: it contains the stack's credential handed out in connectionStrings.qdrant.apiKey; export it with pulumi.secret() and list it in SECRET_OUTPUTS, or leave it out.",
        ]);
        expect(await run(policy, [stack])).toEqual([]);
    });
});

test("the pack: nine policies, seven of them mandatory", () => {
    const policies = zentoriaPolicies();
    expect(policies.map((policy) => `${policy.enforcementLevel} ${policy.name}`)).toEqual([
        "mandatory no-public-port",
        "mandatory no-credential-in-env",
        "mandatory no-generated-secret-in-env",
        "mandatory no-plaintext-credential-output",
        "mandatory data-volume-retained",
        "mandatory image-pinned",
        "mandatory role-connection-limit",
        "advisory container-healthcheck",
        "advisory container-restart-policy",
    ]);
});
