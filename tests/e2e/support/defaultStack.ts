// The stack a user gets with the default prefix and host names (zentoria-db, zentoria-postgres,
// zentoria-redis, ...), on PostgreSQL 17 with pgvector: deployed once for the sections of
// tests/e2e/defaultStack.test.ts, destroyed with its volumes afterwards.
import { ciImages, docker, freePort } from "./project";
import { containerIdentity, Deployment, removeDockerObjects } from "./deployment";

export const DEFAULT_PREFIX = "zentoria";

export interface DefaultStack {
    deployment: Deployment;
    images: ReturnType<typeof ciImages>;
    /** Host ports the stack publishes, by service. */
    ports: { postgres: number; pgbouncer: number; redis: number; prometheus: number; alertmanager: number };
}

/**
 * The monitoring part as the e2e stack runs it (issue 12): the stand-in images, short intervals
 * so that an alert fires within seconds, and Redis' connected_clients levels low enough for a
 * test to cross them with a dozen connections.
 */
export const E2E_MONITORING = { scrapeIntervalSeconds: 2, evaluationIntervalSeconds: 2, redisWarningClients: 10, redisCriticalClients: 50 } as const;

/** Container names of the default stack, by service. */
export const CONTAINERS = {
    postgres: `${DEFAULT_PREFIX}-postgres`,
    pgbouncer: `${DEFAULT_PREFIX}-pgbouncer`,
    redis: `${DEFAULT_PREFIX}-redis`,
} as const;

export function identities(): Record<keyof typeof CONTAINERS, { id: string; startedAt: string }> {
    return {
        postgres: containerIdentity(CONTAINERS.postgres),
        pgbouncer: containerIdentity(CONTAINERS.pgbouncer),
        redis: containerIdentity(CONTAINERS.redis),
    };
}

/**
 * Registers beforeAll/afterAll that deploy the default stack and take it down; the returned
 * object is filled in by the time the tests run.
 */
export function useDefaultStack(): DefaultStack {
    const context = {} as DefaultStack;
    beforeAll(async () => {
        // A leftover of an interrupted run would hold the names.
        removeDockerObjects(DEFAULT_PREFIX);
        context.images = ciImages();
        context.ports = { postgres: await freePort(), pgbouncer: await freePort(), redis: await freePort(), prometheus: await freePort(), alertmanager: await freePort() };
        context.deployment = await Deployment.create(DEFAULT_PREFIX, {
            "zentoria:bindAddress": "127.0.0.1",
            "zentoria:postgres": { image: context.images.postgres17, pgvector: true, hostPort: context.ports.postgres },
            "zentoria:pgbouncer": { image: context.images.pgbouncer, hostPort: context.ports.pgbouncer },
            "zentoria:redis": {
                image: context.images.redis,
                hostPort: context.ports.redis,
                warningClients: E2E_MONITORING.redisWarningClients,
                criticalClients: E2E_MONITORING.redisCriticalClients,
            },
            // No Qdrant stand-in exists (no package, no image reachable).
            "zentoria:qdrant": { enabled: false },
            "zentoria:monitoring": {
                enabled: true,
                scrapeIntervalSeconds: E2E_MONITORING.scrapeIntervalSeconds,
                evaluationIntervalSeconds: E2E_MONITORING.evaluationIntervalSeconds,
                prometheus: { image: context.images.prometheus, hostPort: context.ports.prometheus },
                alertmanager: { enabled: true, image: context.images.alertmanager, hostPort: context.ports.alertmanager },
                exporters: { pgbouncerImage: context.images.pgbouncerExporter, postgresImage: context.images.postgresExporter, redisImage: context.images.redisExporter },
            },
        });
        await context.deployment.up("coldUp");
        for (const name of Object.values(CONTAINERS)) {
            expect([name, docker("inspect", "-f", "{{.State.Health.Status}}", name)]).toEqual([name, "healthy"]);
        }
    }, 15 * 60 * 1000);

    afterAll(async () => {
        if (context.deployment) {
            context.deployment.editConfig((config) => {
                for (const service of ["zentoria:postgres", "zentoria:redis", "zentoria:monitoring"]) {
                    config[service] = { ...config[service], retainDataOnDestroy: false };
                }
            });
            await context.deployment.up().catch((error) => process.stderr.write(`cleanup up failed: ${(error as Error).message}\n`));
            await context.deployment.destroyAndClean();
        } else {
            removeDockerObjects(DEFAULT_PREFIX);
        }
    }, 15 * 60 * 1000);
    return context;
}
