// Connections from the stack's host-side URLs: node-postgres for PostgreSQL and PgBouncer's
// console, ioredis for Redis. PostgreSQL and PgBouncer connections name themselves
// (application_name), so operators see them for what they are; every connection gives up after
// a bounded time.
import Redis from "ioredis";
import { Client, ClientConfig } from "pg";
import { StackUnreachable } from "../errors";

/** Who is connecting: shows in pg_stat_activity, SHOW CLIENTS and CLIENT LIST. */
export const OPERATOR_APPLICATION = "zentoria-operator";

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * node-postgres settings for one of the program's libpq URLs. libpq's `prefer` (and `allow`)
 * fall back to a plain connection; node-postgres has no such fallback and reads `prefer` as
 * "verify TLS" (pg-connection-string 2), so those connect without TLS, as libpq does against
 * the stack's servers; `require` is TLS without verification, `verify-*` verifies.
 */
export function pgConfig(urlText: string, applicationName = OPERATOR_APPLICATION): ClientConfig {
    const url = new URL(urlText);
    if (url.protocol !== "postgresql:" && url.protocol !== "postgres:") {
        throw new Error(`not a libpq URL: ${url.protocol}`);
    }
    const sslmode = url.searchParams.get("sslmode") ?? "prefer";
    const connectTimeout = Number(url.searchParams.get("connect_timeout") ?? 0);
    return {
        host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: Number(url.port || 5432),
        user: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
        database: decodeURIComponent(url.pathname.slice(1)),
        ssl: ["disable", "allow", "prefer"].includes(sslmode) ? false : sslmode === "require" ? { rejectUnauthorized: false } : true,
        connectionTimeoutMillis: connectTimeout > 0 ? connectTimeout * 1000 : CONNECT_TIMEOUT_MS,
        application_name: applicationName,
    };
}

/** Where a URL points, without its credentials: for messages. */
export function endpointOf(urlText: string): string {
    const url = new URL(urlText);
    return `${url.hostname}:${url.port}`;
}

/** A connected node-postgres client; one StackUnreachable line when the server does not answer or refuses. */
export async function connectPostgres(urlText: string, what: string): Promise<Client> {
    const client = new Client(pgConfig(urlText));
    // A server that drops the connection later must not crash the command.
    client.on("error", () => undefined);
    try {
        await client.connect();
    } catch (error) {
        await client.end().catch(() => undefined);
        throw new StackUnreachable(`${what} at ${endpointOf(urlText)}: ${(error as Error).message}`);
    }
    return client;
}

/** Runs `body` with a connection and closes it whatever happens. */
export async function withPostgres<T>(urlText: string, what: string, body: (client: Client) => Promise<T>): Promise<T> {
    const client = await connectPostgres(urlText, what);
    try {
        return await body(client);
    } finally {
        await client.end().catch(() => undefined);
    }
}

/** Rows of a PgBouncer console command (simple protocol: the console knows no other). */
export async function consoleRows(client: Client, command: string): Promise<Array<Record<string, unknown>>> {
    return (await client.query(command)).rows as Array<Record<string, unknown>>;
}

/** A connected ioredis client that fails instead of retrying; one StackUnreachable line when Redis does not answer. */
export async function connectRedis(urlText: string, what: string): Promise<Redis> {
    const client = new Redis(urlText, {
        lazyConnect: true,
        connectTimeout: CONNECT_TIMEOUT_MS,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        enableOfflineQueue: false,
        // No CLIENT SETNAME: the monitor user may not run it.
        enableReadyCheck: false,
    });
    client.on("error", () => undefined);
    try {
        await client.connect();
    } catch (error) {
        client.disconnect();
        throw new StackUnreachable(`${what} at ${endpointOf(urlText)}: ${(error as Error).message}`);
    }
    return client;
}

export async function withRedis<T>(urlText: string, what: string, body: (client: Redis) => Promise<T>): Promise<T> {
    const client = await connectRedis(urlText, what);
    try {
        return await body(client);
    } finally {
        client.disconnect();
    }
}
