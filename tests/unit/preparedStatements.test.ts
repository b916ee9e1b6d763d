// max_prepared_statements by PgBouncer version, and the asyncpg URL that follows from it: the
// workaround for a PgBouncer that cannot keep prepared statements (prepared_statement_cache_size=0)
// only where PgBouncer really cannot.
import { loadPlan } from "../../config";
import { DEFAULT_MAX_PREPARED_STATEMENTS } from "../../config/defaults";
import { StackPlan } from "../../config/plan";
import { connectionStrings, networkEndpoints } from "../../render/connections";
import { CONTAINER_LAYOUT } from "../../render/layout";
import { renderPgbouncerIni } from "../../render/pgbouncer";
import { planCredentials } from "../support/render";
import { rawConfig } from "./support/config";

function planWith(pgbouncer: Record<string, unknown>): StackPlan {
    return loadPlan(rawConfig({ pgbouncer })).plan;
}

/** The max_prepared_statements line of the rendered pgbouncer.ini, or undefined. */
function renderedSetting(plan: StackPlan): string | undefined {
    return /^max_prepared_statements = .*$/m.exec(renderPgbouncerIni(plan, CONTAINER_LAYOUT))?.[0];
}

/** Query parameters of every asyncpg URL, pooled and direct. */
function asyncpgParams(plan: StackPlan): Array<{ pool: string; kind: string; params: Record<string, string> }> {
    const strings = connectionStrings(plan, planCredentials(plan), networkEndpoints(plan));
    return plan.pools
        .filter((pool) => plan.services.find((service) => service.name === pool.service)!.driver === "asyncpg")
        .flatMap((pool) =>
            (["pooled", "direct"] as const).map((kind) => {
                const url = new URL(strings.postgres[pool.service][pool.database][kind]);
                expect(url.protocol).toBe("postgresql+asyncpg:");
                return { pool: pool.alias, kind, params: Object.fromEntries(url.searchParams) };
            }),
        );
}

const NO_PARAMS = [
    { pool: "zentoria_main_ai", kind: "pooled", params: {} },
    { pool: "zentoria_main_ai", kind: "direct", params: {} },
    { pool: "zentoria_vectors_ai", kind: "pooled", params: {} },
    { pool: "zentoria_vectors_ai", kind: "direct", params: {} },
];
const CACHE_OFF_WHEN_POOLED = NO_PARAMS.map((entry) => (entry.kind === "pooled" ? { ...entry, params: { prepared_statement_cache_size: "0" } } : entry));

describe("max_prepared_statements", () => {
    test("the default image (PgBouncer 1.25.2) gets PgBouncer 1.24's default of 200, rendered", () => {
        const plan = loadPlan(rawConfig()).plan;
        expect(plan.pgbouncer.image).toBe("ghcr.io/cloudnative-pg/pgbouncer:1.25.2");
        expect(DEFAULT_MAX_PREPARED_STATEMENTS).toBe(200);
        expect(plan.pgbouncer.maxPreparedStatements).toBe(200);
        expect(renderedSetting(plan)).toBe("max_prepared_statements = 200");
    });

    test.each([
        ["zentoria-ci/pgbouncer:1.24.1", 200],
        ["example/pgbouncer:v1.22.1-p0", 200],
        // 1.21.0 to 1.22.0: prepared statements leak and misbehave with COPY FROM STDIN (fixed in 1.22.1).
        ["example/pgbouncer:1.22.0", undefined],
        ["example/pgbouncer:1.21.0", undefined],
        ["zentoria-ci/pgbouncer:1.18.0", undefined],
        // No version to read: an older PgBouncer would refuse the key.
        [`example/pgbouncer@sha256:${"a".repeat(64)}`, undefined],
    ])("unset, with %s: %s", (image, expected) => {
        const plan = planWith({ image });
        expect(plan.pgbouncer.maxPreparedStatements).toBe(expected);
        expect(renderedSetting(plan)).toBe(expected === undefined ? undefined : `max_prepared_statements = ${expected}`);
    });

    test("a configured value wins, 0 included", () => {
        expect(renderedSetting(planWith({ maxPreparedStatements: 0 }))).toBe("max_prepared_statements = 0");
        expect(renderedSetting(planWith({ image: "example/pgbouncer:1.21.0", maxPreparedStatements: 50 }))).toBe("max_prepared_statements = 50");
        expect(renderedSetting(planWith({ image: `example/pgbouncer@sha256:${"a".repeat(64)}`, maxPreparedStatements: 100 }))).toBe("max_prepared_statements = 100");
    });
});

describe("the asyncpg URLs follow the PgBouncer the stack runs", () => {
    test("PgBouncer keeps prepared statements: the URLs carry no workaround", () => {
        expect(asyncpgParams(loadPlan(rawConfig()).plan)).toEqual(NO_PARAMS);
        expect(asyncpgParams(planWith({ image: "zentoria-ci/pgbouncer:1.24.1" }))).toEqual(NO_PARAMS);
        expect(asyncpgParams(planWith({ image: "example/pgbouncer:1.21.0", maxPreparedStatements: 100 }))).toEqual(NO_PARAMS);
    });

    test.each([
        ["an older PgBouncer", { image: "zentoria-ci/pgbouncer:1.18.0" }],
        ["max_prepared_statements 0", { maxPreparedStatements: 0 }],
        ["an image by digest, unset", { image: `example/pgbouncer@sha256:${"a".repeat(64)}` }],
    ])("%s: the pooled URLs keep prepared_statement_cache_size=0, the direct ones need none", (_name, pgbouncer) => {
        expect(asyncpgParams(planWith(pgbouncer))).toEqual(CACHE_OFF_WHEN_POOLED);
    });
});
