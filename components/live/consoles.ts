// The servers' own command-line clients, run inside their containers with `docker exec`:
// PgBouncer's admin console (psql), PostgreSQL over its Unix socket as the superuser (peer
// authentication, no password), Redis as its admin user (password on stdin).
import { docker, DockerResult, execWithSecret } from "./dockerCli";

export interface PgbouncerConsoleAccess {
    container: string;
    port: number;
    adminUser: string;
    adminPassword: string;
}

export interface PostgresSocketAccess {
    container: string;
    superuser: string;
    socketDirectory: string;
    port: number;
}

export interface RedisAdminAccess {
    container: string;
    port: number;
    adminUser: string;
    adminPassword: string;
    /** The CA file in the container when Redis speaks TLS only (issue 11). */
    tlsCaFile?: string;
}

function failed(what: string, result: DockerResult): Error {
    return new Error(`${what} failed (exit ${result.code}): ${(result.stderr || result.stdout).trim()}`);
}

/** One admin console command (RELOAD, PAUSE, RESUME, SHOW ...); rows as `|`-separated lines. */
export async function pgbouncerCommand(access: PgbouncerConsoleAccess, command: string, dockerHost?: string, timeoutMs = 60_000): Promise<string> {
    const result = await execWithSecret(
        access.container,
        "PGPASSWORD",
        access.adminPassword,
        ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(access.port), "-U", access.adminUser, "-d", "pgbouncer", "-c", command],
        { dockerHost, timeoutMs },
    );
    if (result.code !== 0) {
        throw failed(`PgBouncer ${command}`, result);
    }
    return result.stdout;
}

/** Logs in through PgBouncer as `user` and runs one query: PgBouncer then holds this user's current SCRAM keys. */
export async function pgbouncerLogin(
    access: { container: string; port: number },
    user: string,
    password: string,
    database: string,
    dockerHost?: string,
): Promise<void> {
    const result = await execWithSecret(
        access.container,
        "PGPASSWORD",
        password,
        ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(access.port), "-U", user, "-d", database, "-c", "SELECT 1"],
        { dockerHost, timeoutMs: 60_000 },
    );
    if (result.code !== 0) {
        throw failed(`logging in through PgBouncer as ${user}`, result);
    }
}

/** SQL as the superuser over the Unix socket (stdin carries the statements); rows as `|`-separated lines. */
export async function postgresSql(access: PostgresSocketAccess, sql: string, database = "postgres", dockerHost?: string, timeoutMs = 60_000): Promise<string> {
    const result = await docker(
        [
            "exec",
            "-i",
            access.container,
            "psql",
            "-X",
            "-q",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            access.socketDirectory,
            "-p",
            String(access.port),
            "-U",
            access.superuser,
            "-d",
            database,
        ],
        { dockerHost, input: sql, timeoutMs },
    );
    if (result.code !== 0) {
        throw failed(`SQL as ${access.superuser} in ${database}`, result);
    }
    return result.stdout;
}

/** Whether PostgreSQL answers on its socket. */
export async function postgresReady(access: PostgresSocketAccess, dockerHost?: string): Promise<boolean> {
    const result = await docker(["exec", access.container, "pg_isready", "-q", "-h", access.socketDirectory, "-p", String(access.port)], {
        dockerHost,
        timeoutMs: 15_000,
    });
    return result.code === 0;
}

/** One redis-cli command as the admin user; the reply as redis-cli prints it. */
export async function redisCommand(access: RedisAdminAccess, argv: readonly string[], dockerHost?: string): Promise<string> {
    const result = await execWithSecret(
        access.container,
        "REDISCLI_AUTH",
        access.adminPassword,
        ["redis-cli", "--no-auth-warning", ...(access.tlsCaFile ? ["--tls", "--cacert", access.tlsCaFile] : []), "-p", String(access.port), "--user", access.adminUser, ...argv],
        { dockerHost, timeoutMs: 60_000 },
    );
    // redis-cli exits 0 on server errors too; they start with "(error)" or "ERR" in raw output.
    const reply = result.stdout.trim();
    if (result.code !== 0 || /^(\(error\)|ERR|WRONGPASS|NOPERM|NOAUTH)/.test(reply)) {
        throw new Error(`Redis ${argv.slice(0, 2).join(" ")} failed: ${reply || result.stderr.trim()}`);
    }
    return reply;
}
