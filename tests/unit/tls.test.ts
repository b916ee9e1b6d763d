// TLS when exposed (issue 11): what the renderers write with tls.enabled, the connection
// strings that ask for it, and the certificates the program issues (real ones, under mocks).
import { createPrivateKey, X509Certificate } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { loadPlan, tryPlan } from "../../config";
import { StackPlan } from "../../config/plan";
import { CONTAINER_LAYOUT } from "../../render/layout";
import { connectionStrings, envFiles, networkEndpoints, publishedEndpoints } from "../../render/connections";
import { renderPgbouncerHba, renderPgbouncerIni } from "../../render/pgbouncer";
import { hbaRules, renderPgHbaConf, renderPostgresqlConf } from "../../render/postgresql";
import { renderQdrantConfig } from "../../render/qdrant";
import { renderRedisConf } from "../../render/redis";
import { tlsFiles, tlsSubjectNames } from "../../render/tls";
import { issueAll } from "../../components/tls";
import { needsIssuing, RENEW_BEFORE_DAYS } from "../../components/live/certificates";
import { isSecretValue, MOCK_CONTAINER_ADDRESS, MOCK_GATEWAY, MOCK_SUBNET, plain, recorded } from "./support/mocks";
import { rawConfig } from "./support/config";
import { buildTier } from "./support/tier";

const PUBLIC = { bindAddress: "172.17.0.1", allowPublicBind: true, tls: { enabled: true, extraNames: ["db.example.org"] } };
const network = { subnet: MOCK_SUBNET, gateway: MOCK_GATEWAY };

function planOf(values: Record<string, unknown>): StackPlan {
    return loadPlan(rawConfig(values)).plan;
}

const credentials = {
    postgres: { postgres: "pw-postgres", zentoria_app: "pw-app", n8n_app: "pw-n8n", readonly: "pw-ro", zentoria_monitor: "pw-mon" },
    pgbouncerAdmin: "pw-admin",
    redis: { admin: "r-admin", monitor: "r-mon", healthcheck: "r-hc", backend: "r-backend", n8n: "r-n8n", pubsub: "r-pubsub", ai_orchestrator: "r-ai" },
    qdrantApiKey: "q-key",
    qdrantReadOnlyApiKey: "q-ro",
};

describe("the servers' files with tls.enabled", () => {
    const plan = planOf(PUBLIC);

    test("postgresql.conf: ssl on with the certificate and key from the config volume", () => {
        const conf = renderPostgresqlConf(plan, CONTAINER_LAYOUT);
        expect(conf).toMatch(/^ssl = on$/m);
        expect(conf).toContain("ssl_cert_file = '/etc/postgresql/server.crt'");
        expect(conf).toContain("ssl_key_file = '/etc/postgresql/server.key'");
        expect(renderPostgresqlConf(planOf({}), CONTAINER_LAYOUT)).not.toMatch(/^ssl/m);
    });

    test("pg_hba.conf: plain text on the network, TLS only from beyond the host, the superuser only from the host, reject last", () => {
        const lines = renderPgHbaConf(hbaRules(plan, network))
            .split("\n")
            .filter((line) => /^(local|host)/.test(line));
        expect(lines).toContain("host  all  postgres  172.30.0.1/32  scram-sha-256");
        // The superuser: the socket and the gateway only (the provider comes through the loopback binding).
        expect(lines.filter((line) => / postgres /.test(line))).toEqual(["local  all  postgres  peer map=superuser", "host  all  postgres  172.30.0.1/32  scram-sha-256"]);
        expect(lines).toContain("host  zentoria_main,zentoria_vectors  zentoria_app  172.30.0.0/16  scram-sha-256");
        expect(lines).toContain("hostssl  zentoria_main,zentoria_vectors  zentoria_app  0.0.0.0/0  scram-sha-256");
        // The superuser never from anywhere else, over TLS or not.
        expect(lines.filter((line) => / postgres /.test(line) && /0\.0\.0\.0\/0|::\/0/.test(line) && !/reject/.test(line))).toEqual([]);
        // Published beyond the host: plain text from the gateway is refused before anything else.
        expect(lines[2]).toBe("hostnossl  all  all  172.30.0.1/32  reject");
        // Plain-text lines name the network or the gateway only.
        expect(lines.filter((line) => line.startsWith("host ") && !/reject/.test(line)).every((line) => /172\.30\.0\.(0\/16|1\/32)/.test(line))).toBe(true);
        expect(lines.slice(-2)).toEqual(["host  all  all  0.0.0.0/0  reject", "host  all  all  ::/0  reject"]);
    });

    test("pg_hba.conf with tls.inNetwork: hostssl on the network too", () => {
        const inNetwork = planOf({ tls: { enabled: true, inNetwork: true } });
        const lines = renderPgHbaConf(hbaRules(inNetwork, network)).split("\n");
        expect(lines.filter((line) => line.startsWith("host ") && !/reject/.test(line))).toEqual([]);
        // Loopback bind: nothing is published beyond the host, so no line for 0.0.0.0/0 but the reject.
        expect(lines.filter((line) => /0\.0\.0\.0\/0/.test(line))).toEqual(["host  all  all  0.0.0.0/0  reject"]);
    });

    test("pgbouncer.ini: TLS on the client side, an HBA file that requires it from beyond the host", () => {
        const ini = renderPgbouncerIni(plan, CONTAINER_LAYOUT);
        expect(ini).toMatch(/^auth_type = hba$/m);
        expect(ini).toMatch(/^auth_hba_file = \/etc\/pgbouncer\/pgbouncer_hba.conf$/m);
        expect(ini).toMatch(/^client_tls_sslmode = prefer$/m);
        expect(ini).toMatch(/^client_tls_key_file = \/etc\/pgbouncer\/server.key$/m);
        expect(ini).not.toMatch(/server_tls_sslmode/);
        expect(ini.match(/^auth_type/gm)).toHaveLength(1);
        const hba = renderPgbouncerHba(plan, network).split("\n").filter((line) => /^host/.test(line));
        expect(hba).toEqual([
            "host  all  all  127.0.0.1/32  scram-sha-256",
            "hostnossl  all  all  172.30.0.1/32  reject",
            "host  all  all  172.30.0.0/16  scram-sha-256",
            "hostssl  all  all  0.0.0.0/0  scram-sha-256",
            "host  all  all  0.0.0.0/0  reject",
        ]);
        const inNetwork = renderPgbouncerIni(planOf({ tls: { enabled: true, inNetwork: true } }), CONTAINER_LAYOUT);
        expect(inNetwork).toMatch(/^client_tls_sslmode = require$/m);
        expect(inNetwork).toMatch(/^server_tls_sslmode = verify-full$/m);
        expect(inNetwork).toMatch(/^server_tls_ca_file = \/etc\/pgbouncer\/ca.crt$/m);
    });

    test("redis.conf: the service port speaks TLS only, no client certificates", () => {
        const conf = renderRedisConf(plan.redis, CONTAINER_LAYOUT, tlsFiles(CONTAINER_LAYOUT.redis.configDirectory));
        expect(conf).toMatch(/^port 0$/m);
        expect(conf).toMatch(/^tls-port 6379$/m);
        expect(conf).toMatch(/^tls-auth-clients no$/m);
        expect(conf).toMatch(/^tls-key-file \/usr\/local\/etc\/redis\/server.key$/m);
        expect(renderRedisConf(plan.redis, CONTAINER_LAYOUT)).toMatch(/^port 6379$/m);
    });

    test("Qdrant's config: enable_tls with the files", () => {
        const text = renderQdrantConfig(plan.qdrant, CONTAINER_LAYOUT, { apiKey: "a".repeat(32), readOnlyApiKey: "b".repeat(32) }, tlsFiles(CONTAINER_LAYOUT.qdrant.configDirectory));
        expect(text).toContain("enable_tls: true");
        expect(text).toContain('cert: "/qdrant/zentoria/server.crt"');
        expect(text).toContain('key: "/qdrant/zentoria/server.key"');
    });
});

describe("connection strings ask for TLS", () => {
    test("through the published ports: verify-full with the CA file, rediss, https; the CA file's variables", () => {
        const plan = planOf(PUBLIC);
        const strings = connectionStrings(plan, credentials, publishedEndpoints(plan));
        const pooled = new URL(strings.postgres.backend.zentoria_main.pooled);
        expect([pooled.host, pooled.searchParams.get("sslmode"), pooled.searchParams.get("sslrootcert")]).toEqual(["172.17.0.1:6432", "verify-full", "/etc/zentoria/ca.crt"]);
        const asyncpg = new URL(strings.postgres.ai_orchestrator.zentoria_main.pooled.replace("postgresql+asyncpg:", "postgresql:"));
        expect(asyncpg.searchParams.get("ssl")).toBe("verify-full");
        expect(strings.redis.cache).toMatch(/^rediss:\/\/backend:r-backend@172\.17\.0\.1:6379\/1$/);
        expect(strings.qdrant?.url).toBe("https://172.17.0.1:6333");
        expect(new URL(strings.pgbouncerAdmin).searchParams.get("sslmode")).toBe("verify-full");
        const env = envFiles(plan, credentials, publishedEndpoints(plan));
        expect(env.backend).toContain("NODE_EXTRA_CA_CERTS=/etc/zentoria/ca.crt\n");
        expect(env.n8n).toContain("DB_POSTGRESDB_SSL_CA=/etc/zentoria/ca.crt\n");
        expect(env.n8n).toContain("QUEUE_BULL_REDIS_TLS=true\n");
        expect(env.operators).toMatch(/^POSTGRES_SUPERUSER_URL='postgresql:.*sslmode=verify-full&sslrootcert=%2Fetc%2Fzentoria%2Fca.crt'$/m);
    });

    test("on the network: Redis and Qdrant always (they speak TLS only), PostgreSQL only with tls.inNetwork", () => {
        const plan = planOf(PUBLIC);
        const strings = connectionStrings(plan, credentials, networkEndpoints(plan));
        expect(new URL(strings.postgres.backend.zentoria_main.pooled).searchParams.get("sslmode")).toBe("disable");
        expect(strings.redis.cache.startsWith("rediss://backend:")).toBe(true);
        const inNetwork = planOf({ tls: { enabled: true, inNetwork: true } });
        const inNetworkStrings = connectionStrings(inNetwork, credentials, networkEndpoints(inNetwork));
        expect(new URL(inNetworkStrings.postgres.backend.zentoria_main.direct).searchParams.get("sslmode")).toBe("verify-full");
    });

    test("a pool variable named like one of the CA file's: refused by the config check with TLS, fine without", () => {
        const values = { services: { backend: { pools: { zentoria_main: { env: "PGSSLROOTCERT" } } } } };
        const clash = (extra: Record<string, unknown>) =>
            tryPlan(rawConfig({ ...values, ...extra })).problems.filter((problem) => problem.severity === "error").map((problem) => `${problem.key}: ${problem.message}`);
        expect(clash({ tls: { enabled: true } })).toContain("services.backend.pools.zentoria_main.env: would write PGSSLROOTCERT twice into backend's .env (also from tls.enabled)");
        expect(clash({})).toEqual([]);
    });

    test("without TLS nothing changes", () => {
        const plan = planOf({});
        const env = envFiles(plan, credentials, networkEndpoints(plan));
        expect(env.backend).not.toMatch(/rediss:|https:|sslrootcert|NODE_EXTRA_CA_CERTS/);
    });
});

describe("the certificates", () => {
    test("each server's names: host name, container name, loopback, the bind address and tls.extraNames", () => {
        const plan = planOf(PUBLIC);
        expect(tlsSubjectNames(plan, "pgbouncer")).toEqual({
            commonName: "zentoria-db",
            dnsNames: ["db.example.org", "localhost", "zentoria-db", "zentoria-pgbouncer"],
            ipAddresses: ["127.0.0.1", "172.17.0.1", "::1"],
        });
        // A wildcard bind address is no name.
        expect(tlsSubjectNames(planOf({ bindAddress: "0.0.0.0", allowPublicBind: true, tls: { enabled: true } }), "redis").ipAddresses).toEqual(["127.0.0.1", "::1"]);
    });

    test("issued by the stack's CA, for exactly the names asked, kept while good, issued again when the names change", () => {
        const request = { commonName: "zentoria-postgres", dnsNames: ["zentoria-postgres"], ipAddresses: ["127.0.0.1"] };
        const first = issueAll({ caName: "test CA", requests: { postgres: request }, validityDays: 90 });
        const ca = new X509Certificate(first.caCertificate);
        const leaf = new X509Certificate(first.certificates.postgres.certificate);
        expect([ca.ca, leaf.ca, leaf.checkIssued(ca), leaf.verify(ca.publicKey)]).toEqual([true, false, true, true]);
        expect(leaf.subjectAltName).toBe("DNS:zentoria-postgres, IP Address:127.0.0.1");
        expect(leaf.checkPrivateKey(createPrivateKey(first.privateKeys.postgres))).toBe(true);
        expect(first.privateKeys.postgres).toMatch(/^-----BEGIN PRIVATE KEY-----/);
        expect(first.caCertificate).not.toContain("PRIVATE KEY");

        const same = issueAll({ caName: "test CA", requests: { postgres: request }, validityDays: 90 }, first);
        expect(same.certificates.postgres).toEqual(first.certificates.postgres);
        const renamed = issueAll({ caName: "test CA", requests: { postgres: { ...request, dnsNames: ["db"] } }, validityDays: 90 }, first);
        expect(renamed.caCertificate).toBe(first.caCertificate);
        expect(new X509Certificate(renamed.certificates.postgres.certificate).subjectAltName).toBe("DNS:db, IP Address:127.0.0.1");
        // Close to its end: issued again on the next up.
        const late = new Date(new Date(first.certificates.postgres.notAfter).getTime() - (RENEW_BEFORE_DAYS - 1) * 86_400_000);
        expect(needsIssuing({ ...first.certificates.postgres, privateKey: "" }, request, request, late)).toBe(true);
        expect(needsIssuing({ ...first.certificates.postgres, privateKey: "" }, request, request)).toBe(false);
    }, 60_000);

    test("the program: keys only as secrets on the config volumes (0600, the server's user), the CA certificate exported in clear", async () => {
        const built = await buildTier(PUBLIC);
        const ca = await new Promise<string>((resolve) => built.tier.tls!.caCertificate.apply(resolve));
        expect(await new Promise((resolve) => (built.tier.tls!.caCertificate as any).isSecret.then(resolve))).toBe(false);
        const configs = recorded.filter((resource) => resource.type === "pulumi-nodejs:dynamic:Resource" && resource.inputs.kind !== undefined && resource.inputs.files);
        const owners: Record<string, string> = { postgres: "postgres:postgres", pgbouncer: "pgbouncer:pgbouncer", redis: "redis:redis", qdrant: "qdrant:qdrant" };
        for (const server of ["postgres", "pgbouncer", "redis", "qdrant"]) {
            const config = configs.find((resource) => resource.inputs.kind === server)!;
            expect(isSecretValue(config.inputs.files)).toBe(true);
            const files = plain(config.inputs.files) as Array<{ name: string; content: string; mode: string; owner: string }>;
            const key = files.find((file) => file.name === "server.key")!;
            const certificate = files.find((file) => file.name === "server.crt")!;
            expect([server, key.mode, key.owner]).toEqual([server, "0600", owners[server]]);
            expect(new X509Certificate(certificate.content).checkPrivateKey(createPrivateKey(key.content))).toBe(true);
            expect(new X509Certificate(certificate.content).checkIssued(new X509Certificate(ca))).toBe(true);
            expect(files.find((file) => file.name === "ca.crt")?.content).toBe(ca);
        }
        // PostgreSQL's port on the public address only; the provider goes to the container's address on the network.
        const postgres = recorded.find((resource) => resource.type === "docker:index/container:Container" && resource.inputs.name === "zentoria-postgres")!;
        expect(plain(postgres.inputs.ports).map((port: { ip: string; external: number }) => `${port.ip}:${port.external}`)).toEqual(["172.17.0.1:5432"]);
        const provider = recorded.find((resource) => resource.type === "pulumi:providers:postgresql")!;
        expect([provider.inputs.host, provider.inputs.port, provider.inputs.sslmode]).toEqual([MOCK_CONTAINER_ADDRESS, "5432", "require"]);
        const privateKeys = built.tier.tls!.servers.postgres!.privateKey;
        expect(await pulumi.isSecret(privateKeys)).toBe(true);
    }, 120_000);
});
