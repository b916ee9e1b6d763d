// The operator commands' pure parts: section 5's verdicts, PgBouncer's and Redis' answers read
// into figures (rows as the servers send them, taken from PgBouncer 1.18 and 1.24 and Redis 7),
// which clients count as idle, the report, the command lines, and the stack outputs the program
// exports, read back the way `npm run status` reads them.
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { DEFAULT_CONFIG } from "../../config";
import { percentOf, sectionFiveLevels, verdictAbove, worstVerdict } from "../../config/verdicts";
import { parseEmergencyArgs } from "../../scripts/emergency";
import { formatDuration, parseDuration } from "../../ops/console/args";
import { serviceBackupViews, ServiceStatus } from "../../ops/backups";
import { backupsSection, qdrantLook } from "../../ops/console/collect";
import { pgConfig } from "../../ops/console/connect";
import { parseStackOutputs, readStackOutputs } from "../../ops/console/outputs";
import {
    classifyClients,
    closable,
    ConnectionRow,
    parseConnections,
    parseConsoleTime,
    parsePoolerErrors,
    parseStats,
    parseVersion,
    versionAtLeast,
    waitPerTransactionMs,
} from "../../ops/console/pgbouncer";
import { renderReport } from "../../ops/console/render";
import { backupsStatus, events, exitCodeOf, overallVerdict, pgbouncerStatus, PgbouncerSample } from "../../ops/console/report";
import { killableRedisClients, parseClientList, parseInfo, redisFigures } from "../../ops/console/redis";
import { main as statusMain, parseStatusArgs } from "../../scripts/status";
import { outputValue } from "./support/mocks";
import { runProgram, stackConfigValues } from "./support/program";

const LEVELS = sectionFiveLevels(DEFAULT_CONFIG.monitoring.thresholds, DEFAULT_CONFIG.redis);

describe("section 5's verdicts (config/verdicts.ts)", () => {
    test("the defaults are the spec's tables: warning above 80 %, critical above 95 %; 100 / 500 ms; > 0 / > 10 a minute; 500 / 900 clients", () => {
        expect(LEVELS).toEqual({
            pgbouncerClientsPercent: { warning: 80, critical: 95 },
            pgbouncerServersPercent: { warning: 80, critical: 95 },
            pgbouncerWaitMs: { warning: 100, critical: 500 },
            pgbouncerErrorsPerMinute: { warning: 0, critical: 10 },
            postgresConnectionsPercent: { warning: 80, critical: 95 },
            redisConnectedClients: { warning: 500, critical: 900 },
            redisBlockedClients: { warning: 10, critical: 50 },
            redisRejectedPerMinute: { warning: 0, critical: 10 },
        });
    });

    test("a value at a level has not passed it", () => {
        const level = { warning: 80, critical: 95 };
        expect([79, 80, 80.01, 95, 95.01, 200].map((value) => verdictAbove(value, level))).toEqual(["ok", "ok", "warning", "warning", "critical", "critical"]);
        expect([0, 1].map((value) => verdictAbove(value, LEVELS.pgbouncerErrorsPerMinute))).toEqual(["ok", "warning"]);
        expect(percentOf(17, 20)).toBe(85);
        expect(percentOf(3, -1)).toBeUndefined();
        expect(worstVerdict(["ok", undefined, "warning", "ok"])).toBe("warning");
        expect(worstVerdict([])).toBe("ok");
        expect(["ok", "warning", "critical"].map((verdict) => exitCodeOf(verdict as any))).toEqual([0, 1, 2]);
    });

    test("events are counted per minute over at least a minute: one in a one-second sample is one a minute", () => {
        expect(events(1, 1, LEVELS.redisRejectedPerMinute)).toMatchObject({ perMinute: 1, verdict: "warning" });
        expect(events(0, 1, LEVELS.redisRejectedPerMinute)).toMatchObject({ perMinute: 0, verdict: "ok" });
        expect(events(11, 60, LEVELS.redisRejectedPerMinute).verdict).toBe("critical");
        expect(events(11, 120, LEVELS.redisRejectedPerMinute)).toMatchObject({ perMinute: 5.5, verdict: "warning" });
    });
});

describe("PgBouncer's console, read", () => {
    // SHOW STATS rows as node-postgres returns them (bigint columns as strings).
    const stats118 = (xact: number, wait: number) => ({ database: "zentoria_main", total_xact_count: String(xact), total_query_count: "0", total_wait_time: String(wait), avg_wait_time: "7" });
    const stats124 = (xact: number, wait: number) => ({ ...stats118(xact, wait), total_server_assignment_count: String(xact * 3), avg_wait_time: "2" });

    test("wait per transaction comes from total_wait_time and total_xact_count deltas, the same on 1.18 and 1.24 (whose avg_wait_time differ)", () => {
        for (const row of [stats118, stats124]) {
            const [before] = parseStats([row(100, 1_000_000)]);
            const [after] = parseStats([row(110, 1_250_000)]);
            expect(waitPerTransactionMs(before, after)).toBe(25);
        }
    });

    test("no transaction in the sample: no figure; counters that went down (a restart): the later sample counts from zero", () => {
        const [before] = parseStats([stats124(100, 500)]);
        expect(waitPerTransactionMs(before, before)).toBeUndefined();
        const [restarted] = parseStats([stats124(4, 2_000)]);
        expect(waitPerTransactionMs(before, restarted)).toBe(0.5);
        expect(waitPerTransactionMs(undefined, restarted)).toBe(0.5);
    });

    test("timestamps, versions and SHOW CLIENTS rows of 1.18 (no id) and 1.24", () => {
        expect(parseConsoleTime("2026-12-03 18:47:15 UTC")).toBe(Date.UTC(2026, 11, 3, 18, 47, 15) / 1000);
        expect(parseConsoleTime("")).toBeUndefined();
        expect(parseVersion("PgBouncer 1.24.1")).toEqual([1, 24, 1]);
        expect(versionAtLeast(parseVersion("PgBouncer 1.24.0"), [1, 24, 0])).toBe(true);
        expect(versionAtLeast(parseVersion("PgBouncer 1.18.0"), [1, 24, 0])).toBe(false);
        expect(versionAtLeast(parseVersion("PgBouncer 2.0"), [1, 24, 0])).toBe(true);
        const [old, current] = parseConnections([
            { type: "C", user: "zentoria_app", database: "zentoria_main", state: "active", addr: "172.30.0.1", port: 4000, connect_time: "2026-12-03 18:47:15 UTC", request_time: "2026-12-03 18:47:20 UTC", ptr: "0x1", link: "", remote_pid: 0 },
            { type: "C", user: "zentoria_app", database: "zentoria_main", state: "active", addr: "172.30.0.1", port: 4001, ptr: "0x2", link: "0x9", remote_pid: 0, application_name: "backend", id: 7 },
        ]);
        expect(old).toMatchObject({ id: undefined, requestTime: Date.UTC(2026, 11, 3, 18, 47, 20) / 1000, link: "" });
        expect(current).toMatchObject({ id: 7, link: "0x9", applicationName: "backend" });
    });

    test("which clients are idle: between transactions, or in a transaction whose backend runs nothing; running and waiting ones are kept", () => {
        const client = (id: number, state: string, link: string, requestTime?: number): ConnectionRow => ({
            id,
            user: "zentoria_app",
            database: "zentoria_main",
            state,
            addr: "172.30.0.1",
            port: 4000 + id,
            requestTime,
            ptr: `0xc${id}`,
            link,
            remotePid: 0,
            applicationName: "backend",
        });
        const server = (ptr: string, pid: number): ConnectionRow => ({ ...client(0, "active", ""), ptr, remotePid: pid });
        const now = 1_000_000;
        const classified = classifyClients(
            [client(1, "active", "", now - 40), client(2, "active", "0xs2"), client(3, "active", "0xs3"), client(4, "waiting", ""), client(5, "active", "0xs5"), client(6, "idle", "", now - 2)],
            [server("0xs2", 102), server("0xs3", 103), server("0xs5", 105)],
            new Map([
                [102, { state: "idle in transaction", since: now - 90 }],
                [103, { state: "active", since: now - 1 }],
            ]),
            now,
        );
        expect(classified.map((entry) => [entry.client.id, entry.activity, entry.ageSeconds])).toEqual([
            [1, "idle", 40],
            [2, "idle in transaction", 90],
            [3, "active", undefined],
            [4, "waiting", undefined],
            // Paired, but its backend not found: kept.
            [5, "active", undefined],
            [6, "idle", 2],
        ]);
        expect(classified.filter((entry) => closable(entry, 0)).map((entry) => entry.client.id)).toEqual([1, 2, 6]);
        expect(classified.filter((entry) => closable(entry, 30)).map((entry) => entry.client.id)).toEqual([1, 2]);
    });

    test("pool errors from PgBouncer's log (docker logs --timestamps), the operators' own KILL_CLIENTs left out", () => {
        const log = [
            "2026-12-03T18:50:01.000000000Z 2026-12-03 18:50:01.000 UTC [1] WARNING C-0x55d0: zentoria_main/zentoria_app@172.30.0.1:40420 pooler error: no more connections allowed (max_client_conn)",
            "2026-12-03T18:50:02.000000000Z 2026-12-03 18:50:02.000 UTC [1] WARNING C-0x55d1: zentoria_main/zentoria_app@172.30.0.1:40421 pooler error: admin forced disconnect",
            "2026-12-03T18:50:03.000000000Z 2026-12-03 18:50:03.000 UTC [1] LOG C-0x55d1: zentoria_main/zentoria_app@172.30.0.1:40421 closing because: client close request (age=0s)",
            "2026-12-03T18:50:04.500000000Z 2026-12-03 18:50:04.500 UTC [1] WARNING C-0x55d2: (nodb)/(nouser)@172.30.0.1:40422 pooler error: SASL authentication failed",
        ].join("\n");
        expect(parsePoolerErrors(log)).toEqual([
            { at: Date.UTC(2026, 11, 3, 18, 50, 1) / 1000, database: "zentoria_main", user: "zentoria_app", message: "no more connections allowed (max_client_conn)" },
            { at: Date.UTC(2026, 11, 3, 18, 50, 4, 500) / 1000, database: "(nodb)", user: "(nouser)", message: "SASL authentication failed" },
        ]);
    });
});

describe("Redis' answers, read", () => {
    test("INFO and CLIENT LIST; redis-kill-clients never picks the program's own users", () => {
        const info = parseInfo("# Server\r\nredis_version:8.0.2\r\nrun_id:abc\r\nuptime_in_seconds:30\r\n# Clients\r\nconnected_clients:12\r\nblocked_clients:1\r\nmaxclients:1000\r\n# Stats\r\nrejected_connections:3\r\n# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nmaxmemory:0\r\nmaxmemory_human:0B\r\n");
        expect(redisFigures(info)).toMatchObject({ version: "8.0.2", runId: "abc", connectedClients: 12, blockedClients: 1, rejectedConnections: 3, maxclients: 1000, usedMemoryHuman: "1.00M", maxmemory: 0 });
        const clients = parseClientList(
            [
                "id=3 addr=172.30.0.5:5000 laddr=172.30.0.3:6379 fd=8 name= age=100 idle=100 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 user=backend cmd=get",
                "id=4 addr=172.30.0.6:5000 laddr=172.30.0.3:6379 fd=9 name= age=50 idle=5 flags=N db=2 user=n8n cmd=brpop",
                "id=5 addr=172.30.0.1:5000 laddr=172.30.0.3:6379 fd=10 name= age=9 idle=0 flags=N db=0 user=monitor cmd=client|list",
                "id=6 addr=172.30.0.7:5000 laddr=172.30.0.3:6379 fd=11 name= age=9 idle=9 flags=N db=0 user=healthcheck cmd=ping",
                "id=7 addr=172.30.0.1:5001 laddr=172.30.0.3:6379 fd=12 name= age=1 idle=0 flags=N db=0 user=admin cmd=client|list",
                "",
            ].join("\n"),
        );
        expect(clients.map((client) => [client.id, client.user, client.idleSeconds])).toEqual([
            [3, "backend", 100],
            [4, "n8n", 5],
            [5, "monitor", 0],
            [6, "healthcheck", 9],
            [7, "admin", 0],
        ]);
        expect(killableRedisClients(clients, 7, 0).map((client) => client.id)).toEqual([3, 4]);
        expect(killableRedisClients(clients, 7, 60).map((client) => client.id)).toEqual([3]);
    });
});

describe("the report", () => {
    const summary = {
        pgbouncer: { container: "zentoria-pgbouncer", maxClientConn: 500, pools: [{ database: "zentoria_main", service: "backend", role: "zentoria_app", serverDatabase: "zentoria_main", poolSize: 20, maxClientConnections: 40 }] },
        postgres: { container: "zentoria-postgres", maxConnections: 269 },
        redis: { container: "zentoria-redis", maxclients: 1000, warningClients: 500, criticalClients: 900 },
        qdrant: {},
        roles: [],
        thresholds: DEFAULT_CONFIG.monitoring.thresholds,
    };
    const pool = (active: number, waiting: number, serversActive: number, maxwait = 0) => ({
        database: "zentoria_main",
        user: "zentoria_app",
        clientsActive: active,
        clientsWaiting: waiting,
        serversActive,
        serversIdle: 0,
        serversUsed: 0,
        maxWaitMs: maxwait,
    });
    const sample = (pools: PgbouncerSample["pools"], errors: PgbouncerSample["errors"] = { since: 0, now: 60, list: [] }): PgbouncerSample => ({
        endpoint: "127.0.0.1:6432",
        version: "PgBouncer 1.24.1",
        pools,
        statsBefore: [{ database: "zentoria_main", xactCount: 10, waitMicros: 0 }],
        statsAfter: [{ database: "zentoria_main", xactCount: 20, waitMicros: 2_000_000 }],
        errors,
    });

    test("a pool's verdict is its worst metric: servers against pool_size, clients against the service's limit, wait, errors", () => {
        const slowWait = pgbouncerStatus(sample([pool(2, 0, 1)]), summary as any, LEVELS);
        // 2 s of wait over 10 transactions: 200 ms a transaction, above 100 ms.
        expect(slowWait.pools[0]).toMatchObject({ clients: { used: 2, limit: 40, verdict: "ok" }, servers: { used: 1, limit: 20, verdict: "ok" }, wait: { perTransactionMs: 200, verdict: "warning" }, verdict: "warning" });
        const busy = pgbouncerStatus(sample([pool(39, 0, 17)]), summary as any, LEVELS);
        expect(busy.pools[0]).toMatchObject({ clients: { percent: 97.5, verdict: "critical" }, servers: { percent: 85, verdict: "warning" }, verdict: "critical" });
        const waiting = pgbouncerStatus(sample([pool(20, 5, 20, 1200)]), summary as any, LEVELS);
        expect(waiting.pools[0].wait).toEqual({ perTransactionMs: 200, oldestWaitingMs: 1200, verdict: "critical" });
        const errors = pgbouncerStatus(sample([pool(1, 0, 0)], { since: 0, now: 60, list: [{ at: 30, database: "zentoria_main", user: "zentoria_app", message: "x" }] }), summary as any, LEVELS);
        expect(errors.pools[0].errors).toMatchObject({ count: 1, verdict: "warning" });
        const noLog = pgbouncerStatus(sample([pool(1, 0, 0)], { unavailable: "no docker" }), summary as any, LEVELS);
        expect(noLog).toMatchObject({ errorsUnavailable: "no docker", pools: [{ errors: undefined }] });
    });

    test("the table: coloured verdicts only when asked; an unreachable server is critical; the overall verdict is the worst", () => {
        const pgbouncer = pgbouncerStatus(sample([pool(2, 0, 17)]), summary as any, LEVELS);
        const body = {
            stack: "dev",
            at: "2026-12-03T18:50:00.000Z",
            pgbouncer,
            postgres: { reachable: false as const, endpoint: "127.0.0.1:5432", error: "connect ECONNREFUSED", verdict: "critical" as const },
            redis: { reachable: false as const, endpoint: "127.0.0.1:6379", error: "connect ECONNREFUSED", verdict: "critical" as const },
        };
        const report = { ...body, verdict: overallVerdict(body) };
        expect(report.verdict).toBe("critical");
        const plain = renderReport(report, { colour: false });
        expect(plain).toMatch(/^Stack dev: critical \(2026-12-03 18:50:00 UTC\)\n/);
        expect(plain).toContain("PostgreSQL at 127.0.0.1:5432: critical\n  unreachable: connect ECONNREFUSED");
        expect(plain).toMatch(/^ {2}zentoria_main +zentoria_app +2\/0 +40 \(5%\) +17\/0 +20 \(85%\) +200 ms +0 +warning$/m);
        expect(plain).not.toContain("\x1b[");
        expect(renderReport(report, { colour: true })).toContain("\x1b[33mwarning\x1b[0m");
    });
});

describe("the backups section", () => {
    const NOW = Date.parse("2026-12-03T20:00:00Z");
    const run = (service: string, outcome: "success" | "failed", finishedAt: string, bytes = 0, message = "") => ({
        service,
        outcome,
        trigger: "scheduled" as const,
        startedAt: finishedAt,
        finishedAt,
        seconds: 3,
        bytes,
        name: finishedAt.replace(/[-:]/g, "").replace(/\.\d+/, ""),
        message,
    });
    const ok = run("postgres", "success", "2026-12-03T19:00:05Z", 5_347_737);
    const status: Record<string, ServiceStatus> = {
        postgres: { lastRun: ok, lastSuccess: ok },
        redis: { lastRun: run("redis", "failed", "2026-12-03T19:00:09Z", 0, "BGSAVE did not finish"), lastSuccess: run("redis", "success", "2026-12-02T19:00:09Z", 1_024) },
        qdrant: { lastRun: run("qdrant", "success", "2026-12-01T10:00:00Z", 2_048), lastSuccess: run("qdrant", "success", "2026-12-01T10:00:00Z", 2_048) },
    };

    test("every service the stack backs up, with a verdict: failed is critical, stale a warning, none yet ok", () => {
        const views = serviceBackupViews({ ...status, postgres: {} as ServiceStatus }, { intervalHours: 24, services: ["postgres", "redis", "qdrant"] }, NOW);
        const section = backupsStatus("zentoria-backups", 24, views);
        expect(section.services.map((service) => [service.service, service.health, service.verdict])).toEqual([
            ["postgres", "none", "ok"],
            ["qdrant", "stale", "warning"],
            ["redis", "failed", "critical"],
        ]);
        expect(section.verdict).toBe("critical");
        expect(section.services[2]).toMatchObject({ lastSuccess: { finishedAt: "2026-12-02T19:00:09Z", bytes: 1_024 }, lastRun: { outcome: "failed", message: "BGSAVE did not finish" } });
        const fine = backupsStatus("zentoria-backups", 24, serviceBackupViews({ postgres: status.postgres }, { intervalHours: 24, services: ["postgres", "redis"] }, NOW));
        expect(fine.services.map((service) => `${service.service}:${service.health}:${service.verdict}`)).toEqual(["postgres:ok:ok", "redis:none:ok"]);
        expect(fine.verdict).toBe("ok");
        // A store that cannot be read is shown like a server that does not answer.
        expect(backupsSection({ store: "zentoria-backups", intervalHours: 24 } as any, { error: "cannot read the backup store zentoria-backups: no such volume" })).toEqual({
            reachable: false,
            endpoint: "zentoria-backups",
            error: "cannot read the backup store zentoria-backups: no such volume",
            verdict: "critical",
        });
    });

    test("the overall verdict counts it; the table shows time, size and last run; no section without backups", () => {
        const server = { reachable: false as const, endpoint: "127.0.0.1:5432", error: "x", verdict: "critical" as const };
        const redis = { reachable: true as const, endpoint: "127.0.0.1:6379", version: "8.0.2", connected: { clients: 1, levels: LEVELS.redisConnectedClients, verdict: "ok" as const }, blocked: { clients: 0, levels: LEVELS.redisBlockedClients, verdict: "ok" as const }, rejected: events(0, 60, LEVELS.redisRejectedPerMinute), memory: { used: 1, usedHuman: "1B", maxmemory: 0, maxmemoryHuman: "0B" }, verdict: "ok" as const };
        const stale = backupsStatus("zentoria-backups", 24, serviceBackupViews({ qdrant: status.qdrant, postgres: status.postgres }, { intervalHours: 24, services: ["postgres", "redis"] }, NOW));
        const body = { stack: "dev", at: "2026-12-03T20:00:00.000Z", pgbouncer: server, postgres: server, redis, backups: stale };
        expect(overallVerdict({ ...body, pgbouncer: redis as any, postgres: redis as any })).toBe("warning");
        const text = renderReport({ ...body, verdict: overallVerdict(body) }, { colour: false });
        expect(text).toContain("Backups in zentoria-backups (every 24 h): warning\n");
        expect(text).toMatch(/^ {2}postgres +2026-12-03 19:00:05 UTC +5\.1 MiB +success 2026-12-03 19:00:05 UTC +ok$/m);
        expect(text).toMatch(/^ {2}qdrant +2026-12-01 10:00:00 UTC +2\.0 KiB +success 2026-12-01 10:00:00 UTC +warning \(stale\)$/m);
        expect(text).toMatch(/^ {2}redis +no backup yet +- +- +ok$/m);
        const unreadable = renderReport({ ...body, backups: backupsSection({ store: "/srv/backups", intervalHours: 24 } as any, { error: "permission denied" }), verdict: "critical" }, { colour: false });
        expect(unreadable).toContain("Backups at /srv/backups: critical\n  unreachable: permission denied");
        expect(renderReport({ ...body, backups: undefined, verdict: "critical" }, { colour: false })).not.toContain("Backups");
    });
});

describe("command lines", () => {
    test("durations", () => {
        expect(["90", "90s", "30m", "2h", "1d", "1.5s"].map((text) => parseDuration(text, "--older-than"))).toEqual([90, 90, 1800, 7200, 86400, 1.5]);
        expect(() => parseDuration("soon", "--older-than")).toThrow('--older-than takes a duration such as 90s, 30m or 2h, not "soon"');
        expect(() => parseDuration("-5m", "--older-than")).toThrow(/takes a duration/);
        expect([1800, 90, 7200, 1].map(formatDuration)).toEqual(["30m", "90s", "2h", "1s"]);
    });

    test("status: --json, --watch with and without seconds; anything else refused", () => {
        expect(parseStatusArgs(["dev"])).toEqual({ stack: "dev", json: false, watchSeconds: undefined });
        expect(parseStatusArgs(["dev", "--json", "--watch"])).toEqual({ stack: "dev", json: true, watchSeconds: 5 });
        expect(parseStatusArgs(["--watch", "2", "dev"])).toEqual({ stack: "dev", json: false, watchSeconds: 2 });
        expect(parseStatusArgs(["dev", "--watch=10"])).toEqual({ stack: "dev", json: false, watchSeconds: 10 });
        expect(() => parseStatusArgs([])).toThrow(/^usage: npm run status -- <stack>/);
        expect(() => parseStatusArgs(["dev", "--colour"])).toThrow("unknown option --colour");
        expect(() => parseStatusArgs(["dev", "--watch=0"])).toThrow("--watch takes seconds between 1 and 3600, not 0");
        expect(() => parseStatusArgs(["dev", "prod"])).toThrow(/one stack at a time/);
    });

    test("emergency: procedures and their arguments are checked before anything is read", () => {
        expect(parseEmergencyArgs(["dev", "pgbouncer-kill-idle", "zentoria_main", "--yes"])).toMatchObject({ stack: "dev", procedure: "pgbouncer-kill-idle", yes: true });
        expect(parseEmergencyArgs(["dev", "postgres-terminate-idle"])).toMatchObject({ yes: false });
        const refused = (argv: string[]) => {
            try {
                parseEmergencyArgs(argv);
            } catch (error) {
                return (error as Error).message.split("\n")[0];
            }
            throw new Error(`accepted ${argv.join(" ")}`);
        };
        expect(refused(["dev", "pgbouncer-kill"])).toBe('unknown procedure "pgbouncer-kill"; one of pgbouncer-kill-idle, postgres-terminate-idle, redis-kill-clients, pgbouncer-pause, pgbouncer-resume, pgbouncer-reload');
        expect(refused(["dev"])).toBe("which procedure?");
        expect(refused(["dev", "pgbouncer-kill-idle", "a", "b"])).toBe("pgbouncer-kill-idle takes at most one pool, not a b");
        expect(refused(["dev", "pgbouncer-pause", "x;RESUME"])).toBe('"x;RESUME" is not a pool name');
        expect(refused(["dev", "postgres-terminate-idle", "--older-than"])).toBe("--older-than needs a value");
        expect(refused(["dev", "redis-kill-clients", "--older-than", "1m"])).toBe("unknown option --older-than");
        expect(refused(["dev", "pgbouncer-reload", "zentoria_main"])).toBe("pgbouncer-reload takes no argument, not zentoria_main");
    });

    test("libpq URLs to node-postgres: prefer connects without TLS, as libpq falls back; require and verify-* use it", () => {
        const url = (sslmode: string) => `postgresql://zentoria_monitor:p%40ss@127.0.0.1:5432/postgres?sslmode=${sslmode}&connect_timeout=3`;
        expect(pgConfig(url("prefer"))).toMatchObject({ host: "127.0.0.1", port: 5432, user: "zentoria_monitor", password: "p@ss", database: "postgres", ssl: false, connectionTimeoutMillis: 3000, application_name: "zentoria-operator" });
        expect(pgConfig(url("require")).ssl).toEqual({ rejectUnauthorized: false });
        expect(pgConfig(url("verify-full")).ssl).toBe(true);
        expect(pgConfig("postgresql://u:p@[::1]:6432/pgbouncer").host).toBe("::1");
    });
});

describe("the stack's outputs as the commands read them", () => {
    let json: Record<string, unknown>;
    beforeAll(async () => {
        jest.spyOn(console, "warn").mockImplementation(() => undefined);
        const outputs = await runProgram(stackConfigValues("dev"));
        // What `pulumi stack output --json --show-secrets` prints: every output's value, secrets shown.
        json = {
            summary: outputs.summary,
            hostConnectionStrings: await outputValue(outputs.hostConnectionStrings),
            connectionStrings: await outputValue(outputs.connectionStrings),
            // A plain object (no secret, no Output) in the program's exports.
            backups: outputs.backups,
        };
    }, 120_000);

    test("the backups output, when backups are on: the store, its interval and the services each run backs up; off: none", () => {
        const { backups } = parseStackOutputs("dev", json);
        expect(backups).toMatchObject({ enabled: true, store: "zentoria-backups", intervalHours: DEFAULT_CONFIG.backups.intervalHours, services: ["postgres", "redis", "qdrant"] });
        expect(parseStackOutputs("dev", { ...json, backups: { ...(json.backups as object), enabled: false, store: undefined } }).backups).toBeUndefined();
        // A stack deployed before backups existed has no such output: no section either.
        expect(parseStackOutputs("dev", { ...json, backups: undefined }).backups).toBeUndefined();
    });

    test("the program's own outputs: every target host-side, with the monitoring and admin users", () => {
        const { targets, summary } = parseStackOutputs("dev", json);
        expect(Object.values(targets).filter((target) => typeof target === "string").map((target) => new URL(target as string).host).sort()).toEqual([
            "127.0.0.1:5432",
            "127.0.0.1:5432",
            "127.0.0.1:6379",
            "127.0.0.1:6379",
            "127.0.0.1:6432",
            "127.0.0.1:6432",
        ]);
        expect(new URL(targets.pgbouncerStats)).toMatchObject({ username: "zentoria_monitor", pathname: "/pgbouncer" });
        expect(new URL(targets.pgbouncerAdmin)).toMatchObject({ username: "pgbouncer", pathname: "/pgbouncer" });
        expect(new URL(targets.postgresMonitoring)).toMatchObject({ username: "zentoria_monitor", host: "127.0.0.1:5432", pathname: "/postgres" });
        expect(new URL(targets.postgresSuperuser).username).toBe("postgres");
        expect(new URL(targets.redisMonitor).username).toBe("monitor");
        expect(new URL(targets.redisAdmin).username).toBe("admin");
        expect(targets.qdrant?.url).toBe("http://127.0.0.1:6333");
        expect(summary.thresholds).toEqual(DEFAULT_CONFIG.monitoring.thresholds);
        expect(summary.roles.map((role) => `${role.name}:${role.access}`).sort()).toEqual(["n8n_app:application", "postgres:superuser", "readonly:readonly", "zentoria_app:application", "zentoria_monitor:monitoring"]);
    });

    test("a stack that is not deployed, or deployed before the commands existed: one line saying so", () => {
        expect(() => parseStackOutputs("dev", {})).toThrow("stack dev has no outputs: it is not deployed (npm run deploy -- dev)");
        const old = { ...json, summary: { ...(json.summary as object), thresholds: undefined } };
        expect(() => parseStackOutputs("dev", old)).toThrow(/^stack dev's outputs lack summary\.thresholds \(Required\): they predate npm run status; run npm run deploy -- dev once$/);
    });

    test("read with the Pulumi CLI on the deploy's backend; the CLI's own error becomes status' one line, exit 3", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zentoria-status-cli-"));
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        // A stand-in `pulumi`: prints the outputs of stack "dev" and refuses any other, as the CLI does.
        fs.writeFileSync(path.join(dir, "outputs.json"), JSON.stringify(json));
        fs.writeFileSync(
            path.join(bin, "pulumi"),
            [
                "#!/bin/sh",
                'echo "$* backend=$PULUMI_BACKEND_URL" >>"$STUB_LOG"',
                'if [ "$6" = dev ]; then cat "$STUB_OUTPUTS"; exit 0; fi',
                'echo "error: no stack named \'$6\' found" >&2; exit 255',
                "",
            ].join("\n"),
            { mode: 0o755 },
        );
        const env = { PATH: `${bin}:/usr/bin:/bin`, HOME: dir, STUB_LOG: path.join(dir, "log"), STUB_OUTPUTS: path.join(dir, "outputs.json") };
        const outputs = await readStackOutputs("dev", dir, env);
        expect(outputs.targets.pgbouncerStats).toMatch(/^postgresql:\/\/zentoria_monitor:/);
        expect(fs.readFileSync(env.STUB_LOG, "utf8")).toBe(`stack output --json --show-secrets --stack dev backend=file://${dir}/.zentoria/state\n`);

        let stderr = "";
        const code = await statusMain(["nosuch"], { stdout: { write: () => true }, stderr: { write: (text: string) => (stderr += text) }, env, projectDir: dir });
        expect(code).toBe(3);
        expect(stderr).toBe(`status: could not read stack nosuch's outputs from file://${dir}/.zentoria/state: no stack named 'nosuch' found\n`);
    });
});

describe("Qdrant, as status looks at it", () => {
    // No Qdrant runs on this machine (no package, no image): a stand-in answers as Qdrant's HTTP API
    // does (src/actix/mod.rs: `/` needs no key, everything else the api-key header).
    const READ_ONLY_KEY = "read-only-key-0123456789";
    let server: http.Server;
    let url: string;
    beforeAll(async () => {
        server = http.createServer((request, response) => {
            if (request.url === "/") {
                response.end(JSON.stringify({ title: "qdrant - vector search engine", version: "1.15.4" }));
            } else if (request.headers["api-key"] !== READ_ONLY_KEY) {
                response.writeHead(401).end("Invalid API key or JWT");
            } else if (request.url === "/collections") {
                response.end(JSON.stringify({ result: { collections: [{ name: "memories" }, { name: "documents" }] }, status: "ok", time: 0.00001 }));
            } else {
                response.writeHead(404).end();
            }
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    test("its version, and its collections read with the read-only key", async () => {
        expect(await qdrantLook(url, READ_ONLY_KEY)).toEqual({ version: "1.15.4", collections: ["documents", "memories"] });
    });

    test("a key Qdrant refuses fails the look with the HTTP status", async () => {
        await expect(qdrantLook(url, "wrong")).rejects.toThrow("GET /collections: HTTP 401 Invalid API key or JWT");
    });
});
