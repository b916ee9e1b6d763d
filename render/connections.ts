// Connection strings and .env files from the plan and the credentials. The same functions
// build the stack outputs (in-network host names) and the URLs the tests use (published ports).
import {
    directVariable,
    N8N_TLS_SUFFIXES,
    N8N_TYPE_VARIABLE,
    n8nDirectVariable,
    poolMaxVariable,
    qdrantOperationVariables,
    readonlyUrlVariable,
    redisClientMaxVariable,
    redisClientUrlVariable,
    redisUserUrlVariable,
    QUEUE_TLS_VARIABLE,
    statsUrlVariable,
    TLS_CA_VARIABLES,
} from "../config/envNames";
import { PoolPlan, ServicePlan, StackPlan } from "../config/plan";
import { MAINTENANCE_DATABASE } from "../config/validate";
import { envValue, RenderError, urlUserinfo } from "./quote";

export interface Credentials {
    /** Password per PostgreSQL role. */
    postgres: Readonly<Record<string, string>>;
    pgbouncerAdmin: string;
    /** Password per Redis user. */
    redis: Readonly<Record<string, string>>;
    qdrantApiKey: string;
    qdrantReadOnlyApiKey: string;
}

export interface HostPort {
    host: string;
    port: number;
}

export interface Endpoints {
    postgres: HostPort;
    pgbouncer: HostPort;
    redis: HostPort;
    qdrant: { host: string; httpPort: number; grpcPort: number };
    /** Which servers these clients reach over TLS (issue 11); absent: none. */
    tls?: EndpointTls;
}

export interface EndpointTls {
    /** PostgreSQL and PgBouncer: verify-full with the stack's CA. */
    postgres: boolean;
    /** rediss:// (Redis speaks TLS only when it speaks it at all). */
    redis: boolean;
    /** https:// (likewise). */
    qdrant: boolean;
    /** Where the clients find the CA certificate (tls.caFile). */
    caFile: string;
}

/** How services on the stack's Docker network reach the servers (section 2.4's host names). */
export function networkEndpoints(plan: StackPlan): Endpoints {
    return {
        postgres: { host: plan.postgres.hostname, port: plan.postgres.port },
        pgbouncer: { host: plan.pgbouncer.hostname, port: plan.pgbouncer.port },
        redis: { host: plan.redis.hostname, port: plan.redis.port },
        qdrant: { host: plan.qdrant.hostname, httpPort: plan.qdrant.httpPort, grpcPort: plan.qdrant.grpcPort },
        // On the network PostgreSQL and PgBouncer take plain text too unless tls.inNetwork.
        tls: plan.tls.enabled ? { postgres: plan.tls.inNetwork, redis: true, qdrant: true, caFile: plan.tls.caFile } : undefined,
    };
}

/** The address a client on the Docker host uses for a published port. */
export function hostSideAddress(bindAddress: string): string {
    if (bindAddress === "0.0.0.0") {
        return "127.0.0.1";
    }
    return bindAddress === "::" ? "::1" : bindAddress;
}

/** How programs on the Docker host reach the published ports. */
export function publishedEndpoints(plan: StackPlan): Endpoints {
    const host = hostSideAddress(plan.bindAddress);
    return {
        postgres: { host, port: plan.postgres.publish.port },
        pgbouncer: { host, port: plan.pgbouncer.publish.port },
        redis: { host, port: plan.redis.publish.port },
        qdrant: { host, httpPort: plan.qdrant.publishHttp.port, grpcPort: plan.qdrant.publishGrpc.port },
        tls: plan.tls.enabled ? { postgres: true, redis: true, qdrant: true, caFile: plan.tls.caFile } : undefined,
    };
}

function hostInUrl(host: string): string {
    return host.includes(":") ? `[${host}]` : host;
}

export interface PostgresUrlParts {
    scheme: "postgresql" | "postgresql+asyncpg";
    user: string;
    password: string;
    endpoint: HostPort;
    database: string;
    params?: ReadonlyArray<readonly [string, string | number]>;
}

export function postgresUrl(parts: PostgresUrlParts): string {
    const query = (parts.params ?? []).map(([key, value]) => `${key}=${encodeURIComponent(String(value))}`).join("&");
    return (
        `${parts.scheme}://${urlUserinfo(parts.user)}:${urlUserinfo(parts.password)}@${hostInUrl(parts.endpoint.host)}:${parts.endpoint.port}` +
        `/${encodeURIComponent(parts.database)}${query ? `?${query}` : ""}`
    );
}

export function redisUrl(user: string, password: string, endpoint: HostPort, database: number, tls = false): string {
    return `${tls ? "rediss" : "redis"}://${urlUserinfo(user)}:${urlUserinfo(password)}@${hostInUrl(endpoint.host)}:${endpoint.port}/${database}`;
}

function requireCredential(credentials: Readonly<Record<string, string>>, name: string, what: string): string {
    const value = credentials[name];
    if (value === undefined) {
        throw new Error(`no ${what} credential for ${name}`);
    }
    return value;
}

/**
 * Whether PgBouncer carries each client's named prepared statements to whichever server
 * connection serves its transaction (1.21+ with max_prepared_statements above 0).
 */
function pgbouncerKeepsPreparedStatements(plan: StackPlan): boolean {
    return (plan.pgbouncer.maxPreparedStatements ?? 0) > 0;
}

/**
 * Parameters a connection needs: libpq gets section 2.4's sslmode and section 6.1's connect
 * timeout. asyncpg (through SQLAlchemy) takes neither from a URL; through a PgBouncer that does
 * not keep prepared statements, SQLAlchemy must not cache them across transaction-pooled server
 * connections (pitfall 6; README: Outputs has what else such a PgBouncer needs).
 */
function poolParams(plan: StackPlan, service: ServicePlan, pooled: boolean, tls?: EndpointTls): Array<[string, string | number]> {
    if (service.driver === "asyncpg") {
        // asyncpg's own `ssl` mode (SQLAlchemy passes it through); it finds the CA in PGSSLROOTCERT.
        const ssl: Array<[string, string]> = tls?.postgres ? [["ssl", "verify-full"]] : [];
        const noStatementCache: Array<[string, number]> = pooled && !pgbouncerKeepsPreparedStatements(plan) ? [["prepared_statement_cache_size", 0]] : [];
        return [...noStatementCache, ...ssl];
    }
    return [...sslParams(service.sslmode, tls), ["connect_timeout", plan.timeouts.connectSeconds], ["application_name", service.name]];
}

/** libpq's sslmode: verify-full with the stack's CA where the server requires TLS (issue 11). */
function sslParams(sslmode: string, tls?: EndpointTls): Array<[string, string]> {
    const mode = tls?.postgres ? "verify-full" : sslmode;
    return mode.startsWith("verify-") && tls ? [["sslmode", mode], ["sslrootcert", tls.caFile]] : [["sslmode", mode]];
}

/** Variables that tell every client where the stack's CA certificate is (issue 11). */
function caFileEnv(tls?: EndpointTls): Array<[string, string]> {
    if (!tls) {
        return [];
    }
    // libpq and asyncpg read PGSSLROOTCERT; Node.js adds NODE_EXTRA_CA_CERTS to its trusted CAs at start.
    return TLS_CA_VARIABLES.map((name): [string, string] => [name, tls.caFile]);
}

export interface PoolUrls {
    /** Through PgBouncer, to the pool's alias. */
    pooled: string;
    /** Straight to PostgreSQL, for migrations, LISTEN/NOTIFY and session features (pitfall 5). */
    direct: string;
}

export function poolUrls(plan: StackPlan, credentials: Credentials, endpoints: Endpoints, pool: PoolPlan): PoolUrls {
    const service = plan.services.find((candidate) => candidate.name === pool.service);
    if (!service) {
        throw new Error(`pool ${pool.key} has no service`);
    }
    const password = requireCredential(credentials.postgres, pool.role, "PostgreSQL");
    const scheme = service.driver === "asyncpg" ? "postgresql+asyncpg" : "postgresql";
    const common = { scheme, user: pool.role, password } as const;
    return {
        pooled: postgresUrl({ ...common, endpoint: endpoints.pgbouncer, database: pool.alias, params: poolParams(plan, service, true, endpoints.tls) }),
        direct: postgresUrl({ ...common, endpoint: endpoints.postgres, database: pool.database, params: poolParams(plan, service, false, endpoints.tls) }),
    };
}

/** n8n's DB_POSTGRESDB_* set for one pool (n8n reads host, port and login separately), and its direct URL. */
function n8nPoolEnv(plan: StackPlan, credentials: Credentials, endpoints: Endpoints, pool: PoolPlan, urls: PoolUrls): Array<[string, string | number]> {
    return [
        [N8N_TYPE_VARIABLE, "postgresdb"],
        [`${pool.env}_HOST`, endpoints.pgbouncer.host],
        [`${pool.env}_PORT`, endpoints.pgbouncer.port],
        [`${pool.env}_DATABASE`, pool.alias],
        [`${pool.env}_USER`, pool.role],
        [`${pool.env}_PASSWORD`, requireCredential(credentials.postgres, pool.role, "PostgreSQL")],
        [`${pool.env}_POOL_SIZE`, pool.maxClientConnections],
        [`${pool.env}_CONNECTION_TIMEOUT`, plan.timeouts.connectSeconds * 1000],
        [n8nDirectVariable(pool.env), urls.direct],
        ...n8nTlsEnv(endpoints, pool),
    ];
}

/** n8n's TLS variables where PostgreSQL requires TLS: the CA file, and the server's certificate checked against it. */
function n8nTlsEnv(endpoints: Endpoints, pool: PoolPlan): Array<[string, string]> {
    if (!endpoints.tls?.postgres) {
        return [];
    }
    const values: Record<(typeof N8N_TLS_SUFFIXES)[number], string> = { SSL_ENABLED: "true", SSL_CA: endpoints.tls.caFile, SSL_REJECT_UNAUTHORIZED: "true" };
    return N8N_TLS_SUFFIXES.map((suffix): [string, string] => [`${pool.env}_${suffix}`, values[suffix]]);
}

function postgresEnv(plan: StackPlan, credentials: Credentials, endpoints: Endpoints, service: ServicePlan): Array<[string, string | number]> {
    const env: Array<[string, string | number]> = [];
    for (const pool of service.pools) {
        const urls = poolUrls(plan, credentials, endpoints, pool);
        if (pool.format === "n8n") {
            env.push(...n8nPoolEnv(plan, credentials, endpoints, pool, urls));
        } else {
            env.push([pool.env, urls.pooled], [directVariable(pool.env), urls.direct], [poolMaxVariable(pool.env), pool.maxClientConnections]);
        }
    }
    return env;
}

function redisEnv(plan: StackPlan, credentials: Credentials, endpoints: Endpoints, service: ServicePlan): Array<[string, string | number]> {
    const clients = plan.redis.clients.filter((client) => client.services.includes(service.name));
    if (clients.length === 0) {
        return [];
    }
    const ownUser = clients.find((client) => client.user === service.name)?.user ?? clients[0].user;
    const env: Array<[string, string | number]> = [
        ["REDIS_HOST", endpoints.redis.host],
        ["REDIS_PORT", endpoints.redis.port],
        ["REDIS_USERNAME", ownUser],
        ["REDIS_PASSWORD", requireCredential(credentials.redis, ownUser, "Redis")],
        ["REDIS_CONNECT_TIMEOUT_MS", plan.timeouts.connectSeconds * 1000],
        ["REDIS_KEEPALIVE_MS", plan.redis.tcpKeepaliveSeconds * 1000],
    ];
    for (const client of clients) {
        const password = requireCredential(credentials.redis, client.user, "Redis");
        env.push(
            [redisClientUrlVariable(client.name), redisUrl(client.user, password, endpoints.redis, client.database, endpoints.tls?.redis)],
            [redisClientMaxVariable(client.name), client.maxConnections],
        );
    }
    if (service.pools.some((pool) => pool.format === "n8n")) {
        // n8n's queue mode reads Bull's own variables.
        const queue = clients[0];
        env.push(
            ["QUEUE_BULL_REDIS_HOST", endpoints.redis.host],
            ["QUEUE_BULL_REDIS_PORT", endpoints.redis.port],
            ["QUEUE_BULL_REDIS_DB", queue.database],
            ["QUEUE_BULL_REDIS_USERNAME", queue.user],
            ["QUEUE_BULL_REDIS_PASSWORD", requireCredential(credentials.redis, queue.user, "Redis")],
        );
        if (endpoints.tls?.redis) {
            env.push([QUEUE_TLS_VARIABLE, "true"]);
        }
    }
    return env;
}

function qdrantEnv(plan: StackPlan, credentials: Credentials, endpoints: Endpoints, service: ServicePlan): Array<[string, string | number]> {
    if (!plan.qdrant.enabled || !plan.qdrant.services.includes(service.name)) {
        return [];
    }
    const { host, httpPort, grpcPort } = endpoints.qdrant;
    const env: Array<[string, string | number]> = [
        ["QDRANT_URL", qdrantUrl(host, httpPort, endpoints.tls)],
        ["QDRANT_HOST", host],
        ["QDRANT_PORT", httpPort],
        ["QDRANT_GRPC_PORT", grpcPort],
        ["QDRANT_API_KEY", credentials.qdrantApiKey],
        ["QDRANT_HTTP_MAX_SOCKETS", plan.qdrant.httpMaxSockets],
        ["QDRANT_HTTP_MAX_FREE_SOCKETS", plan.qdrant.httpMaxFreeSockets],
    ];
    for (const operation of plan.qdrant.operations) {
        const [concurrency, timeout] = qdrantOperationVariables(operation.name);
        env.push([concurrency, operation.concurrency], [timeout, operation.timeoutSeconds]);
    }
    return env;
}

function qdrantUrl(host: string, port: number, tls?: EndpointTls): string {
    return `${tls?.qdrant ? "https" : "http"}://${hostInUrl(host)}:${port}`;
}

/** A service's variables, in a stable order: PostgreSQL, Redis, Qdrant, then the CA file's. */
export function serviceEnv(plan: StackPlan, credentials: Credentials, endpoints: Endpoints, serviceName: string): Array<[string, string | number]> {
    const service = plan.services.find((candidate) => candidate.name === serviceName);
    if (!service) {
        throw new Error(`unknown service ${serviceName}`);
    }
    return [
        ...postgresEnv(plan, credentials, endpoints, service),
        ...redisEnv(plan, credentials, endpoints, service),
        ...qdrantEnv(plan, credentials, endpoints, service),
        ...caFileEnv(endpoints.tls),
    ];
}

/** An operator's libpq URL (psql, exporters): libpq falls back to plain text with prefer, verifies the server with TLS. */
function consoleUrl(user: string, password: string, endpoint: HostPort, database: string, tls?: EndpointTls): string {
    return postgresUrl({ scheme: "postgresql", user, password, endpoint, database, params: sslParams("prefer", tls) });
}

/** Operators' variables: admin consoles and superuser access for sections 5 and 6.3. */
export function operatorEnv(plan: StackPlan, credentials: Credentials, endpoints: Endpoints): Array<[string, string | number]> {
    const superuser = plan.postgres.superuser;
    const env: Array<[string, string | number]> = [
        ["POSTGRES_SUPERUSER_URL", consoleUrl(superuser, requireCredential(credentials.postgres, superuser, "PostgreSQL"), endpoints.postgres, "postgres", endpoints.tls)],
        ["PGBOUNCER_ADMIN_URL", consoleUrl(plan.pgbouncer.adminUser, credentials.pgbouncerAdmin, endpoints.pgbouncer, "pgbouncer", endpoints.tls)],
    ];
    for (const statsUser of plan.pgbouncer.statsUsers) {
        const password = requireCredential(credentials.postgres, statsUser, "PostgreSQL");
        env.push([statsUrlVariable(statsUser), consoleUrl(statsUser, password, endpoints.pgbouncer, "pgbouncer", endpoints.tls)]);
    }
    for (const role of plan.roles.filter((candidate) => candidate.access === "readonly")) {
        const password = requireCredential(credentials.postgres, role.name, "PostgreSQL");
        for (const database of plan.databases) {
            env.push([readonlyUrlVariable(role.name, database.name), consoleUrl(role.name, password, endpoints.postgres, database.name, endpoints.tls)]);
        }
    }
    for (const user of plan.redis.users.filter((candidate) => candidate.kind === "admin" || candidate.kind === "monitor")) {
        env.push([redisUserUrlVariable(user.name), redisUrl(user.name, requireCredential(credentials.redis, user.name, "Redis"), endpoints.redis, 0, endpoints.tls?.redis)]);
    }
    if (plan.qdrant.enabled) {
        env.push(
            ["QDRANT_URL", qdrantUrl(endpoints.qdrant.host, endpoints.qdrant.httpPort, endpoints.tls)],
            ["QDRANT_API_KEY", credentials.qdrantApiKey],
            ["QDRANT_READ_ONLY_API_KEY", credentials.qdrantReadOnlyApiKey],
        );
    }
    env.push(...caFileEnv(endpoints.tls));
    return env;
}

export function renderEnvFile(env: ReadonlyArray<readonly [string, string | number]>): string {
    const seen = new Set<string>();
    return env
        .map(([name, value]) => {
            if (seen.has(name)) {
                throw new RenderError(".env", name, "is set twice");
            }
            seen.add(name);
            return `${name}=${envValue(name, value)}\n`;
        })
        .join("");
}

export interface ConnectionStrings {
    /** Per service, per database: the pooled and the direct URL. */
    postgres: Record<string, Record<string, PoolUrls>>;
    /** Per Redis client of section 3.2. */
    redis: Record<string, string>;
    qdrant?: { url: string; grpcPort: number; apiKey: string; readOnlyApiKey: string };
    pgbouncerAdmin: string;
    operators: OperatorStrings;
    /** Per service with an n8n-format pool: its DB_POSTGRESDB_* variables and direct URL. */
    n8n: Record<string, Record<string, string | number>>;
}

/** What operators (and `npm run status` and `npm run emergency`) connect with. */
export interface OperatorStrings {
    /** The operators' .env variables (operatorEnv) by name. */
    env: Record<string, string | number>;
    /** Per monitoring role: straight to PostgreSQL's maintenance database (section 5.2's views are cluster-wide). */
    monitoring: Record<string, string>;
}

/** The operators' strings and n8n's variables with `endpoints`' host names, from the same builders as the .env files. */
function operatorStrings(plan: StackPlan, credentials: Credentials, endpoints: Endpoints): Pick<ConnectionStrings, "operators" | "n8n"> {
    const monitoring: Record<string, string> = {};
    for (const role of plan.roles.filter((candidate) => candidate.access === "monitoring")) {
        monitoring[role.name] = consoleUrl(role.name, requireCredential(credentials.postgres, role.name, "PostgreSQL"), endpoints.postgres, MAINTENANCE_DATABASE);
    }
    const n8n: Record<string, Record<string, string | number>> = {};
    for (const service of plan.services) {
        const pools = service.pools.filter((pool) => pool.format === "n8n");
        if (pools.length > 0) {
            n8n[service.name] = Object.fromEntries(pools.flatMap((pool) => n8nPoolEnv(plan, credentials, endpoints, pool, poolUrls(plan, credentials, endpoints, pool))));
        }
    }
    return { operators: { env: Object.fromEntries(operatorEnv(plan, credentials, endpoints)), monitoring }, n8n };
}

export function connectionStrings(plan: StackPlan, credentials: Credentials, endpoints: Endpoints): ConnectionStrings {
    const postgres: Record<string, Record<string, PoolUrls>> = {};
    for (const pool of plan.pools) {
        (postgres[pool.service] ??= {})[pool.database] = poolUrls(plan, credentials, endpoints, pool);
    }
    const redis: Record<string, string> = {};
    for (const client of plan.redis.clients) {
        redis[client.name] = redisUrl(client.user, requireCredential(credentials.redis, client.user, "Redis"), endpoints.redis, client.database, endpoints.tls?.redis);
    }
    return {
        postgres,
        redis,
        qdrant: plan.qdrant.enabled
            ? {
                  url: qdrantUrl(endpoints.qdrant.host, endpoints.qdrant.httpPort, endpoints.tls),
                  grpcPort: endpoints.qdrant.grpcPort,
                  apiKey: credentials.qdrantApiKey,
                  readOnlyApiKey: credentials.qdrantReadOnlyApiKey,
              }
            : undefined,
        pgbouncerAdmin: postgresUrl({
            scheme: "postgresql",
            user: plan.pgbouncer.adminUser,
            password: credentials.pgbouncerAdmin,
            endpoint: endpoints.pgbouncer,
            database: "pgbouncer",
            params: endpoints.tls?.postgres ? sslParams("verify-full", endpoints.tls) : undefined,
        }),
        ...operatorStrings(plan, credentials, endpoints),
    };
}

/** Every service's .env file, and the operators' one, as file text. */
export function envFiles(plan: StackPlan, credentials: Credentials, endpoints: Endpoints): Record<string, string> {
    const files: Record<string, string> = {};
    for (const service of plan.services) {
        files[service.name] = renderEnvFile(serviceEnv(plan, credentials, endpoints, service.name));
    }
    files.operators = renderEnvFile(operatorEnv(plan, credentials, endpoints));
    return files;
}
