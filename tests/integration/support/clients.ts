// Clients: node-postgres from the program's URLs, psql for the exact libpq strings, ioredis.
import Redis, { RedisOptions } from "ioredis";
import { Client, ClientConfig } from "pg";
import { BINARIES, requireBinary } from "./binaries";
import { run } from "./processes";

/** Host, port, user, password and database of a URL, for node-postgres without TLS. */
function loginParts(url: URL): ClientConfig {
    return {
        host: url.hostname,
        port: Number(url.port),
        user: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
        database: decodeURIComponent(url.pathname.slice(1)),
        ssl: false,
    };
}

/**
 * node-postgres settings equivalent to what libpq does with one of the program's URLs.
 * node-postgres reads `sslmode=prefer` as "require TLS and verify it" (pg-connection-string 2),
 * whereas libpq falls back to a plain connection when the server offers no TLS, as PgBouncer
 * and PostgreSQL here (and in the stack) do not; so the parameters are translated, and any
 * parameter this does not know fails the test instead of being dropped.
 */
export function pgConfigFromLibpqUrl(text: string): ClientConfig {
    const url = new URL(text);
    if (url.protocol !== "postgresql:") {
        throw new Error(`not a libpq URL: ${url.protocol}`);
    }
    const config = loginParts(url);
    for (const [key, value] of url.searchParams) {
        switch (key) {
            case "sslmode":
                if (!["disable", "allow", "prefer"].includes(value)) {
                    throw new Error(`sslmode=${value} needs TLS, which the test servers do not offer`);
                }
                break;
            case "connect_timeout":
                config.connectionTimeoutMillis = Number(value) * 1000;
                break;
            case "application_name":
                config.application_name = value;
                break;
            default:
                throw new Error(`URL parameter ${key} is not translated for node-postgres`);
        }
    }
    return config;
}

export interface AsyncpgUrl {
    config: ClientConfig;
    params: Record<string, string>;
}

/** The parts of a `postgresql+asyncpg://` URL (SQLAlchemy's), for node-postgres. */
export function parseAsyncpgUrl(text: string): AsyncpgUrl {
    const url = new URL(text);
    if (url.protocol !== "postgresql+asyncpg:") {
        throw new Error(`not an asyncpg URL: ${url.protocol}`);
    }
    return { config: loginParts(url), params: Object.fromEntries(url.searchParams) };
}

export interface ObservedClient {
    client: Client;
    /** SASL mechanisms the server offered (empty: no SASL exchange took place). */
    saslMechanisms: string[];
    /** The server sent its final SCRAM message and node-postgres verified its signature. */
    saslCompleted: boolean;
}

/** Connects and records how the server authenticated the client. */
export async function connectObserved(config: ClientConfig): Promise<ObservedClient> {
    const client = new Client({ connectionTimeoutMillis: 10_000, ...config });
    const observed: ObservedClient = { client, saslMechanisms: [], saslCompleted: false };
    client.connection.on("authenticationSASL", (message: { mechanisms: string[] }) => observed.saslMechanisms.push(...message.mechanisms));
    client.connection.on("authenticationSASLFinal", () => (observed.saslCompleted = true));
    // A server that drops the connection later must not crash the test process.
    client.on("error", () => undefined);
    await client.connect();
    return observed;
}

export async function connectPg(config: ClientConfig): Promise<Client> {
    return (await connectObserved(config)).client;
}

/** The error a promise rejects with; fails when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
    try {
        await promise;
    } catch (error) {
        return error as Error;
    }
    throw new Error("expected a failure, but it succeeded");
}

/** A connection attempt that must fail; the client is closed either way. */
export async function refusedConnection(config: ClientConfig): Promise<Error> {
    const client = new Client({ connectionTimeoutMillis: 10_000, ...config });
    client.on("error", () => undefined);
    try {
        await client.connect();
    } catch (error) {
        await client.end().catch(() => undefined);
        return error as Error;
    }
    await client.end();
    throw new Error(`expected ${config.user}@${config.host}:${config.port}/${config.database} to be refused, but it connected`);
}

export async function endAll(clients: ReadonlyArray<Client | undefined>): Promise<void> {
    await Promise.all(clients.map((client) => client?.end().catch(() => undefined)));
}

/** Rows of a psql query run with the exact connection string (libpq's own parsing). */
export async function psqlRows(url: string, sql: string): Promise<string[][]> {
    const result = await run(requireBinary(BINARIES.psql), [url, "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql], {
        env: { PGPASSFILE: "/dev/null", PGSERVICEFILE: "/dev/null" },
        timeoutMs: 20_000,
    });
    if (result.code !== 0) {
        throw new Error(`psql failed (${result.code}): ${result.stderr.trim()}`);
    }
    return result.stdout
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => line.split("\t"));
}

/** ioredis that fails fast instead of retrying: a refused command must surface as an error. */
export function redisClient(target: string | RedisOptions, options: RedisOptions = {}): Redis {
    const common: RedisOptions = {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        enableOfflineQueue: false,
        connectTimeout: 10_000,
        // How long disconnect() waits for a socket to close before destroying it (default 2 s).
        disconnectTimeout: 200,
        ...options,
    };
    const client = typeof target === "string" ? new Redis(target, common) : new Redis({ ...target, ...common });
    client.on("error", () => undefined);
    return client;
}
