import fc from "fast-check";
import { tryPlan } from "../../config";
import { computeBudget } from "../../config/budget";
import { StackPlan } from "../../config/plan";
import { Problem } from "../../config/problems";
import { rawConfig } from "./support/config";

function problemsOf(values: Record<string, unknown>): Problem[] {
    return tryPlan(rawConfig(values)).problems;
}

const summary = (problems: Problem[]) => problems.map((problem) => `${problem.severity} ${problem.key}`).sort();

test("the default (dev) plan passes; its one warning is the superuser's limit that cannot bind", () => {
    expect(summary(problemsOf({}))).toEqual(["warning roles.postgres.connectionLimit"]);
    expect(problemsOf({})[0].message).toMatch(/superuser: PostgreSQL ignores its CONNECTION LIMIT 10/);
});

test("the spec's literal role limits (section 2.5) get exactly the errors and warnings they deserve", () => {
    const spec = {
        roles: {
            zentoria_app: { connectionLimit: 50 },
            n8n_app: { connectionLimit: 20 },
            readonly: { connectionLimit: 10 },
            postgres: { connectionLimit: 10 },
        },
    };
    const problems = problemsOf(spec);
    expect(summary(problems)).toEqual([
        "error roles.n8n_app.connectionLimit",
        "error roles.zentoria_app.connectionLimit",
        "warning postgres.maxConnections",
        "warning roles.postgres.connectionLimit",
    ]);
    // Derived: the role limits (95) plus the superuser's 28 with 80 % headroom (35).
    expect(problems.find((problem) => problem.key === "postgres.maxConnections")?.message).toBe(
        "all connections including the superuser's 28 (provider, healthcheck, direct): 115 at peak is 88 % of 130, above section 5.1's 80 % warning level",
    );
    const zentoriaApp = problems.find((problem) => problem.key === "roles.zentoria_app.connectionLimit");
    expect(zentoriaApp?.message).toBe(
        "role zentoria_app (pools ai_orchestrator/zentoria_main 10 + ai_orchestrator/zentoria_vectors 20 + backend/zentoria_main 25 + " +
            "backend/zentoria_vectors 15 (pool size + 5 reserve each), 4 direct): 74 at peak, over the limit of 50",
    );
    expect(problems.find((problem) => problem.key === "roles.n8n_app.connectionLimit")?.message).toMatch(/27 at peak, over the limit of 20/);
});

describe("each error path", () => {
    test.each([
        [{ pgbouncer: { maxDbConnections: 20 } }, "services.backend.pools.zentoria_main.poolSize", /25 server connections, over pgbouncer.maxDbConnections 20/],
        [{ postgres: { maxConnections: 100 } }, "postgres.maxConnections", /118 at peak, over the limit of 97/],
        // The provider's 4 connections per database (4 x 4), the healthcheck's and the live changes' 1 each, the superuser's 10 direct.
        [{ postgres: { maxConnections: 140 } }, "postgres.maxConnections", /the superuser's 28 \(provider, healthcheck, direct\): 146 at peak, over the limit of 140/],
        [{ postgres: { maxConnections: 120, superuserReservedConnections: 120 } }, "postgres.superuserReservedConnections", /leaves no connection/],
        [{ pgbouncer: { maxClientConn: 100 } }, "pgbouncer.maxClientConn", /145 at peak, over the limit of 100/],
        [{ pgbouncer: { fileDescriptorLimit: 500 } }, "pgbouncer.fileDescriptorLimit", /needs 637 file descriptors/],
        [{ redis: { maxclients: 100, warningClients: 50, criticalClients: 90 } }, "redis.maxclients", /109 at peak, over maxclients 100/],
        [{ redis: { maxclients: 800 } }, "redis.criticalClients", /900 is above maxclients 800/],
    ])("%j is refused at %s", (values, key, message) => {
        const errors = problemsOf(values).filter((problem) => problem.severity === "error");
        expect(errors.map((problem) => problem.key)).toContain(key);
        expect(errors.find((problem) => problem.key === key)?.message).toMatch(message);
    });
});

describe("each warning path", () => {
    test.each([
        [{ roles: { zentoria_app: { connectionLimit: 90 } } }, "roles.zentoria_app.connectionLimit", /74 at peak is 82 % of 90, above section 5.1's 80 % warning level/],
        [{ pgbouncer: { maxDbConnections: 30 } }, "pgbouncer.maxDbConnections", /zentoria_main .*25 at peak is 83 % of 30/],
        [
            { postgres: { maxConnections: 210 }, roles: { zentoria_app: { connectionLimit: 150 } } },
            "postgres.maxConnections",
            /CONNECTION LIMITs add up to 210, more than the 207 non-reserved/,
        ],
        [
            { postgres: { maxConnections: 210 }, roles: { zentoria_app: { connectionLimit: 150 } } },
            "postgres.superuserReservedConnections",
            /the superuser can open 28 connections .* but only 3 are reserved: roles at their CONNECTION LIMITs \(210 in all\) leave it 0/,
        ],
        [{ redis: { clients: { cache: { maxConnections: 450 } } } }, "redis.clients", /529 at peak is above section 5.3's warning level of 500/],
        [{ redis: { clients: { cache: { maxConnections: 850 } } } }, "redis.clients", /929 at peak is above section 5.3's critical level of 900/],
        [{ qdrant: { httpMaxSockets: 10 } }, "qdrant.httpMaxSockets", /17 at peak, over the limit of 10/],
        [{ qdrant: { httpMaxSockets: 20 } }, "qdrant.httpMaxSockets", /17 at peak is 85 %/],
        [{ pgbouncer: { minPoolSize: 8 } }, "pgbouncer.minPoolSize", /above monitoring's pool size 5/],
        [{ pgbouncer: { poolMode: "session" } }, "pgbouncer.poolMode", /section 2.3/],
    ])("%j warns at %s", (values, key, message) => {
        const problems = problemsOf(values);
        expect(problems.filter((problem) => problem.severity === "error")).toEqual([]);
        const warnings = problems.filter((problem) => problem.severity === "warning" && problem.key === key);
        expect(warnings.map((warning) => warning.message).join("\n")).toMatch(message);
    });
});

test("Qdrant's budget is not checked when Qdrant is off", () => {
    expect(summary(problemsOf({ qdrant: { enabled: false, httpMaxSockets: 1 } }))).toEqual(["warning roles.postgres.connectionLimit"]);
});

// An independent model for the property test: a PostgreSQL server that counts connections and
// refuses like PostgreSQL does, and a PgBouncer that opens every pool to its peak one connection
// at a time, as PgBouncer would under full load.
function simulateOverflow(plan: StackPlan): string[] {
    const failures: string[] = [];
    const limits = new Map(plan.roles.map((role) => [role.name, role]));
    const open = new Map<string, number>();
    let total = 0;
    const connect = (role: string): boolean => {
        const spec = limits.get(role)!;
        const superuser = spec.access === "superuser";
        if (!superuser && (open.get(role) ?? 0) >= spec.connectionLimit) {
            return false; // too many connections for role
        }
        const slots = superuser ? plan.postgres.maxConnections : plan.postgres.maxConnections - plan.postgres.superuserReservedConnections;
        if (total >= slots) {
            return false; // remaining connection slots are reserved / too many clients
        }
        open.set(role, (open.get(role) ?? 0) + 1);
        total++;
        return true;
    };
    const userCap = new Map(plan.pgbouncer.users.map((user) => [user.role, user.maxUserConnections]));
    const pooled = new Map<string, number>();
    for (const pool of plan.pools) {
        const wanted = pool.poolSize + plan.pgbouncer.reservePoolSize;
        for (let i = 0; i < wanted; i++) {
            if (i >= plan.pgbouncer.maxDbConnections || (pooled.get(pool.role) ?? 0) >= (userCap.get(pool.role) ?? Infinity)) {
                failures.push(`pool ${pool.alias} capped`);
                break;
            }
            if (!connect(pool.role)) {
                failures.push(`pool ${pool.alias} refused`);
                break;
            }
            pooled.set(pool.role, (pooled.get(pool.role) ?? 0) + 1);
        }
    }
    for (const role of plan.roles.filter((candidate) => candidate.access !== "superuser")) {
        for (let i = 0; i < role.directConnections; i++) {
            if (!connect(role.name)) {
                failures.push(`direct ${role.name} refused`);
                break;
            }
        }
    }
    const program = plan.postgres.programConnections;
    for (const role of plan.roles.filter((candidate) => candidate.access === "superuser")) {
        for (let i = 0; i < program.provider + program.healthcheck + program.liveChanges + role.directConnections; i++) {
            if (!connect(role.name)) {
                failures.push(`superuser ${role.name} refused`);
                break;
            }
        }
    }
    let clients = plan.pgbouncer.consoleClients;
    for (const pool of plan.pools) {
        clients += pool.maxClientConnections;
    }
    if (clients > plan.pgbouncer.maxClientConn) {
        failures.push("clients refused by max_client_conn");
    }
    let descriptors = plan.pgbouncer.maxClientConn + 32;
    for (const pool of plan.pools) {
        descriptors += Math.min(pool.poolSize + plan.pgbouncer.reservePoolSize, plan.pgbouncer.maxDbConnections);
    }
    if (descriptors > plan.pgbouncer.fileDescriptorLimit) {
        failures.push("out of file descriptors");
    }
    // One connection each for the program's own users: admin, monitor, healthcheck, and backup when backups are on.
    let redisClients = 3 + (plan.backups.enabled ? 1 : 0);
    for (const client of plan.redis.clients) {
        redisClients += client.maxConnections;
    }
    if (redisClients > plan.redis.maxclients) {
        failures.push("redis maxclients");
    }
    return failures;
}

test("property: the checker refuses exactly the plans that overflow at peak", () => {
    const size = (max: number) => fc.integer({ min: 1, max });
    // Limits are drawn around what the pools need, so plans near every boundary, on both sides, come up.
    const slack = fc.integer({ min: -6, max: 30 });
    const pool = (alias: string) => fc.record({ alias: fc.constant(alias), poolSize: size(25), maxClientConnections: size(90) });
    const arbitraryConfig = fc
        .record({
            services: fc.record({
                backend: fc.record({ pools: fc.record({ zentoria_main: pool("zentoria_main"), zentoria_vectors: pool("zentoria_vectors") }) }),
                n8n: fc.record({ pools: fc.record({ zentoria_main: pool("zentoria_main_n8n"), n8n: pool("n8n") }) }),
                ai_orchestrator: fc.record({ pools: fc.record({ zentoria_main: pool("zentoria_main_ai"), zentoria_vectors: pool("zentoria_vectors_ai") }) }),
                monitoring: fc.record({ pools: fc.record({ postgres: pool("monitoring") }) }),
            }),
            reservePoolSize: fc.integer({ min: 0, max: 8 }),
            direct: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 4, maxLength: 4 }),
            slacks: fc.array(slack, { minLength: 12, maxLength: 12 }),
            explicitMaxConnections: fc.boolean(),
            superuserReservedConnections: fc.integer({ min: 0, max: 5 }),
            superuserBudget: size(12),
            redisCache: size(900),
        })
        .map((draw) => {
            const s = draw.services;
            const peakOf = (p: { poolSize: number }) => p.poolSize + draw.reservePoolSize;
            const allPools = [s.backend.pools.zentoria_main, s.backend.pools.zentoria_vectors, s.n8n.pools.zentoria_main, s.n8n.pools.n8n, s.ai_orchestrator.pools.zentoria_main, s.ai_orchestrator.pools.zentoria_vectors, s.monitoring.pools.postgres];
            const appPeak = [s.backend.pools.zentoria_main, s.backend.pools.zentoria_vectors, s.ai_orchestrator.pools.zentoria_main, s.ai_orchestrator.pools.zentoria_vectors].reduce((sum, p) => sum + peakOf(p), 0);
            const n8nPeak = peakOf(s.n8n.pools.zentoria_main) + peakOf(s.n8n.pools.n8n);
            const monitorPeak = peakOf(s.monitoring.pools.postgres);
            const [dApp, dN8n, dReadonly, dMonitor] = draw.direct;
            const k = draw.slacks;
            const limit = (needed: number, slackValue: number) => Math.max(1, needed + slackValue);
            const roles = {
                postgres: { access: "superuser", connectionLimit: 10, directConnections: draw.superuserBudget },
                zentoria_app: { access: "application", connectionLimit: limit(appPeak + dApp, k[0]), directConnections: dApp },
                n8n_app: { access: "application", connectionLimit: limit(n8nPeak + dN8n, k[1]), directConnections: dN8n },
                readonly: { access: "readonly", connectionLimit: limit(dReadonly, k[2]), directConnections: dReadonly },
                zentoria_monitor: { access: "monitoring", connectionLimit: limit(monitorPeak + dMonitor, k[3]), directConnections: dMonitor },
            };
            const largestPeak = Math.max(...allPools.map(peakOf));
            const clients = allPools.reduce((sum, p) => sum + p.maxClientConnections, 0);
            const servers = allPools.reduce((sum, p) => sum + peakOf(p), 0);
            const maxClientConn = limit(clients + 5, k[5]);
            return {
                roles,
                services: s,
                pgbouncer: {
                    reservePoolSize: draw.reservePoolSize,
                    minPoolSize: 0,
                    maxDbConnections: limit(largestPeak, k[4] % 4),
                    maxClientConn,
                    consoleClients: 5,
                    fileDescriptorLimit: limit(maxClientConn + servers + 32, k[6]),
                },
                postgres: {
                    // The program's own superuser connections: 20 per database the provider reaches (4) and the healthcheck.
                    maxConnections: draw.explicitMaxConnections ? limit(appPeak + n8nPeak + monitorPeak + 20 + 81 + draw.superuserBudget, k[7]) : undefined,
                    superuserReservedConnections: draw.superuserReservedConnections,
                },
                redis: { maxclients: limit(draw.redisCache + 78, k[8]), warningClients: 1, criticalClients: 2, clients: { cache: { maxConnections: draw.redisCache } } },
                qdrant: { enabled: false },
            };
        });
    const outcomes = { refused: 0, accepted: 0 };
    fc.assert(
        fc.property(arbitraryConfig, (values) => {
            const attempt = tryPlan(rawConfig(values as unknown as Record<string, unknown>));
            const plan = attempt.plan!;
            expect(plan).toBeDefined();
            const refused = computeBudget(plan).problems.some((problem) => problem.severity === "error");
            const failures = simulateOverflow(plan);
            expect({ refused, failures }).toEqual({ refused: failures.length > 0, failures });
            outcomes[refused ? "refused" : "accepted"]++;
        }),
        { numRuns: 500 },
    );
    // Both sides of the property were exercised.
    expect(outcomes.refused).toBeGreaterThan(50);
    expect(outcomes.accepted).toBeGreaterThan(50);
});
