// The variable names of every .env file the program renders (render/connections.ts builds
// the files with these helpers), and the check that no file would get one name twice.
import { Problem, shown } from "./problems";
import { StackConfig } from "./schema";

/** `DATABASE_URL` -> `DATABASE_POOL_MAX`; any other name gets `_POOL_MAX` appended. */
export function poolMaxVariable(env: string): string {
    return env.endsWith("_URL") ? `${env.slice(0, -"_URL".length)}_POOL_MAX` : `${env}_POOL_MAX`;
}

export const directVariable = (env: string) => `DIRECT_${env}`;

/** n8n's DB_POSTGRESDB_* set: the suffixes after the pool's `env` prefix. */
export const N8N_SUFFIXES = ["HOST", "PORT", "DATABASE", "USER", "PASSWORD", "POOL_SIZE", "CONNECTION_TIMEOUT"] as const;
export const N8N_TYPE_VARIABLE = "DB_TYPE";
export const n8nDirectVariable = (env: string) => `DIRECT_${env}_URL`;

export function poolVariables(pool: { env: string; format: "url" | "n8n" }): string[] {
    if (pool.format === "n8n") {
        return [N8N_TYPE_VARIABLE, ...N8N_SUFFIXES.map((suffix) => `${pool.env}_${suffix}`), n8nDirectVariable(pool.env)];
    }
    return [pool.env, directVariable(pool.env), poolMaxVariable(pool.env)];
}

export const REDIS_SERVICE_VARIABLES = ["REDIS_HOST", "REDIS_PORT", "REDIS_USERNAME", "REDIS_PASSWORD", "REDIS_CONNECT_TIMEOUT_MS", "REDIS_KEEPALIVE_MS"] as const;
export const redisClientUrlVariable = (client: string) => `REDIS_${client.toUpperCase()}_URL`;
export const redisClientMaxVariable = (client: string) => `REDIS_${client.toUpperCase()}_MAX_CONNECTIONS`;
export const QUEUE_VARIABLES = ["QUEUE_BULL_REDIS_HOST", "QUEUE_BULL_REDIS_PORT", "QUEUE_BULL_REDIS_DB", "QUEUE_BULL_REDIS_USERNAME", "QUEUE_BULL_REDIS_PASSWORD"] as const;

/** With TLS (issue 11): where every client finds the stack's CA; n8n's and Bull's own TLS switches. */
export const TLS_CA_VARIABLES = ["ZENTORIA_CA_FILE", "PGSSLROOTCERT", "NODE_EXTRA_CA_CERTS"] as const;
export const N8N_TLS_SUFFIXES = ["SSL_ENABLED", "SSL_CA", "SSL_REJECT_UNAUTHORIZED"] as const;
export const QUEUE_TLS_VARIABLE = "QUEUE_BULL_REDIS_TLS";

export const QDRANT_SERVICE_VARIABLES = [
    "QDRANT_URL",
    "QDRANT_HOST",
    "QDRANT_PORT",
    "QDRANT_GRPC_PORT",
    "QDRANT_API_KEY",
    "QDRANT_HTTP_MAX_SOCKETS",
    "QDRANT_HTTP_MAX_FREE_SOCKETS",
] as const;
/** `vectorSearch` -> `VECTOR_SEARCH`. */
export const qdrantOperationName = (operation: string) => operation.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
export const qdrantOperationVariables = (operation: string) => [`QDRANT_${qdrantOperationName(operation)}_CONCURRENCY`, `QDRANT_${qdrantOperationName(operation)}_TIMEOUT_SECONDS`];

export const OPERATOR_POSTGRES_VARIABLES = ["POSTGRES_SUPERUSER_URL", "PGBOUNCER_ADMIN_URL"] as const;
export const statsUrlVariable = (user: string) => `PGBOUNCER_STATS_URL_${user.toUpperCase()}`;
export const readonlyUrlVariable = (role: string, database: string) => `${role.toUpperCase()}_${database.toUpperCase()}_URL`;
export const redisUserUrlVariable = (user: string) => `REDIS_${user.toUpperCase()}_URL`;
export const OPERATOR_QDRANT_VARIABLES = ["QDRANT_URL", "QDRANT_API_KEY", "QDRANT_READ_ONLY_API_KEY"] as const;

/** A variable and the config key that makes the program write it. */
interface Variable {
    name: string;
    key: string;
}

function serviceVariables(config: StackConfig, service: string): Variable[] {
    const variables: Variable[] = [];
    const pools = Object.entries(config.services[service].pools);
    for (const [database, pool] of pools) {
        const key = `services.${service}.pools.${database}.env`;
        variables.push(...poolVariables(pool).map((name) => ({ name, key })));
        if (pool.format === "n8n" && config.tls.enabled && config.tls.inNetwork) {
            variables.push(...N8N_TLS_SUFFIXES.map((suffix) => ({ name: `${pool.env}_${suffix}`, key })));
        }
    }
    const clients = Object.entries(config.redis.clients).filter(([, client]) => client.services.includes(service));
    if (clients.length > 0) {
        const key = `redis.clients.${clients[0][0]}.services`;
        variables.push(...REDIS_SERVICE_VARIABLES.map((name) => ({ name, key })));
        for (const [name] of clients) {
            const clientKey = `redis.clients.${name}`;
            variables.push({ name: redisClientUrlVariable(name), key: clientKey }, { name: redisClientMaxVariable(name), key: clientKey });
        }
        if (pools.some(([, pool]) => pool.format === "n8n")) {
            variables.push(...QUEUE_VARIABLES.map((name) => ({ name, key })));
            if (config.tls.enabled) {
                variables.push({ name: QUEUE_TLS_VARIABLE, key });
            }
        }
    }
    if (config.qdrant.enabled && config.qdrant.services.includes(service)) {
        const key = "qdrant.services";
        variables.push(...QDRANT_SERVICE_VARIABLES.map((name) => ({ name, key })));
        variables.push(...Object.keys(config.qdrant.operations).flatMap((operation) => qdrantOperationVariables(operation).map((name) => ({ name, key }))));
    }
    if (config.tls.enabled) {
        variables.push(...TLS_CA_VARIABLES.map((name) => ({ name, key: "tls.enabled" })));
    }
    return variables;
}

function operatorVariables(config: StackConfig): Variable[] {
    const variables: Variable[] = OPERATOR_POSTGRES_VARIABLES.map((name) => ({ name, key: "roles" }));
    const roles = Object.entries(config.roles);
    for (const [role] of roles.filter(([, candidate]) => candidate.access === "monitoring")) {
        variables.push({ name: statsUrlVariable(role), key: `roles.${role}` });
    }
    for (const [role] of roles.filter(([, candidate]) => candidate.access === "readonly")) {
        for (const database of Object.keys(config.databases)) {
            variables.push({ name: readonlyUrlVariable(role, database), key: `roles.${role}` });
        }
    }
    variables.push({ name: redisUserUrlVariable("admin"), key: "redis" }, { name: redisUserUrlVariable("monitor"), key: "redis" });
    if (config.qdrant.enabled) {
        variables.push(...OPERATOR_QDRANT_VARIABLES.map((name) => ({ name, key: "qdrant.enabled" })));
    }
    if (config.tls.enabled) {
        variables.push(...TLS_CA_VARIABLES.map((name) => ({ name, key: "tls.enabled" })));
    }
    return variables;
}

function reportClashes(file: string, variables: readonly Variable[], problems: Problem[]): void {
    const byName = new Map<string, Variable[]>();
    for (const variable of variables) {
        byName.set(variable.name, [...(byName.get(variable.name) ?? []), variable]);
    }
    // Reported at every key involved: either may be the one that was just changed.
    for (const [name, sources] of byName) {
        const keys = [...new Set(sources.map((source) => source.key))];
        if (sources.length < 2) {
            continue;
        }
        for (const key of keys) {
            const others = keys.filter((other) => other !== key);
            problems.push({
                severity: "error",
                key,
                message: `would write ${shown(name)} twice into ${file}${others.length > 0 ? ` (also from ${others.join(", ")})` : ""}`,
            });
        }
    }
}

/** Every .env file gets each variable once: a service's, and the operators'. */
export function checkEnvNames(config: StackConfig, problems: Problem[]): void {
    for (const service of Object.keys(config.services)) {
        reportClashes(`${service}'s .env`, serviceVariables(config, service), problems);
    }
    reportClashes("the operators' .env", operatorVariables(config), problems);
}
