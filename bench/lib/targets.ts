// Who the benchmark's clients are: a client level spread over the plan's pools by their share of
// section 2.2's "Max Connections", each share connecting with its service's own URL from the
// program (pooled: PgBouncer and the pool's alias; direct: PostgreSQL and the pool's database).
import { ClientConfig } from "pg";
import { PoolPlan, StackPlan } from "../../config/plan";
import { poolUrls } from "../../render/connections";
import { parseAsyncpgUrl, pgConfigFromLibpqUrl } from "../../tests/integration/support/clients";
import { testEndpoints } from "../../tests/integration/support/plan";
import type { Target } from "./results";

/** What libpq (pgbench) needs, taken from one of the program's URLs; the password goes in the environment. */
export interface LibpqTarget {
    host: string;
    port: number;
    user: string;
    password: string;
    database: string;
    params: Record<string, string>;
}

export interface Endpoint {
    url: string;
    libpq: LibpqTarget;
    node: ClientConfig;
}

export interface PoolTarget {
    pool: PoolPlan;
    pooled: Endpoint;
    direct: Endpoint;
}

export interface Share {
    target: PoolTarget;
    clients: number;
}

function endpoint(url: string): Endpoint {
    const parsed = new URL(url);
    const asyncpg = parsed.protocol === "postgresql+asyncpg:";
    const node = asyncpg ? parseAsyncpgUrl(url).config : pgConfigFromLibpqUrl(url);
    const params: Record<string, string> = {};
    if (!asyncpg) {
        for (const [key, value] of parsed.searchParams) {
            params[key] = value;
        }
    }
    return {
        url,
        node,
        libpq: {
            host: String(node.host),
            port: Number(node.port),
            user: String(node.user),
            password: String(node.password),
            database: String(node.database),
            params,
        },
    };
}

export function poolTargets(plan: StackPlan, credentials: Parameters<typeof poolUrls>[1]): PoolTarget[] {
    const endpoints = testEndpoints(plan);
    return plan.pools.map((pool) => {
        const urls = poolUrls(plan, credentials, endpoints, pool);
        return { pool, pooled: endpoint(urls.pooled), direct: endpoint(urls.direct) };
    });
}

export function pick(target: PoolTarget, kind: Target): Endpoint {
    return kind === "pooled" ? target.pooled : target.direct;
}

/**
 * `total` clients over the pools in proportion to their maxClientConnections (largest
 * remainder, so the shares add up to `total` exactly); pools whose share rounds to 0 are left out.
 */
export function apportion(targets: readonly PoolTarget[], total: number): Share[] {
    const weights = targets.map((target) => target.pool.maxClientConnections);
    const sum = weights.reduce((a, b) => a + b, 0);
    const exact = weights.map((weight) => (total * weight) / sum);
    const counts = exact.map(Math.floor);
    let left = total - counts.reduce((a, b) => a + b, 0);
    const order = exact
        .map((value, index) => ({ index, remainder: value - Math.floor(value) }))
        .sort((a, b) => b.remainder - a.remainder || weights[b.index] - weights[a.index]);
    for (const { index } of order) {
        if (left-- <= 0) {
            break;
        }
        counts[index]++;
    }
    return targets.map((target, index) => ({ target, clients: counts[index] })).filter((share) => share.clients > 0);
}

