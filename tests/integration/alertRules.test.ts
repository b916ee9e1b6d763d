// Section 5's alert rules (render/prometheusRules.ts) under `promtool test rules`, from the same
// Prometheus (2.53, the zentoria-ci/prometheus stand-in) the stack runs. For every rule, series as
// the exporters report them: below the warning level no alert, at the warning level the warning
// (and not the critical), at the critical level the critical; for the rules that join a limit per
// pool or role, every pool or role at once with the same count, each judged against its own limit
// (the zentoria_main_n8n alias of n8n's pool against its 10 clients, not zentoria_main's 40). The
// expected alerts are worked out here from the plan's numbers, not from the rules' text, and the
// whole suite runs twice: with the spec's thresholds, and with every threshold key changed.
import { BACKUP_ALERT_MEASURES } from "../../render/backupAlerts";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { loadPlan } from "../../config";
import { StackPlan } from "../../config/plan";
import { renderPrometheusConfig } from "../../render/prometheus";
import { alertAnnotations, alertRules, renderRules, Severity } from "../../render/prometheusRules";
import { MONITORING_LAYOUT } from "../../render/monitoring";
import { ciImage, runTool } from "./support/ciImages";
import { devRawConfig } from "./support/plan";

const EVAL_TIME = "5m";
/** Samples every 15 s for 5 minutes and a bit: the evaluation at 5m sees a full minute of them. */
const STEPS = 21;
const constant = (value: number) => `${value}+0x${STEPS}`;
/** A counter that grows by `increase` between 4m and 4m15s, so that the last minute holds exactly that growth. */
const grewInLastMinute = (increase: number) => `0+0x16 ${increase}+0x${STEPS - 16}`;

type Labels = Record<string, string>;
interface Expected {
    severity: Severity;
    labels: Labels;
}
interface Case {
    name: string;
    alert: string;
    series: Array<{ series: string; values: string }>;
    expected: Expected[];
}

const selector = (name: string, labels: Labels) => `${name}{${Object.entries(labels).map(([key, value]) => `${key}="${value}"`).join(",")}}`;

/** The level section 5's tables give `value` against `warning` and `critical` ("> warning", "> critical"). */
function levelOf(value: number, warning: number, critical?: number): Severity | undefined {
    if (critical !== undefined && value > critical) {
        return "critical";
    }
    return value > warning ? "warning" : undefined;
}

/** Counts at each level of a percentage of `limit`: exactly at the warning level (no alert), just above it, just above the critical one. */
function percentCounts(limit: number, warning: number, critical: number): { below: number; warning?: number; critical: number } {
    const below = Math.floor((warning * limit) / 100);
    const justAbove = below + 1;
    return { below, warning: 100 * justAbove <= critical * limit ? justAbove : undefined, critical: Math.floor((critical * limit) / 100) + 1 };
}

interface Entity {
    labels: Labels;
    limit: number;
}

/**
 * A rule that compares a count per entity (a pool, a role, the whole server) with a percentage of
 * its limit: the three levels on the entity with the largest limit (the only one with a count
 * strictly between the levels, for small pools), then every entity with one count at once.
 */
function percentCases(alert: string, entities: Entity[], warning: number, critical: number, seriesFor: (entity: Entity, count: number) => Case["series"], extra: Case["series"] = []): Case[] {
    const widest = [...entities].sort((a, b) => b.limit - a.limit)[0];
    const counts = percentCounts(widest.limit, warning, critical);
    const single = (name: string, count: number, severity?: Severity): Case => ({
        name: `${alert}: ${name} (${count} of ${widest.limit})`,
        alert,
        series: [...seriesFor(widest, count), ...extra],
        expected: severity ? [{ severity, labels: widest.labels }] : [],
    });
    const cases = [single("at the warning level, no alert", counts.below), single("above the critical level", counts.critical, "critical")];
    if (counts.warning !== undefined) {
        cases.push(single("above the warning level", counts.warning, "warning"));
    }
    if (entities.length > 1) {
        // One count for all, at the warning level of the smallest limit that has one: each entity at its own level.
        const byLimit = [...entities].sort((a, b) => a.limit - b.limit);
        const withWarning = byLimit.map((entity) => percentCounts(entity.limit, warning, critical).warning).find((value) => value !== undefined);
        const count = withWarning ?? percentCounts(byLimit[0].limit, warning, critical).critical;
        const expected = entities.flatMap((entity) => {
            const severity = levelOf((100 * count) / entity.limit, warning, critical);
            return severity ? [{ severity, labels: entity.labels }] : [];
        });
        cases.push({ name: `${alert}: ${count} for every one of ${entities.length}, each against its own limit`, alert, series: [...entities.flatMap((entity) => seriesFor(entity, count)), ...extra], expected });
    }
    return cases;
}

/** A rule that compares a value with its warning and critical levels directly. */
function valueCases(alert: string, labels: Labels, warning: number, critical: number | undefined, seriesFor: (value: number) => Case["series"], values: { below: number; warning: number; critical?: number }): Case[] {
    const one = (name: string, value: number): Case => {
        const severity = levelOf(value, warning, critical);
        return { name: `${alert}: ${name} (${value})`, alert, series: seriesFor(value), expected: severity ? [{ severity, labels }] : [] };
    };
    return [
        one("below the warning level", values.below),
        one("above the warning level", values.warning),
        ...(values.critical !== undefined ? [one("above the critical level", values.critical)] : []),
    ];
}

const job = (name: string) => ({ job: name, instance: `${name}-exporter:9999` });

function cases(plan: StackPlan): Case[] {
    const t = plan.monitoring.thresholds;
    const pools = plan.pools.map((pool) => ({ labels: { database: pool.alias }, limit: pool.maxClientConnections, user: pool.role }));
    const poolSizes = plan.pools.map((pool) => ({ labels: { database: pool.alias }, limit: pool.poolSize, user: pool.role }));
    const roles = plan.roles.filter((role) => role.access !== "superuser").map((role) => ({ labels: { usename: role.name }, limit: role.connectionLimit }));
    const poolUser = (entity: Entity) => plan.pools.find((pool) => pool.alias === entity.labels.database)!.role;
    const clientBackends = (usename: string, count: number, state = "idle") => ({
        series: selector("pg_stat_activity_count", { ...job("postgres"), datname: "zentoria_main", state, usename, backend_type: "client backend" }),
        values: constant(count),
    });
    // Not a client: never counted against max_connections.
    const autovacuum = { series: selector("pg_stat_activity_count", { ...job("postgres"), datname: "zentoria_main", state: "active", usename: "", backend_type: "autovacuum worker" }), values: constant(1000) };
    const pgbouncer = job("pgbouncer");
    const redis = job("redis");
    const longQuery = { ...job("postgres"), datname: "zentoria_main", usename: "zentoria_app", state: "active", server: "zentoria-postgres:5432" };

    return [
        ...percentCases("ZentoriaPgbouncerPoolClients", pools, t.pgbouncerClientsWarningPercent, t.pgbouncerClientsCriticalPercent, (entity, count) => {
            // Waiting clients hold a slot of the limit too.
            const waiting = Math.min(count, 2);
            const labels = { ...pgbouncer, database: entity.labels.database, user: poolUser(entity) };
            return [
                { series: selector("pgbouncer_pools_client_active_connections", labels), values: constant(count - waiting) },
                { series: selector("pgbouncer_pools_client_waiting_connections", labels), values: constant(waiting) },
            ];
        }),
        ...percentCases("ZentoriaPgbouncerPoolServers", poolSizes, t.pgbouncerServersWarningPercent, t.pgbouncerServersCriticalPercent, (entity, count) => [
            { series: selector("pgbouncer_pools_server_active_connections", { ...pgbouncer, database: entity.labels.database, user: poolUser(entity) }), values: constant(count) },
        ]),
        ...percentCases("ZentoriaPgbouncerClients", [{ labels: {}, limit: plan.pgbouncer.maxClientConn }], t.pgbouncerClientsWarningPercent, t.pgbouncerClientsCriticalPercent, (_entity, count) => [
            { series: selector("pgbouncer_used_clients", pgbouncer), values: constant(count) },
        ]),
        ...valueCases(
            "ZentoriaPgbouncerWaitTime",
            { database: "zentoria_main" },
            t.pgbouncerWaitWarningMs,
            t.pgbouncerWaitCriticalMs,
            // 1000 transactions every 15 s; their waits add up to 1000 x `ms` ms.
            (ms) => [
                { series: selector("pgbouncer_stats_sql_transactions_pooled_total", { ...pgbouncer, database: "zentoria_main" }), values: `0+1000x${STEPS}` },
                { series: selector("pgbouncer_stats_client_wait_seconds_total", { ...pgbouncer, database: "zentoria_main" }), values: `0+${ms}x${STEPS}` },
            ],
            { below: Math.floor(t.pgbouncerWaitWarningMs / 2), warning: Math.round((t.pgbouncerWaitWarningMs + t.pgbouncerWaitCriticalMs) / 2), critical: 2 * t.pgbouncerWaitCriticalMs },
        ),
        ...valueCases(
            "ZentoriaPgbouncerPoolErrors",
            {},
            t.pgbouncerErrorsWarningPerMinute,
            t.pgbouncerErrorsCriticalPerMinute,
            (errors) => [{ series: selector("pgbouncer_pooler_errors_total", job("pgbouncer-errors")), values: grewInLastMinute(errors) }],
            { below: t.pgbouncerErrorsWarningPerMinute, warning: t.pgbouncerErrorsCriticalPerMinute, critical: t.pgbouncerErrorsCriticalPerMinute + 1 },
        ),
        ...percentCases(
            "ZentoriaPostgresConnections",
            [{ labels: {}, limit: plan.postgres.maxConnections }],
            t.postgresConnectionsWarningPercent,
            t.postgresConnectionsCriticalPercent,
            (_entity, count) => [clientBackends("zentoria_app", count - 1), clientBackends("n8n_app", 1, "active")],
            [autovacuum],
        ),
        ...percentCases(
            "ZentoriaPostgresRoleConnections",
            roles,
            t.postgresConnectionsWarningPercent,
            t.postgresConnectionsCriticalPercent,
            (entity, count) => [clientBackends(entity.labels.usename, count)],
            // The superuser's CONNECTION LIMIT does not bind: however many, no alert.
            [clientBackends(plan.postgres.superuser, 1000, "active"), autovacuum],
        ),
        ...valueCases("ZentoriaPostgresLongQuery", longQuery, t.longQuerySeconds, undefined, (seconds) => [{ series: selector("zentoria_pg_queries_max_age_seconds", longQuery), values: constant(seconds) }], {
            below: t.longQuerySeconds,
            warning: t.longQuerySeconds + 1,
        }),
        ...valueCases("ZentoriaRedisConnectedClients", redis, plan.redis.warningClients, plan.redis.criticalClients, (clients) => [{ series: selector("redis_connected_clients", redis), values: constant(clients) }], {
            below: plan.redis.warningClients,
            warning: plan.redis.criticalClients,
            critical: plan.redis.criticalClients + 1,
        }),
        ...valueCases("ZentoriaRedisBlockedClients", redis, t.redisBlockedWarning, t.redisBlockedCritical, (clients) => [{ series: selector("redis_blocked_clients", redis), values: constant(clients) }], {
            below: t.redisBlockedWarning,
            warning: t.redisBlockedWarning + 1,
            critical: t.redisBlockedCritical + 1,
        }),
        ...valueCases(
            "ZentoriaRedisRejectedConnections",
            {},
            t.redisRejectedWarningPerMinute,
            t.redisRejectedCriticalPerMinute,
            (rejected) => [{ series: selector("redis_rejected_connections_total", redis), values: grewInLastMinute(rejected) }],
            { below: t.redisRejectedWarningPerMinute, warning: t.redisRejectedCriticalPerMinute, critical: t.redisRejectedCriticalPerMinute + 1 },
        ),
        {
            name: "ZentoriaMonitoringTargetDown: a target down for more than a minute",
            alert: "ZentoriaMonitoringTargetDown",
            series: [
                { series: selector("up", redis), values: constant(0) },
                { series: selector("up", pgbouncer), values: constant(1) },
            ],
            expected: [{ severity: "critical", labels: redis }],
        },
        {
            name: "ZentoriaExporterCannotReachServer: postgres_exporter without PostgreSQL",
            alert: "ZentoriaExporterCannotReachServer",
            series: [
                { series: selector("pg_up", job("postgres")), values: constant(0) },
                { series: selector("redis_up", redis), values: constant(1) },
                { series: selector("pgbouncer_up", pgbouncer), values: constant(1) },
            ],
            expected: [{ severity: "critical", labels: job("postgres") }],
        },
    ];
}

function promtoolSuite(plan: StackPlan): { suite: string; count: number } {
    const rules = alertRules(plan);
    const annotations = (alert: string, severity: Severity) => alertAnnotations(rules.find((rule) => rule.alert === alert && rule.severity === severity)!);
    const all = cases(plan);
    const tests = all.map((test) => ({
        name: test.name,
        interval: "15s",
        input_series: test.series,
        alert_rule_test: [
            {
                eval_time: EVAL_TIME,
                alertname: test.alert,
                exp_alerts: test.expected.map((expected) => ({ exp_labels: { ...expected.labels, severity: expected.severity }, exp_annotations: annotations(test.alert, expected.severity) })),
            },
        ],
    }));
    return { suite: YAML.stringify({ rule_files: ["rules.yml"], evaluation_interval: "15s", tests }, { lineWidth: 0 }), count: all.length };
}

function writeSuite(plan: StackPlan): { dir: string; count: number; cases: Case[] } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zentoria-promtool-"));
    fs.writeFileSync(path.join(dir, "rules.yml"), renderRules(plan));
    const { suite, count } = promtoolSuite(plan);
    fs.writeFileSync(path.join(dir, "tests.yml"), suite);
    fs.chmodSync(dir, 0o755);
    return { dir, count, cases: cases(plan) };
}

const specPlan = loadPlan(devRawConfig({ monitoring: { enabled: true } })).plan;
const changedPlan = loadPlan(
    devRawConfig({
        monitoring: {
            enabled: true,
            thresholds: {
                pgbouncerClientsWarningPercent: 50,
                pgbouncerClientsCriticalPercent: 70,
                pgbouncerServersWarningPercent: 60,
                pgbouncerServersCriticalPercent: 90,
                pgbouncerWaitWarningMs: 20,
                pgbouncerWaitCriticalMs: 40,
                pgbouncerErrorsWarningPerMinute: 3,
                pgbouncerErrorsCriticalPerMinute: 6,
                postgresConnectionsWarningPercent: 60,
                postgresConnectionsCriticalPercent: 75,
                longQuerySeconds: 5,
                redisBlockedWarning: 2,
                redisBlockedCritical: 4,
                redisRejectedWarningPerMinute: 1,
                redisRejectedCriticalPerMinute: 2,
            },
        },
        redis: { warningClients: 20, criticalClients: 40 },
    }),
).plan;

describe.each([
    ["the spec's thresholds", specPlan],
    ["every threshold key changed", changedPlan],
])("promtool test rules, %s", (_name, plan) => {
    test("every rule: nothing below its warning level, the warning above it, the critical above the critical level, each pool and role against its own limit", () => {
        const { dir, count, cases: all } = writeSuite(plan);
        try {
            // Every rule with a threshold meets a test at each of its levels, and the availability rules one each.
            // The backups' rules have their own promtool tests (tests/integration/backupAlerts.test.ts).
            for (const rule of alertRules(plan).filter((candidate) => !(candidate.alert in BACKUP_ALERT_MEASURES))) {
                expect({ rule: `${rule.alert} ${rule.severity}`, tested: all.some((test) => test.alert === rule.alert && test.expected.some((expected) => expected.severity === rule.severity)) }).toEqual({
                    rule: `${rule.alert} ${rule.severity}`,
                    tested: true,
                });
            }
            for (const alert of new Set(alertRules(plan).filter((rule) => rule.key !== undefined).map((rule) => rule.alert))) {
                expect({ alert, quiet: all.some((test) => test.alert === alert && test.expected.length === 0) }).toEqual({ alert, quiet: true });
            }
            const result = runTool(ciImage("prometheus"), "promtool", ["test", "rules", "tests.yml"], dir);
            expect({ ok: result.ok, output: result.ok ? "" : result.output }).toEqual({ ok: true, output: "" });
            expect(result.output).toMatch(/SUCCESS/);
            expect(count).toBeGreaterThan(30);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }, 300_000);

    test("the per-pool join: zentoria_main_n8n is judged against n8n's own client limit", () => {
        const join = cases(plan).find((test) => test.alert === "ZentoriaPgbouncerPoolClients" && test.name.includes("every one of"))!;
        const n8n = plan.pools.find((pool) => pool.alias === "zentoria_main_n8n")!;
        const main = plan.pools.find((pool) => pool.alias === "zentoria_main")!;
        expect(n8n.maxClientConnections).toBeLessThan(main.maxClientConnections);
        const levels = Object.fromEntries(join.expected.map((expected) => [expected.labels.database, expected.severity]));
        expect(levels.zentoria_main_n8n).toBeDefined();
        expect(levels.zentoria_main).toBeUndefined();
    });
});

test("prometheus.yml and its rules pass promtool check config, with every file it names in place", () => {
    const plan = loadPlan(devRawConfig({ monitoring: { enabled: true, alertmanager: { enabled: true } } })).plan;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zentoria-promtool-"));
    try {
        const config = renderPrometheusConfig(plan).split(MONITORING_LAYOUT.prometheus.configDirectory).join("/work");
        expect(config).toContain("credentials_file: /work/qdrant-read-only-key");
        fs.writeFileSync(path.join(dir, "prometheus.yml"), config);
        fs.writeFileSync(path.join(dir, "rules.yml"), renderRules(plan));
        fs.writeFileSync(path.join(dir, "qdrant-read-only-key"), "a-read-only-key");
        fs.chmodSync(dir, 0o755);
        const result = runTool(ciImage("prometheus"), "promtool", ["check", "config", "prometheus.yml"], dir);
        expect({ ok: result.ok, output: result.output }).toEqual({ ok: true, output: expect.stringMatching(/SUCCESS: 1 rule files found[\s\S]*SUCCESS: \d+ rules found/) });
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}, 180_000);
