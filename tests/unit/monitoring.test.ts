// The monitoring part (issue 12) under mocks and as rendered text: its config keys and checks,
// the exporters in the connection budget, the rendered files (golden, for the prod stack that
// turns monitoring on), every threshold key reaching its rule, and the resources with their
// credentials kept in files.
import * as fs from "fs";
import * as path from "path";
import { loadPlan, tryPlan } from "../../config";
import { DEFAULT_CONFIG } from "../../config/defaults";
import { EXPORTER_CONNECTIONS, StackPlan } from "../../config/plan";
import { Problem } from "../../config/problems";
import { thresholdsSchema } from "../../config/schema";
import { renderPgbouncerIni } from "../../render/pgbouncer";
import { CONTAINER_LAYOUT } from "../../render/layout";
import { postgresExporterQueries, pgbouncerErrorsScript, pgbouncerExporterFiles, postgresExporterFiles, redisExporterFiles, redisExporterSettings } from "../../render/monitoring";
import { renderAlertmanagerConfig } from "../../render/prometheus";
import { alertRules, renderRules } from "../../render/prometheusRules";
import { REDIS_EXPORTER_COMMANDS, REDIS_SYSTEM_RULES, redisUserRules } from "../../render/redis";
import { configFiles, DYNAMIC, fakePassword, isSecretValue, named, ofType, plain, recorded, serverConfig } from "./support/mocks";
import { rawConfig, REPO_ROOT, stackFile } from "./support/config";
import { runProgram, stackConfigValues } from "./support/program";
import { buildTier, optionsOf } from "./support/tier";

jest.setTimeout(120_000);

const ON = { monitoring: { enabled: true } };
const planOf = (values: Record<string, unknown>): StackPlan => loadPlan(rawConfig(values)).plan;
const problemsOf = (values: Record<string, unknown>): Problem[] => tryPlan(rawConfig(values)).problems;
const errors = (values: Record<string, unknown>) =>
    problemsOf(values)
        .filter((problem) => problem.severity === "error")
        .map((problem) => `${problem.key}: ${problem.message}`);

describe("config", () => {
    test("off by default; on, the exporters log in as the monitoring role of section 2.5 and Redis' monitor user", () => {
        expect(DEFAULT_CONFIG.monitoring.enabled).toBe(false);
        const plan = planOf(ON);
        expect(plan.monitoring).toMatchObject({ enabled: true, role: "zentoria_monitor", redisUser: "monitor", scrapeIntervalSeconds: 15, evaluationIntervalSeconds: 15 });
        expect(plan.monitoring.prometheus).toMatchObject({ containerName: "zentoria-prometheus", image: "prom/prometheus:v2.53.3", publish: { address: "127.0.0.1", port: 9090 }, volumeName: "zentoria-prometheus-data" });
        expect(plan.monitoring.connections).toEqual(EXPORTER_CONNECTIONS);
        expect(planOf({}).monitoring.connections).toEqual({ pgbouncerConsole: 0, postgres: 0, redis: 0 });
    });

    test("refused: a role that is not a monitoring role, a host port or a host name taken, an interval too long for per-minute figures", () => {
        expect(errors({ monitoring: { enabled: true, role: "zentoria_app" } })).toEqual([
            "monitoring.role: zentoria_app has access application; the exporters need a role with access monitoring (member of pg_monitor, PgBouncer stats user)",
        ]);
        expect(errors({ monitoring: { enabled: true, role: "nobody" } })).toEqual(["monitoring.role: nobody is not a role in roles"]);
        expect(errors({ monitoring: { enabled: true, prometheus: { hostPort: 6432 } } })).toEqual([expect.stringMatching(/^monitoring\.prometheus\.hostPort: .*pgbouncer\.hostPort/)]);
        expect(errors({ monitoring: { enabled: true, alertmanager: { enabled: true, hostPort: 9090 } } })).toHaveLength(1);
        expect(errors({ monitoring: { enabled: true }, redis: { hostname: "zentoria-prometheus" } })).toEqual([
            "redis.hostname: zentoria-prometheus is the name of a monitoring container; Docker's DNS would answer it with both",
        ]);
        expect(errors({ monitoring: { enabled: true, scrapeIntervalSeconds: 31 } })).toEqual([expect.stringMatching(/^monitoring\.scrapeIntervalSeconds: /)]);
        // Off, none of it matters.
        expect(errors({ monitoring: { enabled: false, role: "zentoria_app", prometheus: { hostPort: 6432 } } })).toEqual([]);
    });
});

describe("the connection budget counts the exporters", () => {
    test("the monitoring role: its pool at peak, its direct connections and postgres_exporter's two; PgBouncer keeps that much room", () => {
        const off = tryPlan(rawConfig({}));
        const on = tryPlan(rawConfig(ON));
        const role = (attempt: typeof on) => attempt.budget!.roles.find((candidate) => candidate.role === "zentoria_monitor")!;
        expect([role(off).peak, role(off).exporters]).toEqual([12, 0]);
        expect([role(on).peak, role(on).exporters]).toEqual([12 + EXPORTER_CONNECTIONS.postgres, 2]);
        // PgBouncer opens no more server connections for the role than its limit leaves.
        expect(on.plan!.pgbouncer.users.find((user) => user.role === "zentoria_monitor")?.maxUserConnections).toBe(15 - 2 - 2);
        expect(on.problems.find((problem) => problem.key === "roles.zentoria_monitor.connectionLimit")?.message).toBe(
            "role zentoria_monitor (pools monitoring/postgres 10 (pool size + 5 reserve each), 2 direct, 2 of the monitoring exporters): 14 at peak is 93 % of 15, above section 5.1's 80 % warning level",
        );
    });

    test("a plan whose exporters overflow the monitoring role's CONNECTION LIMIT is refused; the same plan without monitoring is not", () => {
        const tight = { roles: { zentoria_monitor: { connectionLimit: 13 } } };
        expect(errors(tight)).toEqual([]);
        expect(errors({ ...tight, ...ON })).toEqual([
            "roles.zentoria_monitor.connectionLimit: role zentoria_monitor (pools monitoring/postgres 10 (pool size + 5 reserve each), 2 direct, 2 of the monitoring exporters): 14 at peak, over the limit of 13",
        ]);
    });

    test("pgbouncer_exporter's console session within pgbouncer.consoleClients, redis_exporter's connection among Redis' clients", () => {
        expect(errors({ ...ON, pgbouncer: { consoleClients: 0 } })).toEqual([
            "pgbouncer.consoleClients: pgbouncer_exporter keeps 1 admin console session(s) open, more than the 0 console clients planned",
        ]);
        expect(errors({ pgbouncer: { consoleClients: 0 } })).toEqual([]);
        const redis = (values: Record<string, unknown>) => tryPlan(rawConfig(values)).budget!.redis;
        expect(redis(ON).total - redis({}).total).toBe(EXPORTER_CONNECTIONS.redis);
        expect(errors({ ...ON, redis: { maxclients: 108, warningClients: 50, criticalClients: 100 } })).toEqual([
            expect.stringMatching(/^redis\.maxclients: .*redis_exporter 1\): 110 at peak, over maxclients 108$/),
        ]);
    });
});

describe("rendered files", () => {
    const GOLDEN = path.join(REPO_ROOT, "tests/golden/prod/monitoring");
    const checkGolden = (file: string, actual: string) => {
        const goldenPath = path.join(GOLDEN, file);
        if (process.env.UPDATE_GOLDEN === "1") {
            fs.mkdirSync(GOLDEN, { recursive: true });
            fs.writeFileSync(goldenPath, actual);
        }
        expect(actual).toBe(fs.readFileSync(goldenPath, "utf8"));
    };
    let outputs: Record<string, any>;
    let snapshot: typeof recorded;

    beforeAll(async () => {
        jest.spyOn(console, "warn").mockImplementation(() => undefined);
        outputs = await runProgram(stackConfigValues("prod"));
        snapshot = [...recorded];
    });
    afterEach(() => {
        recorded.splice(0, recorded.length, ...snapshot);
    });

    test.each([
        ["zentoria-monitoring-prometheus-config", "prometheus.yml"],
        ["zentoria-monitoring-prometheus-config", "rules.yml"],
        ["zentoria-monitoring-postgres-exporter-config", "queries.yml"],
        ["zentoria-monitoring-pgbouncer-errors-config", "pgbouncer-errors.pl"],
    ])("prod: %s %s (golden)", (config, file) => {
        checkGolden(file, configFiles(config)[file]);
    });

    test("Alertmanager's configuration (golden): one receiver without integrations", () => {
        checkGolden("alertmanager.yml", renderAlertmanagerConfig());
    });

    test("Prometheus holds Qdrant's read-only key in a file of its own, readable by its user only; prometheus.yml names only the file", () => {
        const files = serverConfig("zentoria-monitoring-prometheus-config").files as Array<{ name: string; content: string; mode: string; owner: string }>;
        const key = files.find((file) => file.name === "qdrant-read-only-key")!;
        expect(key).toEqual({ name: "qdrant-read-only-key", content: fakePassword("qdrant-read-only-api-key-password"), mode: "0400", owner: "65534:65534" });
        expect(configFiles("zentoria-monitoring-prometheus-config")["prometheus.yml"]).not.toContain(key.content);
        expect(configFiles("zentoria-monitoring-prometheus-config")["prometheus.yml"]).toContain("credentials_file: /etc/zentoria-prometheus/qdrant-read-only-key");
    });

    test("the monitoring output: Prometheus' URL and every rule with its threshold and key, no credential", async () => {
        const monitoring = outputs.monitoring as { prometheusUrl: string; rules: unknown[] };
        expect(monitoring.prometheusUrl).toBe("http://127.0.0.1:19090");
        const plan = loadPlan(stackFile("prod")).plan;
        expect(monitoring.rules).toEqual(
            alertRules(plan).map((rule) => expect.objectContaining({ alert: rule.alert, severity: rule.severity, ...(rule.key ? { key: rule.key, threshold: rule.threshold } : {}) })),
        );
        const text = JSON.stringify(monitoring);
        for (const resource of ofType("random:index/randomPassword:RandomPassword")) {
            expect(text).not.toContain(fakePassword(resource.name));
        }
    });
});

describe("every threshold key reaches its rule", () => {
    const base = planOf(ON);
    const baseRules = renderRules(base);
    const keys = [...Object.keys(thresholdsSchema.shape).map((key) => `monitoring.thresholds.${key}`), "redis.warningClients", "redis.criticalClients"];

    /** A value for `key` that keeps every warning below its critical level. */
    function changed(key: string): number {
        const current = key.startsWith("redis.") ? (base.redis as any)[key.slice(6)] : (base.monitoring.thresholds as any)[key.split(".")[2]];
        return key.includes("Critical") || key.includes("critical") || key === "monitoring.thresholds.longQuerySeconds" ? current + 3 : Math.max(0, current - 1) === current ? current + 1 : current - 1;
    }

    test.each(keys)("%s", (key) => {
        const value = changed(key);
        const [section, ...rest] = key.split(".");
        const override = section === "redis" ? { redis: { [rest[0]]: value } } : { monitoring: { enabled: true, thresholds: { [rest[1]]: value } } };
        const plan = planOf({ ...ON, ...override, ...(section === "redis" ? ON : {}) });
        const rules = alertRules(plan).filter((rule) => rule.key === key);
        expect(rules.length).toBeGreaterThan(0);
        for (const rule of rules) {
            expect(rule.threshold).toBe(value);
            expect(rule.expr).toMatch(new RegExp(`> ${value}( |$)`));
        }
        const rendered = renderRules(plan);
        expect(rendered).not.toBe(baseRules);
        // What changed is the rules of that key and nothing else.
        const changedLines = rendered.split("\n").filter((line, index) => line !== baseRules.split("\n")[index]);
        expect(changedLines.length).toBeGreaterThan(0);
        for (const line of changedLines) {
            expect(line).toMatch(new RegExp(`\\b${value}\\b`));
        }
    });

    test("and every key of the thresholds is used by at least one rule", () => {
        const used = new Set(alertRules(base).map((rule) => rule.key));
        expect(keys.filter((key) => !used.has(key))).toEqual([]);
    });
});

describe("the servers' files with monitoring on", () => {
    test("PgBouncer also logs to the file the pool-error counter reads; off, its ini is unchanged", () => {
        expect(renderPgbouncerIni(planOf(ON), CONTAINER_LAYOUT)).toContain("logfile = /var/log/pgbouncer/pgbouncer.log\n");
        expect(renderPgbouncerIni(planOf({}), CONTAINER_LAYOUT)).not.toContain("logfile");
    });

    test("Redis' monitor user may also run exactly what redis_exporter sends, only with monitoring on", () => {
        const monitor = { name: "monitor", kind: "monitor" as const };
        expect(redisUserRules(planOf(ON).redis, monitor)).toEqual([...REDIS_SYSTEM_RULES.monitor, ...REDIS_EXPORTER_COMMANDS]);
        expect(redisUserRules(planOf({}).redis, monitor)).toEqual(REDIS_SYSTEM_RULES.monitor);
    });

    test("credential files: a libpq password file for pgbouncer_exporter, a password file for postgres_exporter, a URI map for redis_exporter", () => {
        const plan = planOf(ON);
        expect(pgbouncerExporterFiles(plan, "pa:ss\\word")).toEqual([{ name: "pgpass", content: "zentoria-db:6432:pgbouncer:zentoria_monitor:pa\\:ss\\\\word\n", mode: "0600", owner: "65534:65534" }]);
        expect(postgresExporterFiles("secret-password")[0]).toEqual({ name: "password", content: "secret-password\n", mode: "0600", owner: "65534:65534" });
        // Refused without the secret in the message.
        expect(() => postgresExporterFiles("two\nlines")).toThrow("password: secret: must be one non-empty line without surrounding white space");
        expect(() => pgbouncerExporterFiles(plan, "two\nlines")).toThrow("pgpass: field: must be one line");
        expect(redisExporterFiles(plan, "redis-secret")).toEqual([{ name: "passwords.json", content: '{"redis://monitor@zentoria-redis:6379":"redis-secret"}\n', mode: "0600", owner: "59000:59000" }]);
        expect(redisExporterSettings(plan).command).toContain("--redis.addr=redis://zentoria-redis:6379");
        expect(postgresExporterQueries()).toContain("now() - query_start");
        expect(pgbouncerErrorsScript()).toContain("pooler error");
    });
});

describe("resources with monitoring on", () => {
    const values = { ...ON, monitoring: { enabled: true, alertmanager: { enabled: true } } };
    let built: Awaited<ReturnType<typeof buildTier>>;
    const CONTAINER = "docker:index/container:Container";
    const monitoringContainers = () => ofType(CONTAINER).filter((resource) => resource.name.startsWith("zentoria-monitoring-"));

    beforeAll(async () => {
        built = await buildTier(values);
    });

    test("Prometheus, Alertmanager, three exporters and the counter, hardened like the servers, each with a healthcheck", () => {
        expect(monitoringContainers().map((resource) => plain(resource.inputs).name).sort()).toEqual([
            "zentoria-alertmanager",
            "zentoria-pgbouncer-errors",
            "zentoria-pgbouncer-exporter",
            "zentoria-postgres-exporter",
            "zentoria-prometheus",
            "zentoria-redis-exporter",
        ]);
        for (const resource of monitoringContainers()) {
            const inputs = plain(resource.inputs);
            expect([resource.name, inputs.securityOpts, inputs.capabilities, inputs.readOnly]).toEqual([resource.name, ["no-new-privileges:true"], { drops: ["ALL"], adds: [] }, true]);
            expect(inputs.memorySwap).toBe(inputs.memory);
            expect(inputs.healthcheck.tests.length).toBeGreaterThan(1);
            expect([resource.name, inputs.restart, inputs.wait]).toEqual([resource.name, "unless-stopped", true]);
            expect(optionsOf(built, CONTAINER, resource.name).deleteBeforeReplace).toBe(true);
            expect(inputs.uploads).toBeUndefined();
        }
    });

    test("published on 127.0.0.1 only: Prometheus and Alertmanager; the exporters stay on the stack's network", () => {
        const published = monitoringContainers().flatMap((resource) => (plain(resource.inputs).ports ?? []).map((port: any) => `${plain(resource.inputs).name} ${port.ip}:${port.external}->${port.internal}`));
        expect(published.sort()).toEqual(["zentoria-alertmanager 127.0.0.1:9093->9093", "zentoria-prometheus 127.0.0.1:9090->9090"]);
    });

    test("no credential in any container's environment, command or healthcheck; every config file list is a secret input", () => {
        const passwords = ofType("random:index/randomPassword:RandomPassword").map((resource) => fakePassword(resource.name));
        for (const resource of ofType(CONTAINER)) {
            const inputs = plain(resource.inputs);
            const exposed = JSON.stringify([inputs.envs ?? [], inputs.command ?? [], inputs.entrypoints ?? [], inputs.healthcheck]);
            for (const password of passwords) {
                expect(exposed).not.toContain(password);
            }
        }
        const configs = ofType(DYNAMIC).filter((resource) => resource.name.startsWith("zentoria-monitoring-"));
        expect(configs.map((resource) => `${resource.name} ${plain(resource.inputs).kind}`).sort()).toEqual([
            "zentoria-monitoring-alertmanager-config exporter",
            "zentoria-monitoring-pgbouncer-errors-config exporter",
            "zentoria-monitoring-pgbouncer-exporter-config exporter",
            "zentoria-monitoring-postgres-exporter-config exporter",
            "zentoria-monitoring-prometheus-config prometheus",
            "zentoria-monitoring-redis-exporter-config exporter",
        ]);
        for (const resource of configs) {
            expect(isSecretValue(resource.inputs.files)).toBe(true);
        }
        // The exporters find their passwords by path.
        expect(plain(named(CONTAINER, "zentoria-monitoring-postgres-exporter").inputs).envs).toEqual([
            "DATA_SOURCE_URI=zentoria-postgres:5432/postgres?sslmode=disable&application_name=postgres_exporter",
            "DATA_SOURCE_USER=zentoria_monitor",
            "DATA_SOURCE_PASS_FILE=/etc/zentoria-exporter/password",
        ]);
        expect(plain(named(CONTAINER, "zentoria-monitoring-pgbouncer-exporter").inputs).envs).toEqual(["PGPASSFILE=/etc/zentoria-exporter/pgpass"]);
        expect(configFiles("zentoria-monitoring-postgres-exporter-config").password).toBe(`${fakePassword("pg-zentoria_monitor-password")}\n`);
        expect(configFiles("zentoria-monitoring-redis-exporter-config")["passwords.json"]).toContain(fakePassword("redis-monitor-password"));
    });

    test("each container's files on its own config volume, mounted read-only; PgBouncer and the counter share the log volume", () => {
        for (const resource of monitoringContainers()) {
            const inputs = plain(resource.inputs);
            const readOnly = (inputs.volumes as Array<{ volumeName: string; readOnly?: boolean }>).filter((volume) => volume.readOnly);
            // The counter also serves the backup sidecar's gauges, from the backup store, read-only.
            const expected = inputs.name === "zentoria-pgbouncer-errors" ? [`${inputs.name}-config`, "zentoria-backups"] : [`${inputs.name}-config`];
            expect([inputs.name, readOnly.map((volume) => volume.volumeName)]).toEqual([inputs.name, expected]);
        }
        const logMount = { volumeName: "zentoria-pgbouncer-log", containerPath: "/var/log/pgbouncer" };
        expect(plain(named(CONTAINER, "zentoria-pgbouncer").inputs).volumes).toContainEqual(logMount);
        expect(plain(named(CONTAINER, "zentoria-monitoring-pgbouncer-errors").inputs).volumes).toContainEqual(logMount);
        expect(plain(named(CONTAINER, "zentoria-monitoring-prometheus").inputs).volumes).toContainEqual({ volumeName: "zentoria-prometheus-data", containerPath: "/prometheus" });
    });

    test("every exporter starts after its server, Prometheus after its targets", () => {
        const dependsOn = (name: string) => optionsOf(built, CONTAINER, name).dependsOn as unknown[];
        const tier = built.tier;
        expect(dependsOn("zentoria-monitoring-pgbouncer-exporter")).toContain(tier.pgbouncer.container);
        expect(dependsOn("zentoria-monitoring-postgres-exporter")).toContain(tier.postgres.container);
        expect(dependsOn("zentoria-monitoring-redis-exporter")).toContain(tier.redis.container);
        expect(dependsOn("zentoria-monitoring-pgbouncer-errors")).toContain(tier.pgbouncer.container);
        for (const exporter of Object.values(tier.monitoring!.exporters)) {
            expect(dependsOn("zentoria-monitoring-prometheus")).toContain(exporter);
        }
    });
});

describe("with monitoring off", () => {
    test("no monitoring output", async () => {
        jest.spyOn(console, "warn").mockImplementation(() => undefined);
        const outputs = await runProgram(stackConfigValues("dev"));
        expect(outputs.monitoring).toBeUndefined();
        expect(recorded.filter((resource) => /monitoring|prometheus|exporter/.test(resource.name))).toEqual([]);
    });
});
