// Issue 11: a stack published beyond the loopback address (the docker0 bridge's address of this
// machine, with allowPublicBind) speaks TLS on every published port, and with tls.inNetwork on
// its network too; the attacks on it are refused: plain text to a public port and on the
// network, a role that a later `pulumi up` removed. Its own prefix, so the default stack's
// sections are not disturbed.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { randomBytes } from "crypto";
import { Client } from "pg";
import Redis from "ioredis";
import { ciImages, freePort } from "./support/project";
import { Deployment, removeDockerObjects } from "./support/deployment";
import { AttackLog, execIn, hbaRefusal, inContainerOn, psqlScript, redisScript, refusalOf } from "./support/attacks";
import { leaked, stackCredentials, stateFilesText } from "./support/secrets";
import { loginsIn } from "./sections/attacks";

jest.setTimeout(15 * 60 * 1000);
const TIMEOUT = 10 * 60 * 1000;

const prefix = `zentoria-e2e-tls-${randomBytes(3).toString("hex")}`;
const CONTAINERS = { postgres: `${prefix}-postgres`, pgbouncer: `${prefix}-pgbouncer`, redis: `${prefix}-redis` };
const CONFIG_DIRECTORIES = { postgres: "/etc/postgresql", pgbouncer: "/etc/pgbouncer", redis: "/usr/local/etc/redis" };
const OWNERS = { postgres: "postgres", pgbouncer: "pgbouncer", redis: "redis" };
const REMOVED_ROLE = "e2e_removed";

const log = new AttackLog("public-tls", "a stack published on the docker0 address with TLS (allowPublicBind, tls.enabled; then tls.inNetwork switched on)");
const NETWORK = `${prefix}-net`;
let images: ReturnType<typeof ciImages>;
let deployment: Deployment;
let bindAddress: string;
let ports: { postgres: number; pgbouncer: number; redis: number };
let caFile: string;

/** A libpq URL from the outputs with the CA file of this test (the outputs name tls.caFile). */
function withCa(url: string): string {
    const parsed = new URL(url);
    parsed.searchParams.set("sslrootcert", caFile);
    return parsed.toString();
}

/** An in-network URL of the operators' .env as the Docker host reaches it: the public address and published port. */
function published(url: string, port: number): string {
    const parsed = new URL(url);
    parsed.hostname = bindAddress;
    parsed.port = String(port);
    return parsed.toString();
}

function plainText(url: string): string {
    const parsed = new URL(url);
    parsed.searchParams.delete("sslrootcert");
    parsed.searchParams.set("sslmode", "disable");
    return parsed.toString();
}

async function query(url: string, sql: string): Promise<Record<string, any>> {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
        return (await client.query(sql)).rows[0];
    } finally {
        await client.end();
    }
}

/** What a login attempt saw: the server's error, or NOT REFUSED with who it got in as. */
async function loginAttempt(url: string): Promise<string> {
    try {
        const row = await query(url, "SELECT current_user AS who");
        return `NOT REFUSED: logged in as ${row.who}`;
    } catch (error) {
        return (error as Error).message;
    }
}

async function operators(): Promise<string> {
    return (await deployment.envFiles()).operators;
}

function envUrl(env: string, variable: string): string {
    const match = new RegExp(`^${variable}=(.*)$`, "m").exec(env);
    if (!match) {
        throw new Error(`no ${variable}`);
    }
    return match[1].replace(/^'(.*)'$/, "$1");
}

beforeAll(async () => {
    images = ciImages();
    // An address of this machine that is not loopback: the default bridge's gateway (docker0).
    // (Node's os.networkInterfaces() leaves out a bridge without carrier, which docker0 is when no container uses it.)
    const bridge = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(execFileSync("ip", ["-4", "-o", "addr", "show", "docker0"], { encoding: "utf8" }))?.[1];
    if (!bridge) {
        throw new Error("the test publishes on the docker0 bridge's address, and this machine has no docker0 with an IPv4 address");
    }
    bindAddress = bridge;
    ports = { postgres: await freePort(), pgbouncer: await freePort(), redis: await freePort() };
    deployment = await Deployment.create(prefix, {
        "zentoria:bindAddress": bindAddress,
        "zentoria:allowPublicBind": true,
        "zentoria:tls": { enabled: true },
        "zentoria:postgres": { image: images.postgres17, pgvector: true, hostPort: ports.postgres },
        "zentoria:pgbouncer": { image: images.pgbouncer, hostPort: ports.pgbouncer },
        "zentoria:redis": { image: images.redis, hostPort: ports.redis },
        "zentoria:qdrant": { enabled: false },
        "zentoria:roles": { [REMOVED_ROLE]: { access: "readonly", connectionLimit: 3, directConnections: 1 } },
    });
    await deployment.up("coldUp");
    const outputs = await deployment.outputs();
    caFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "zentoria-e2e-ca-")), "ca.crt");
    fs.writeFileSync(caFile, outputs.caCertificate.value);
}, 15 * 60 * 1000);

afterAll(async () => {
    log.finish();
    if (deployment) {
        deployment.editConfig((config) => {
            for (const service of ["zentoria:postgres", "zentoria:redis"]) {
                config[service] = { ...config[service], retainDataOnDestroy: false };
            }
        });
        await deployment.up().catch((error) => process.stderr.write(`cleanup up failed: ${(error as Error).message}\n`));
        await deployment.destroyAndClean();
    } else {
        removeDockerObjects(prefix);
    }
}, 15 * 60 * 1000);

test("the CA certificate is an output in clear; the servers hold its certificate, their own, and a key of mode 0600 owned by their user", async () => {
    const outputs = await deployment.outputs();
    expect(outputs.caCertificate.secret).toBe(false);
    expect(outputs.caCertificate.value).toMatch(/^-----BEGIN CERTIFICATE-----/);
    for (const [server, container] of Object.entries(CONTAINERS) as Array<[keyof typeof CONTAINERS, string]>) {
        const directory = CONFIG_DIRECTORIES[server];
        expect(execIn(container, ["cat", `${directory}/ca.crt`]).output).toBe(outputs.caCertificate.value);
        expect([server, execIn(container, ["stat", "-c", "%a %U", `${directory}/server.key`]).output.trim()]).toEqual([server, `600 ${OWNERS[server]}`]);
    }
}, TIMEOUT);

test("the exported strings work as they are, with verify-full against the CA: PostgreSQL, PgBouncer, Redis over TLS", async () => {
    const strings = await deployment.hostStrings();
    const direct = strings.postgres.backend.zentoria_main.direct;
    expect(new URL(direct).hostname).toBe(bindAddress);
    expect(new URL(direct).searchParams.get("sslmode")).toBe("verify-full");
    expect((await query(withCa(direct), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).ssl).toBe(true);
    expect((await query(withCa(strings.postgres.backend.zentoria_main.pooled), "SELECT current_user AS who")).who).toBe("zentoria_app");
    expect(strings.redis.cache.startsWith("rediss://")).toBe(true);
    const redis = new Redis(strings.redis.cache, { tls: { ca: fs.readFileSync(caFile) }, maxRetriesPerRequest: 1 });
    try {
        expect(await redis.ping()).toBe("PONG");
    } finally {
        redis.disconnect();
    }
}, TIMEOUT);

test("plain text to the public PostgreSQL port: refused, for a service's role and for the superuser", async () => {
    const strings = await deployment.hostStrings();
    const service = await log.attempt("plain text to the public PostgreSQL port (a service's role)", "Docker host", hbaRefusal("zentoria_app", "zentoria_main", ", no encryption"), () =>
        loginAttempt(plainText(strings.postgres.backend.zentoria_main.direct)),
    );
    const superuser = await log.attempt("plain text to the public PostgreSQL port (the superuser)", "Docker host", hbaRefusal("postgres", "postgres", ", no encryption"), async () =>
        loginAttempt(plainText(published(envUrl(await operators(), "POSTGRES_SUPERUSER_URL"), ports.postgres))),
    );
    expect([service.refused, superuser.refused]).toEqual([true, true]);
}, TIMEOUT);

test("plain text to the public PgBouncer port: refused by its HBA file", async () => {
    const strings = await deployment.hostStrings();
    const outcome = await log.attempt("plain text to the public PgBouncer port", "Docker host", /login rejected/, () =>
        loginAttempt(plainText(strings.postgres.backend.zentoria_main.pooled)),
    );
    expect(outcome).toMatchObject({ refused: true });
}, TIMEOUT);

test("plain text to the public Redis port: the TLS-only port closes the connection", async () => {
    const strings = await deployment.hostStrings();
    const url = new URL(strings.redis.cache);
    const outcome = await log.attempt("plain text to the public Redis port", "Docker host", /Connection is closed|ECONNRESET|EPIPE|closed/, async () => {
        const client = new Redis({
            host: url.hostname,
            port: Number(url.port),
            username: decodeURIComponent(url.username),
            password: decodeURIComponent(url.password),
            lazyConnect: true,
            maxRetriesPerRequest: 0,
            enableOfflineQueue: false,
            retryStrategy: () => null,
        });
        client.on("error", () => undefined);
        try {
            await client.connect();
            return `NOT REFUSED: ${await client.ping()}`;
        } catch (error) {
            return (error as Error).message;
        } finally {
            client.disconnect();
        }
    });
    expect(outcome).toMatchObject({ refused: true });
}, TIMEOUT);

test("a role removed from the config cannot log in after the `pulumi up` that removed it", async () => {
    const url = withCa(published(await removedRoleUrl(), ports.postgres));
    // It could before.
    expect((await query(url, "SELECT current_user AS who")).who).toBe(REMOVED_ROLE);
    deployment.editConfig((config) => {
        config["zentoria:roles"] = { ...config["zentoria:roles"], [REMOVED_ROLE]: null };
    });
    await deployment.up("removeRole");
    const outcome = await log.attempt("a removed role logging in after the up that removed it", "Docker host", new RegExp(`${hbaRefusal(REMOVED_ROLE).source}|role "${REMOVED_ROLE}" does not exist|password authentication failed for user "${REMOVED_ROLE}"`), () => loginAttempt(url));
    expect(outcome).toMatchObject({ refused: true });
    const superuser = withCa(published(envUrl(await operators(), "POSTGRES_SUPERUSER_URL"), ports.postgres));
    expect((await query(superuser, `SELECT count(*)::int AS n FROM pg_roles WHERE rolname = '${REMOVED_ROLE}'`)).n).toBe(0);
}, TIMEOUT);

/** The removed role's readonly URL to zentoria_main from the operators' .env (config/envNames.ts names the variable). */
async function removedRoleUrl(): Promise<string> {
    const line = (await operators()).split("\n").find((candidate) => candidate.includes(`://${REMOVED_ROLE}:`) && candidate.includes("/zentoria_main?"));
    if (!line) {
        throw new Error(`no URL of ${REMOVED_ROLE} in the operators' .env`);
    }
    return line.slice(line.indexOf("=") + 1).replace(/^'(.*)'$/, "$1");
}

test("switching tls.inNetwork on with pulumi up: PostgreSQL and PgBouncer reload, no container is replaced", async () => {
    const ids = () => Object.values(CONTAINERS).map((container) => execFileSync("docker", ["inspect", "-f", "{{.Id}}", container], { encoding: "utf8" }).trim());
    const before = ids();
    deployment.editConfig((config) => {
        config["zentoria:tls"] = { ...config["zentoria:tls"], inNetwork: true };
    });
    await deployment.up("inNetworkOn");
    expect(ids()).toEqual(before);
    // PgBouncer verifies PostgreSQL from now on (RECONNECT closed the plain server connections).
    expect(execIn(CONTAINERS.pgbouncer, ["grep", "^server_tls_sslmode", "/etc/pgbouncer/pgbouncer.ini"]).output.trim()).toBe("server_tls_sslmode = verify-full");
}, TIMEOUT);

test("a service on the network with the CA at tls.caFile: its .env's URLs connect with verify-full, and PgBouncer verifies PostgreSQL", async () => {
    const env = (await deployment.envFiles()).backend;
    expect(env).toContain("sslmode=verify-full&sslrootcert=%2Fetc%2Fzentoria%2Fca.crt");
    const script =
        "set -euo pipefail; cat > /tmp/service.env; set -a; . /tmp/service.env; set +a; " +
        'for url in "$DATABASE_URL" "$DIRECT_DATABASE_URL"; do psql "$url" -XAtc "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"; done';
    const run = inContainerOn(NETWORK, images.postgres17, script, env, ["--volume", `${caFile}:/etc/zentoria/ca.crt:ro`]);
    expect([run.code, run.output.trim()]).toEqual([0, "t\nt"]);
}, TIMEOUT);

test("plain text on the stack's network (tls.inNetwork): PostgreSQL, PgBouncer and Redis refuse it", async () => {
    const logins = loginsIn(await deployment.envFiles());
    const appPassword = logins.postgres.get("zentoria_app")!;
    const plainPsql = (host: string, port: number) =>
        refusalOf(inContainerOn(NETWORK, images.postgres17, psqlScript(`host=${host} port=${port} user=zentoria_app dbname=zentoria_main sslmode=disable connect_timeout=10`, "SELECT 1"), `${appPassword}\n`));
    const postgres = await log.attempt("plain text to PostgreSQL on the network (tls.inNetwork)", "stack network", hbaRefusal("zentoria_app", "zentoria_main", ", no encryption"), () =>
        plainPsql("zentoria-postgres", 5432),
    );
    const pgbouncer = await log.attempt("plain text to PgBouncer on the network (tls.inNetwork)", "stack network", /SSL required/, () => plainPsql("zentoria-db", 6432));
    const redis = await log.attempt("plain text to Redis on the network", "stack network", /Server closed the connection|Connection reset by peer|I\/O error/, () =>
        refusalOf(inContainerOn(NETWORK, images.redis, redisScript("zentoria-redis", 6379, "backend", ["PING"]), `${logins.redis.get("backend")}\n`)),
    );
    expect([postgres.refused, pgbouncer.refused, redis.refused]).toEqual([true, true, true]);
}, TIMEOUT);

test("no credential in clear in the state files: every generated password, verifier and TLS private key", async () => {
    const credentials = await stackCredentials(deployment);
    expect(credentials.some((credential) => credential.what.includes("privateKeys.postgres"))).toBe(true);
    expect(credentials.some((credential) => credential.what.includes("caPrivateKey"))).toBe(true);
    const outcome = await log.attempt("a credential or TLS private key in clear in the state files", "Docker host", /^none of \d+ credentials in \d+ files$/, () => {
        const state = stateFilesText(deployment.stateDir);
        const found = leaked(credentials, state.text);
        return found.length === 0 ? `none of ${credentials.length} credentials in ${state.files} files` : `NOT REFUSED: ${found.join(", ")}`;
    });
    expect(outcome).toMatchObject({ refused: true });
    // The logins in the .env files are among them.
    const logins = loginsIn(await deployment.envFiles());
    expect([...logins.postgres.values()].every((password) => credentials.some((credential) => credential.needle === password))).toBe(true);
}, TIMEOUT);
