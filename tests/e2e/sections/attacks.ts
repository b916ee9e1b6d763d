// Issue 11, "How it is proven": the default stack attacked as an attacker would, from a
// throw-away container on the stack's network (a compromised service) and from the Docker host.
// Every attempt is a test that must be refused, with the refusal asserted; the outcomes go to
// tests/e2e/results/attacks-default-stack.json, and from there into SECURITY.md.
import { Client } from "pg";
import Redis from "ioredis";
import { loadPlan, rawConfigFromStackFile } from "../../../config";
import { StackPlan } from "../../../config/plan";
import { databasesByRole } from "../../../render/postgresql";
import { CONTAINERS, DefaultStack, DEFAULT_PREFIX } from "../support/defaultStack";
import { AttackLog, execIn, hbaRefusal, inContainerOn, psqlScript, redisScript, refusalOf } from "../support/attacks";
import { commandOutput, leaked, StackCredential, stackCredentials, stateFilesText } from "../support/secrets";

const NETWORK = `${DEFAULT_PREFIX}-net`;
const TIMEOUT = 5 * 60 * 1000;

/** user -> password of every PostgreSQL and Redis URL (and n8n's variables) in the .env files. */
export function loginsIn(envFiles: Record<string, string>): { postgres: Map<string, string>; redis: Map<string, string> } {
    const postgres = new Map<string, string>();
    const redis = new Map<string, string>();
    for (const text of Object.values(envFiles)) {
        for (const match of text.matchAll(/(postgresql(?:\+asyncpg)?|rediss?):\/\/([^:@/]+):([^@]+)@/g)) {
            (match[1].startsWith("redis") ? redis : postgres).set(decodeURIComponent(match[2]), decodeURIComponent(match[3]));
        }
    }
    return { postgres, redis };
}

function password(logins: Map<string, string>, user: string): string {
    const value = logins.get(user);
    if (value === undefined) {
        throw new Error(`no password for ${user} in the .env files`);
    }
    return value;
}

export function describeAttacks(stack: DefaultStack): void {
    const log = new AttackLog("default-stack", "the default stack (prefix zentoria, 127.0.0.1, no TLS)");
    let plan: StackPlan;
    let logins: ReturnType<typeof loginsIn>;
    let credentials: StackCredential[];
    const psqlOnNetwork = (user: string, host: string, port: number, database: string, sql = "SELECT current_user") =>
        refusalOf(
            inContainerOn(
                NETWORK,
                stack.images.postgres17,
                psqlScript(`host=${host} port=${port} user=${user} dbname=${database} sslmode=disable connect_timeout=10`, sql),
                `${password(logins.postgres, user)}\n`,
            ),
        );
    const redisOnNetwork = (user: string | undefined, argv: string[]) =>
        refusalOf(inContainerOn(NETWORK, stack.images.redis, redisScript(plan.redis.hostname, plan.redis.port, user, argv), user ? `${password(logins.redis, user)}\n` : ""));

    beforeAll(async () => {
        plan = loadPlan(rawConfigFromStackFile(stack.deployment.configFile)).plan;
        logins = loginsIn(await stack.deployment.envFiles());
        credentials = await stackCredentials(stack.deployment);
    }, TIMEOUT);

    afterAll(() => log.finish());

    // ------------------------------------------------------------ PostgreSQL and PgBouncer

    test("the superuser from a service container, straight to PostgreSQL: no pg_hba.conf line lets it in", async () => {
        const superuser = plan.postgres.superuser;
        const outcome = await log.attempt("superuser login to PostgreSQL", "stack network", hbaRefusal(superuser, "postgres"), () =>
            psqlOnNetwork(superuser, plan.postgres.hostname, plan.postgres.port, "postgres"),
        );
        expect(outcome).toMatchObject({ refused: true });
    }, TIMEOUT);

    test("the superuser from a service container, through PgBouncer: not a PgBouncer user", async () => {
        const superuser = plan.postgres.superuser;
        // PgBouncer answers an unknown user like a wrong password (src/client.c).
        const outcome = await log.attempt("superuser login through PgBouncer", "stack network", /SASL authentication failed/, () =>
            psqlOnNetwork(superuser, plan.pgbouncer.hostname, plan.pgbouncer.port, plan.pools[0].alias),
        );
        expect(outcome).toMatchObject({ refused: true });
    }, TIMEOUT);

    test("each role into each database it was not given, straight to PostgreSQL", async () => {
        const given = databasesByRole(plan);
        const databases = ["postgres", ...plan.databases.map((database) => database.name)];
        const pairs = plan.roles
            .filter((role) => role.access !== "superuser" && logins.postgres.has(role.name))
            .flatMap((role) => databases.filter((database) => !(given.get(role.name) ?? []).includes(database)).map((database) => [role.name, database] as const));
        // zentoria_app into n8n and postgres, n8n_app into zentoria_vectors and postgres, readonly into postgres.
        expect(pairs.length).toBeGreaterThanOrEqual(5);
        for (const [role, database] of pairs) {
            const outcome = await log.attempt(`${role} into database ${database}`, "stack network", hbaRefusal(role, database), () =>
                psqlOnNetwork(role, plan.postgres.hostname, plan.postgres.port, database),
            );
            expect(outcome).toMatchObject({ attack: `${role} into database ${database}`, refused: true });
        }
    }, TIMEOUT);

    test("a role into another service's database through PgBouncer: PostgreSQL refuses PgBouncer's login for it", async () => {
        const foreign = plan.pools.find((pool) => pool.role !== "zentoria_app" && pool.database === "n8n");
        expect(foreign).toBeDefined();
        const outcome = await log.attempt(`zentoria_app into ${foreign!.alias} through PgBouncer`, "stack network", /pg_hba\.conf rejects connection|no pg_hba\.conf entry|server login has been failing/, () =>
            psqlOnNetwork("zentoria_app", plan.pgbouncer.hostname, plan.pgbouncer.port, foreign!.alias),
        );
        expect(outcome).toMatchObject({ refused: true });
    }, TIMEOUT);

    test("readonly writing: INSERT into a table, CREATE TABLE", async () => {
        const owner = new Client({ connectionString: (await stack.deployment.hostStrings()).postgres.backend.zentoria_main.direct });
        await owner.connect();
        try {
            await owner.query("CREATE TABLE IF NOT EXISTS e2e_attack_target (id int)");
        } finally {
            await owner.end();
        }
        const readonly = plan.roles.find((role) => role.access === "readonly")!.name;
        const insert = await log.attempt("readonly INSERT into zentoria_main", "stack network", /permission denied for table e2e_attack_target/, () =>
            psqlOnNetwork(readonly, plan.postgres.hostname, plan.postgres.port, "zentoria_main", "INSERT INTO e2e_attack_target VALUES (1)"),
        );
        const create = await log.attempt("readonly CREATE TABLE in zentoria_main", "stack network", /permission denied for schema public/, () =>
            psqlOnNetwork(readonly, plan.postgres.hostname, plan.postgres.port, "zentoria_main", "CREATE TABLE e2e_attack_created (id int)"),
        );
        expect([insert.refused, create.refused]).toEqual([true, true]);
    }, TIMEOUT);

    test("PgBouncer's admin console with a service's password, and as the service's own user", async () => {
        const appPassword = password(logins.postgres, "zentoria_app");
        const asAdmin = await log.attempt("PgBouncer admin console as its admin with a service's password", "stack network", /SASL authentication failed/, () =>
            refusalOf(
                inContainerOn(
                    NETWORK,
                    stack.images.postgres17,
                    psqlScript(`host=${plan.pgbouncer.hostname} port=${plan.pgbouncer.port} user=${plan.pgbouncer.adminUser} dbname=pgbouncer sslmode=disable`, "SHOW USERS"),
                    `${appPassword}\n`,
                ),
            ),
        );
        const asService = await log.attempt("PgBouncer admin console as a service's user", "stack network", /not allowed/, () =>
            psqlOnNetwork("zentoria_app", plan.pgbouncer.hostname, plan.pgbouncer.port, "pgbouncer", "SHOW USERS"),
        );
        expect([asAdmin.refused, asService.refused]).toEqual([true, true]);
    }, TIMEOUT);

    // ------------------------------------------------------------ Redis

    test("Redis without credentials, on the network and from the host", async () => {
        const network = await log.attempt("Redis without credentials", "stack network", /NOAUTH Authentication required/, () => redisOnNetwork(undefined, ["PING"]));
        const host = await log.attempt("Redis without credentials (published port)", "Docker host", /NOAUTH Authentication required/, async () => {
            // No ready check: its INFO would be refused first and ioredis would close the connection.
            const client = new Redis({ host: "127.0.0.1", port: stack.ports.redis, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, enableReadyCheck: false, retryStrategy: () => null });
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
        expect([network.refused, host.refused]).toEqual([true, true]);
    }, TIMEOUT);

    test("the pub/sub user reading and writing a key", async () => {
        const read = await log.attempt("pub/sub user GET a session key", "stack network", /NOPERM .*'get' command/, () => redisOnNetwork("pubsub", ["GET", "sess:1"]));
        const write = await log.attempt("pub/sub user SET a key", "stack network", /NOPERM .*'set' command/, () => redisOnNetwork("pubsub", ["SET", "sess:1", "x"]));
        expect([read.refused, write.refused]).toEqual([true, true]);
    }, TIMEOUT);

    test("n8n's user (user-written workflow code) reading a key outside Bull's", async () => {
        const outcome = await log.attempt("n8n user GET a backend session key", "stack network", /NOPERM No permissions to access a key/, () => redisOnNetwork("n8n", ["GET", "sess:1"]));
        expect(outcome).toMatchObject({ refused: true });
    }, TIMEOUT);

    test.each([
        ["CONFIG GET", ["CONFIG", "GET", "maxmemory"], /NOPERM .*'config\|get' command/],
        ["CONFIG SET", ["CONFIG", "SET", "maxmemory", "1mb"], /NOPERM .*'config\|set' command/],
        ["FLUSHALL", ["FLUSHALL"], /NOPERM .*'flushall' command/],
        ["KEYS", ["KEYS", "'*'"], /NOPERM .*'keys' command/],
    ])("a service user (backend) running %s", async (name, argv, expected) => {
        const outcome = await log.attempt(`backend user ${name}`, "stack network", expected as RegExp, () => redisOnNetwork("backend", argv as string[]));
        expect(outcome).toMatchObject({ refused: true });
    }, TIMEOUT);

    // ------------------------------------------------------------ the containers

    test.each(Object.entries(CONTAINERS))("%s: writing to the root filesystem and to the mounted config", async (server, container) => {
        const root = await log.attempt(`write to ${server}'s root filesystem`, "inside a server container", /Read-only file system/, () =>
            refusalOf(execIn(container, ["sh", "-c", "echo attack > /usr/local/zentoria-attack"])),
        );
        const configDirectory = { postgres: "/etc/postgresql", pgbouncer: "/etc/pgbouncer", redis: "/usr/local/etc/redis" }[server]!;
        const config = await log.attempt(`rewrite ${server}'s rendered config from inside`, "inside a server container", /Read-only file system/, () =>
            refusalOf(execIn(container, ["sh", "-c", `echo attack >> ${configDirectory}/zentoria-attack`])),
        );
        expect([root.refused, config.refused]).toEqual([true, true]);
    }, TIMEOUT);

    test.each(Object.entries(CONTAINERS))("%s: a process gaining privileges (setuid root, capabilities)", async (server, container) => {
        // The server itself: not root, no capabilities, none to gain, no new privileges.
        const status = execIn(container, ["cat", "/proc/1/status"]).output;
        const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, "m").exec(status)?.[1].trim();
        const flags = await log.attempt(`${server}'s server process holding or able to gain privileges`, "inside a server container", /^uid [1-9]\d*, NoNewPrivs 1, CapEff 0+, CapBnd 0+$/, () => {
            const summary = `uid ${field("Uid")?.split(/\s+/)[1]}, NoNewPrivs ${field("NoNewPrivs")}, CapEff ${field("CapEff")}, CapBnd ${field("CapBnd")}`;
            return /^uid [1-9]\d*, NoNewPrivs 1, CapEff 0+, CapBnd 0+$/.test(summary) ? summary : `NOT REFUSED: ${summary}`;
        });
        // A setuid-root binary run in the container: with no_new_privs the kernel ignores the bit,
        // so umount knows it is not root ("drop permissions failed" would mean it ran as root).
        const setuid = await log.attempt(`${server}: a setuid-root binary (umount) run in the container`, "inside a server container", /must be superuser to unmount/, () =>
            refusalOf(execIn(container, ["umount", "/dev/shm"])),
        );
        expect([flags.refused, setuid.refused]).toEqual([true, true]);
    }, TIMEOUT);

    // ------------------------------------------------------------ credentials in clear

    test("no credential in docker inspect (env, command, labels and the rest), in container logs, or on a host command line", async () => {
        // Every generated credential, not a sample: each RandomPassword, each SCRAM verifier.
        expect(credentials.length).toBeGreaterThanOrEqual(plan.roles.length + plan.redis.users.length + 3);
        for (const [server, container] of Object.entries(CONTAINERS)) {
            const inspect = await log.attempt(`a credential in docker inspect of ${server}`, "Docker host", /^none of \d+ credentials$/, () => {
                const found = leaked(credentials, commandOutput("docker", ["inspect", container]));
                return found.length === 0 ? `none of ${credentials.length} credentials` : `NOT REFUSED: ${found.join(", ")}`;
            });
            const logs = await log.attempt(`a credential in ${server}'s container log`, "Docker host", /^none of \d+ credentials$/, () => {
                const found = leaked(credentials, commandOutput("docker", ["logs", container]));
                return found.length === 0 ? `none of ${credentials.length} credentials` : `NOT REFUSED: ${found.join(", ")}`;
            });
            expect([server, inspect.refused, logs.refused]).toEqual([server, true, true]);
        }
        const ps = await log.attempt("a credential on a command line in ps (every host process)", "Docker host", /^none of \d+ credentials$/, () => {
            const found = leaked(credentials, commandOutput("ps", ["-e", "-ww", "-o", "args"]));
            return found.length === 0 ? `none of ${credentials.length} credentials` : `NOT REFUSED: ${found.join(", ")}`;
        });
        expect(ps.refused).toBe(true);
    }, TIMEOUT);

    test("no credential in the state files (the checkpoint, its history and backups)", async () => {
        const outcome = await log.attempt("a credential in clear in the state files", "Docker host", /^none of \d+ credentials in \d+ files$/, () => {
            const state = stateFilesText(stack.deployment.stateDir);
            const found = leaked(credentials, state.text);
            return found.length === 0 ? `none of ${credentials.length} credentials in ${state.files} files` : `NOT REFUSED: ${found.join(", ")}`;
        });
        expect(outcome).toMatchObject({ refused: true });
    }, TIMEOUT);
}
