// Issue 12: section 5 running on the deployed stack. Every target Prometheus scrapes is up; then,
// one condition at a time, the test creates what a section 5 table warns about and watches
// Prometheus' API: PgBouncer past 80 % of a pool's client limit with held connections, Redis past
// its (lowered) connected_clients level, a query running past 30 seconds, and pool errors. Each
// warning must fire (and not its critical), at an evaluation that sees the test's own samples;
// where a recording rule carries the figure, at the very first evaluation whose figure passed the
// threshold (Prometheus' own timestamps, so it holds on a loaded machine); go to Alertmanager,
// and resolve once the cause is gone. How many evaluation intervals each took is printed.
import { Client } from "pg";
import Redis from "ioredis";
import { DefaultStack, E2E_MONITORING } from "../support/defaultStack";
import { operatorUrl } from "./liveChanges";
import { LONG_QUERY_METRIC } from "../../../render/monitoring";
import { MONITORING_RECORDS } from "../../../render/prometheusRules";

interface ApiAlert {
    labels: Record<string, string>;
    annotations: Record<string, string>;
    state: "pending" | "firing";
    activeAt: string;
    value: string;
}

interface RuleSummary {
    alert: string;
    severity: string;
    threshold?: number;
    key?: string;
}

const TIMEOUT = 10 * 60 * 1000;
/** How long the test waits for a state at most: generous on a busy machine (the timing assertion is on Prometheus' own clock). */
const WAIT_MS = 3 * 60 * 1000;
const EVALUATION_SECONDS = E2E_MONITORING.evaluationIntervalSeconds;

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = WAIT_MS): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
        try {
            const value = await probe();
            if (value !== undefined) {
                return value;
            }
        } catch (error) {
            last = error;
        }
        await sleep(500);
    }
    throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (last error: ${(last as Error).message})` : ""}`);
}

export function describeMonitoring(stack: DefaultStack): void {
    const prometheus = () => `http://127.0.0.1:${stack.ports.prometheus}`;

    async function api<T>(path: string, query: Record<string, string> = {}): Promise<T> {
        const response = await fetch(`${prometheus()}${path}?${new URLSearchParams(query)}`);
        const body = (await response.json()) as { status: string; data: T; error?: string };
        if (body.status !== "success") {
            throw new Error(`Prometheus ${path}: ${body.error}`);
        }
        return body.data;
    }

    const alerts = async () => (await api<{ alerts: ApiAlert[] }>("/api/v1/alerts")).alerts;
    const matches = (alert: ApiAlert, labels: Record<string, string>) => Object.entries(labels).every(([label, value]) => alert.labels[label] === value);

    /**
     * Samples over the last minutes, oldest first ([unix seconds, value]), of every series the
     * selectors name, added up by timestamp (the series of one scrape, or of one rule evaluation,
     * share their time).
     */
    async function samples(...selectors: string[]): Promise<Array<[number, number]>> {
        const sums = new Map<number, number>();
        for (const selector of selectors) {
            const result = await api<{ result: Array<{ values: Array<[number, string]> }> }>("/api/v1/query", { query: `${selector}[5m]` });
            for (const series of result.result) {
                for (const [time, value] of series.values) {
                    sums.set(time, (sums.get(time) ?? 0) + Number(value));
                }
            }
        }
        return [...sums.entries()].sort(([a], [b]) => a - b);
    }

    /** A metric's current value (one series). */
    async function current(query: string): Promise<number> {
        const result = await api<{ result: Array<{ value: [number, string] }> }>("/api/v1/query", { query });
        if (result.result.length !== 1) {
            throw new Error(`${query}: ${result.result.length} series`);
        }
        return Number(result.result[0].value[1]);
    }

    async function rules(): Promise<RuleSummary[]> {
        return (await stack.deployment.outputs()).monitoring.value.rules as RuleSummary[];
    }

    async function threshold(alert: string, severity: "warning" | "critical"): Promise<number> {
        const rule = (await rules()).find((candidate) => candidate.alert === alert && candidate.severity === severity);
        if (rule?.threshold === undefined) {
            throw new Error(`no ${severity} rule ${alert} in the monitoring output`);
        }
        return rule.threshold;
    }

    /**
     * Waits for the warning `labels` names to fire, and checks the critical of the same rule did not;
     * returns when it became active (Prometheus' evaluation time).
     */
    async function firing(labels: Record<string, string>): Promise<ApiAlert> {
        const alert = await until(`${JSON.stringify(labels)} firing`, async () => (await alerts()).find((candidate) => candidate.state === "firing" && matches(candidate, labels)));
        const critical = (await alerts()).filter((candidate) => matches(candidate, { ...labels, severity: "critical" }));
        expect(critical).toEqual([]);
        return alert;
    }

    async function resolved(labels: Record<string, string>): Promise<void> {
        await until(`${JSON.stringify(labels)} resolved`, async () => ((await alerts()).some((candidate) => matches(candidate, labels)) ? undefined : true));
    }

    /** The first sample at or after `since` (unix seconds) that shows the condition. */
    function firstPast(series: Array<[number, number]>, isPast: (value: number) => boolean, since: number): number {
        const first = series.find(([time, value]) => time >= since && isPast(value));
        if (!first) {
            throw new Error(`no sample since ${since} shows the condition: ${JSON.stringify(series.slice(-5))}`);
        }
        return first[0];
    }

    /**
     * The alert was caused by what the test did: it became active at a rule evaluation after the
     * first scraped sample that shows the condition, and the alert's own expression holds at that
     * evaluation. Prints how many evaluation intervals it took (a figure, not asserted: a loaded
     * machine delays scrapes, and a sample ingested after an evaluation ran is seen by the next).
     */
    async function expectCausedBy(alert: ApiAlert, expression: string, scraped: Array<[number, number]>, isPast: (value: number) => boolean, since: number): Promise<void> {
        const shown = firstPast(scraped, isPast, since);
        const activeAt = Date.parse(alert.activeAt) / 1000;
        expect(activeAt).toBeGreaterThanOrEqual(Math.floor(shown * 1000) / 1000);
        const atActivation = await api<{ result: unknown[] }>("/api/v1/query", { query: expression, time: alert.activeAt });
        expect(atActivation.result.length).toBeGreaterThan(0);
        process.stdout.write(`${alert.labels.alertname} ${alert.labels.severity}: active ${(activeAt - shown).toFixed(3)} s (${((activeAt - shown) / EVALUATION_SECONDS).toFixed(2)} evaluation intervals) after the first scraped sample showing it\n`);
    }

    /**
     * Nothing waits before firing (no `for`): the alert became active at the very evaluation at
     * which its recorded figure, a recording rule of the same group evaluated at the same instant
     * just before the alerts, first passed the threshold. Both timestamps are Prometheus' own
     * evaluation times, so this holds however slowly the machine runs.
     */
    async function expectFiredAtFirstEvaluation(alert: ApiAlert, recorded: string, isPast: (value: number) => boolean, since: number): Promise<void> {
        const first = firstPast(await samples(recorded), isPast, since);
        const activeAt = Date.parse(alert.activeAt) / 1000;
        expect(Math.abs(activeAt - first)).toBeLessThan(0.002);
    }

    /** Alertmanager got the alert from Prometheus. */
    async function inAlertmanager(labels: Record<string, string>): Promise<void> {
        await until(`${JSON.stringify(labels)} in Alertmanager`, async () => {
            const response = await fetch(`http://127.0.0.1:${stack.ports.alertmanager}/api/v2/alerts`);
            const received = (await response.json()) as Array<{ labels: Record<string, string>; status: { state: string } }>;
            return received.some((alert) => Object.entries(labels).every(([label, value]) => alert.labels[label] === value)) ? true : undefined;
        });
    }

    test("every scrape target is up: Prometheus itself, the three exporters, the pool-error counter, Alertmanager", async () => {
        const targets = await until("every target up", async () => {
            const { activeTargets } = await api<{ activeTargets: Array<{ labels: Record<string, string>; health: string; lastError: string }> }>("/api/v1/targets");
            return activeTargets.length > 0 && activeTargets.every((target) => target.health === "up") ? activeTargets : undefined;
        });
        expect(targets.map((target) => target.labels.job).sort()).toEqual(["alertmanager", "pgbouncer", "pgbouncer-errors", "postgres", "prometheus", "redis"]);
        const up = await api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>("/api/v1/query", { query: "up" });
        expect(up.result.map((sample) => `${sample.metric.job} ${sample.value[1]}`).sort()).toEqual(targets.map((target) => `${target.labels.job} 1`).sort());
        // The exporters reach their servers, not only Prometheus the exporters.
        const reached = await api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>("/api/v1/query", { query: "pgbouncer_up or pg_up or redis_up" });
        expect(reached.result.map((sample) => `${sample.metric.__name__} ${sample.value[1]}`).sort()).toEqual(["pg_up 1", "pgbouncer_up 1", "redis_up 1"]);
        // Nothing fires on an idle stack (once what earlier sections did, refused logins say, has left the rate windows).
        const quiet = await until("no alert firing", async () => ((await alerts()).some((alert) => alert.state === "firing") ? undefined : true), 2 * WAIT_MS).catch(() => false);
        expect(quiet ? [] : (await alerts()).filter((alert) => alert.state === "firing")).toEqual([]);
    }, TIMEOUT);

    test("the monitoring output: Prometheus' URL and every rule with its threshold, no credential", async () => {
        const outputs = await stack.deployment.outputs();
        expect(outputs.monitoring.secret).toBe(false);
        expect(outputs.monitoring.value.prometheusUrl).toBe(prometheus());
        expect(outputs.monitoring.value.alertmanagerUrl).toBe(`http://127.0.0.1:${stack.ports.alertmanager}`);
        const text = JSON.stringify(outputs.monitoring.value);
        const env = await stack.deployment.envFiles();
        const passwords = [...Object.values(env).join("\n").matchAll(/:\/\/[^:/@\s]+:([^@\s]+)@/g)].map((match) => decodeURIComponent(match[1]));
        expect(passwords.length).toBeGreaterThan(5);
        for (const password of passwords) {
            expect(text).not.toContain(password);
        }
        expect(await threshold("ZentoriaRedisConnectedClients", "warning")).toBe(E2E_MONITORING.redisWarningClients);
    }, TIMEOUT);

    test("backups: the sidecar's gauges reach Prometheus through the counter, and the backup rules are loaded", async () => {
        // The sidecar's first run starts a minute after it does, then takes a base backup and an RDB copy.
        const succeeded = await until(
            "a backup run of postgres and redis in Prometheus",
            async () => {
                const result = await api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>("/api/v1/query", { query: "zentoria_backup_last_run_success" });
                const services = result.result.map((sample) => `${sample.metric.service} ${sample.value[1]}`).sort();
                return services.length >= 2 ? services : undefined;
            },
            2 * WAIT_MS,
        );
        expect(succeeded).toEqual(["postgres 1", "redis 1"]);
        expect(await current("zentoria_backup_metrics_readable")).toBe(1);
        const loaded = await api<{ groups: Array<{ rules: Array<{ name: string; health: string }> }> }>("/api/v1/rules");
        const names = loaded.groups.flatMap((group) => group.rules.filter((rule) => rule.health === "ok").map((rule) => rule.name));
        expect(names).toEqual(expect.arrayContaining(["ZentoriaBackupFailed", "ZentoriaBackupOverdue", "ZentoriaWalArchiveFailing"]));
        expect((await rules()).map((rule) => rule.alert)).toEqual(expect.arrayContaining(["ZentoriaBackupFailed", "ZentoriaBackupOverdue", "ZentoriaWalArchiveFailing"]));
        expect((await alerts()).filter((alert) => alert.labels.alertname.startsWith("ZentoriaBackup") || alert.labels.alertname === "ZentoriaWalArchiveFailing")).toEqual([]);
    }, TIMEOUT);

    test("PgBouncer: held connections past 80 % of zentoria_main_n8n's client limit fire the warning at the first evaluation that sees them, and it resolves when they leave", async () => {
        const summary = (await stack.deployment.outputs()).summary.value;
        const pool = summary.pgbouncer.pools.find((candidate: { database: string }) => candidate.database === "zentoria_main_n8n");
        const warning = await threshold("ZentoriaPgbouncerPoolClients", "warning");
        const critical = await threshold("ZentoriaPgbouncerPoolClients", "critical");
        // The fewest clients above the warning level (9 of 10 with the spec's 80 %), below the critical one.
        const count = Math.floor((pool.maxClientConnections * warning) / 100) + 1;
        expect(100 * count).toBeLessThanOrEqual(critical * pool.maxClientConnections);
        const url = (await stack.deployment.hostStrings()).postgres[pool.service][pool.serverDatabase].pooled;
        const held: Client[] = [];
        const labels = { alertname: "ZentoriaPgbouncerPoolClients", database: "zentoria_main_n8n", severity: "warning" };
        const since = Date.now() / 1000;
        try {
            for (let index = 0; index < count; index++) {
                const client = new Client({ connectionString: url });
                client.on("error", () => undefined);
                await client.connect();
                held.push(client);
            }
            const alert = await firing(labels);
            const clients = await samples('pgbouncer_pools_client_active_connections{database="zentoria_main_n8n"}', 'pgbouncer_pools_client_waiting_connections{database="zentoria_main_n8n"}');
            const percent = 'zentoria:pgbouncer_pool_clients:percent{database="zentoria_main_n8n"}';
            await expectCausedBy(alert, `${percent} > ${warning}`, clients, (value) => value >= count, since);
            await expectFiredAtFirstEvaluation(alert, percent, (value) => value > warning, since);
            expect(Number(alert.value)).toBe((100 * count) / pool.maxClientConnections);
            // The pool's own limit, not another pool's: zentoria_main (40 clients) is not warned about.
            expect((await alerts()).filter((candidate) => candidate.labels.alertname === "ZentoriaPgbouncerPoolClients" && candidate.labels.database !== "zentoria_main_n8n")).toEqual([]);
            await inAlertmanager(labels);
        } finally {
            await Promise.all(held.map((client) => client.end().catch(() => undefined)));
        }
        await resolved(labels);
    }, TIMEOUT);

    test("Redis: connected_clients past its warning level fires the warning, and it resolves when they leave", async () => {
        const warning = await threshold("ZentoriaRedisConnectedClients", "warning");
        const labels = { alertname: "ZentoriaRedisConnectedClients", severity: "warning" };
        await resolved(labels);
        const baseline = await current("redis_connected_clients");
        // One more than needed: a healthcheck's connection comes and goes.
        const count = warning + 2 - baseline;
        const url = (await stack.deployment.hostStrings()).redis.cache;
        const held: Redis[] = [];
        const since = Date.now() / 1000;
        try {
            for (let index = 0; index < count; index++) {
                const client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
                client.on("error", () => undefined);
                await client.connect();
                held.push(client);
            }
            const alert = await firing(labels);
            expect(Number(alert.value)).toBeGreaterThan(warning);
            await expectCausedBy(alert, `redis_connected_clients > ${warning}`, await samples("redis_connected_clients"), (value) => value > warning, since);
            await inAlertmanager(labels);
        } finally {
            held.forEach((client) => client.disconnect());
        }
        await resolved(labels);
    }, TIMEOUT);

    test("PostgreSQL: a query running past 30 seconds fires the long-query warning, and it resolves when the query ends", async () => {
        const seconds = await threshold("ZentoriaPostgresLongQuery", "warning");
        // node-postgres reads sslmode=prefer as verify-full; the server has no TLS (README: Outputs).
        const url = operatorUrl((await stack.deployment.envFiles()).operators, "POSTGRES_SUPERUSER_URL", stack.ports.postgres).replace(/sslmode=prefer/, "sslmode=disable");
        // The superuser has no statement_timeout (only the application roles do, section 6.1).
        const superuser = new Client({ connectionString: url, application_name: "e2e-long-query" });
        const canceller = new Client({ connectionString: url, application_name: "e2e-long-query-cancel" });
        await superuser.connect();
        await canceller.connect();
        const labels = { alertname: "ZentoriaPostgresLongQuery", usename: superuser.user!, state: "active", severity: "warning" };
        const series = `${LONG_QUERY_METRIC}{usename="${superuser.user}",state="active"}`;
        const since = Date.now() / 1000;
        try {
            // Far longer than the threshold, and cancelled once the warning fired: however slowly
            // the machine scrapes, the query is still running when Prometheus looks.
            const query = superuser.query("select pg_sleep(900)").then(
                () => "finished",
                (error: Error) => error.message,
            );
            const alert = await firing(labels);
            expect(Number(alert.value)).toBeGreaterThan(seconds);
            await expectCausedBy(alert, `${series} > ${seconds}`, await samples(series), (value) => value > seconds, since);
            await inAlertmanager(labels);
            await canceller.query("select pg_cancel_backend($1)", [(superuser as unknown as { processID: number }).processID]);
            expect(await query).toMatch(/canceling statement due to user request/);
        } finally {
            await superuser.end();
            await canceller.end();
        }
        await resolved(labels);
    }, TIMEOUT);

    test("PgBouncer's pool errors: refused logins counted from its log fire the warning, which resolves a minute later", async () => {
        const labels = { alertname: "ZentoriaPgbouncerPoolErrors", severity: "warning" };
        const warning = await threshold("ZentoriaPgbouncerPoolErrors", "warning");
        await resolved(labels);
        const before = await current("pgbouncer_pooler_errors_total");
        const since = Date.now() / 1000;
        const url = new URL((await stack.deployment.hostStrings()).postgres.n8n.zentoria_main.pooled);
        url.password = "not-the-password";
        for (let index = 0; index < 3; index++) {
            const client = new Client({ connectionString: url.toString() });
            client.on("error", () => undefined);
            await expect(client.connect()).rejects.toThrow(/SASL authentication failed|password authentication failed/);
        }
        const alert = await firing(labels);
        // Each refused login once, and nothing else counted meanwhile.
        const counted = await until("the three errors counted", async () => ((await current("pgbouncer_pooler_errors_total")) >= before + 3 ? current("pgbouncer_pooler_errors_total") : undefined));
        expect(counted - before).toBe(3);
        await expectCausedBy(alert, `${MONITORING_RECORDS.poolerErrors} > ${warning}`, await samples("pgbouncer_pooler_errors_total"), (value) => value >= before + 1, since);
        await expectFiredAtFirstEvaluation(alert, MONITORING_RECORDS.poolerErrors, (value) => value > warning, since);
        await inAlertmanager(labels);
        await resolved(labels);
    }, TIMEOUT);
}
