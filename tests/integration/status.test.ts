// `npm run status` and `npm run emergency -- <stack> pgbouncer-kill-idle` on real PostgreSQL,
// PgBouncer 1.24 and Redis: a quiet stack is ok; idle-in-transaction clients held on one pool
// take it past section 5.1's warning level, then past the critical one; kill-idle closes the
// idle clients while a running transaction of the same pool completes, and the stack is ok again.
import { Client } from "pg";
import { PoolPlan } from "../../config/plan";
import { pgConfig } from "../../ops/console/connect";
import { parseStats, waitPerTransactionMs } from "../../ops/console/pgbouncer";
import { StackOutputs } from "../../ops/console/outputs";
import { PgbouncerStatus, PoolStatus, Report } from "../../ops/console/report";
import { connectPg, endAll } from "./support/clients";
import { Stack, useStack } from "./support/fixture";
import { harnessOutputs, OPERATIONS_CONFIG, runEmergency, runStatus, statusDir, statusReport } from "./support/operations";
import { freePorts } from "./support/ports";

// Declared before the servers' hooks, so it runs before they stop: PgBouncer's safe shutdown
// would wait for transactions left open by a failed test.
const held: Client[] = [];
afterAll(async () => endAll(held), 60_000);

const servers = useStack({ postgres: true, pgbouncer: true, redis: true, config: OPERATIONS_CONFIG });
const lookDir = statusDir();

/** The pool the tests load: the Backend's zentoria_main (pool_size 20, 40 clients). */
function backendMain(stack: Stack): PoolPlan {
    return stack.plan.pools.find((pool) => pool.service === "backend" && pool.database === "zentoria_main")!;
}

const pooledUrl = (stack: Stack, pool: PoolPlan) => stack.connectionStrings().postgres[pool.service][pool.database].pooled;

/** A client of the pool that has opened a transaction and left it idle, holding a server connection. */
async function idleInTransaction(stack: Stack, pool: PoolPlan, application: string): Promise<Client> {
    const client = await connectPg(pgConfig(pooledUrl(stack, pool), application));
    await client.query("BEGIN");
    await client.query("SELECT 1");
    return client;
}

function pgbouncerOf(report: Report): PgbouncerStatus {
    if (!report.pgbouncer.reachable) {
        throw new Error(`PgBouncer unreachable: ${report.pgbouncer.error}`);
    }
    return report.pgbouncer;
}

function poolOf(report: Report, pool: PoolPlan): PoolStatus {
    const found = pgbouncerOf(report).pools.find((candidate) => candidate.database === pool.alias && candidate.user === pool.role);
    if (!found) {
        throw new Error(`no pool ${pool.alias} in the report: ${JSON.stringify(pgbouncerOf(report).pools.map((candidate) => candidate.database))}`);
    }
    return found;
}

async function adminRows(stack: Stack, command: string): Promise<Array<Record<string, any>>> {
    const admin = await connectPg(stack.adminConsoleConfig());
    try {
        return (await admin.query(command)).rows;
    } finally {
        await admin.end();
    }
}

let outputs: StackOutputs;
/** Clients of the Backend's pool connected between transactions, for kill-idle to close. */
const betweenTransactions: Client[] = [];

beforeAll(async () => {
    const stack = servers.stack;
    outputs = harnessOutputs(stack);
    // Every pool once, so that PgBouncer shows it (it creates a pool on the first client).
    for (const pool of stack.plan.pools) {
        // SQLAlchemy's asyncpg URL is a libpq URL to node-postgres once the driver suffix goes.
        const client = await connectPg(pgConfig(pooledUrl(stack, pool).replace(/^postgresql\+asyncpg:/, "postgresql:"), "integration-touch"));
        await client.query("SELECT 1");
        await client.end();
    }
}, 120_000);

servers.test("a quiet stack: exit 0, every verdict ok, every pool of the plan shown", async (stack) => {
    const { code, report } = await statusReport(outputs, lookDir);
    expect({ code, verdict: report.verdict }).toEqual({ code: 0, verdict: "ok" });
    const pgbouncer = pgbouncerOf(report);
    expect(pgbouncer.version).toMatch(/^PgBouncer 1\.24/);
    expect(pgbouncer.pools.map((pool) => `${pool.database}/${pool.user}`).sort()).toEqual(stack.plan.pools.map((pool) => `${pool.alias}/${pool.role}`).sort());
    for (const pool of pgbouncer.pools) {
        expect({ pool: pool.database, verdict: pool.verdict }).toEqual({ pool: pool.database, verdict: "ok" });
        const planned = stack.plan.pools.find((candidate) => candidate.alias === pool.database)!;
        expect({ pool: pool.database, clientLimit: pool.clients.limit, poolSize: pool.servers.limit }).toEqual({ pool: pool.database, clientLimit: planned.maxClientConnections, poolSize: planned.poolSize });
        // PgBouncer's log was read: errors are counted, not "unavailable".
        expect(pool.errors).toBeDefined();
    }
    expect(pgbouncer.errorsUnavailable).toBeUndefined();
    expect(report.postgres).toMatchObject({ reachable: true, verdict: "ok", connections: { limit: stack.plan.postgres.maxConnections } });
    expect(report.redis).toMatchObject({ reachable: true, verdict: "ok", connected: { levels: { warning: 500, critical: 900 } } });
    expect(report.qdrant).toBeUndefined();

    // The table a terminal shows (no TTY here: no colour codes).
    const text = await runStatus(outputs, [], lookDir);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^Stack integration: ok \(/);
    expect(text.stdout).not.toContain("\x1b[");
    expect(text.stdout).toMatch(/^PgBouncer 1\.24\.\d+ at 127\.0\.0\.1:\d+: ok$/m);
    expect(text.stdout).toMatch(/^ {2}zentoria_main +zentoria_app +\d+\/0 +40 \(\d+%\) +\d+\/\d+ +20 \(\d+%\) .* ok$/m);
    expect(text.stdout).toContain("Qdrant: not deployed");
}, 180_000);

servers.test("--watch redraws like top on a terminal (coloured, unless NO_COLOR), one JSON document a round with --json", async () => {
    const tty = await runStatus(outputs, ["--watch", "1"], lookDir, { tty: true, rounds: 2, env: { NO_COLOR: undefined, TERM: "xterm" } });
    expect(tty.code).toBe(0);
    expect(tty.writes.length).toBe(2);
    for (const screen of tty.writes) {
        expect(screen.startsWith("\x1b[H\x1b[2JStack integration: \x1b[32mok\x1b[0m (")).toBe(true);
    }
    const plain = await runStatus(outputs, ["--watch=1"], lookDir, { tty: true, rounds: 1, env: { NO_COLOR: "1" } });
    expect(plain.stdout).not.toMatch(/\x1b\[3\dm/);
    const json = await runStatus(outputs, ["--json", "--watch", "1"], lookDir, { rounds: 2 });
    const documents = json.stdout.trim().split("\n").map((line) => JSON.parse(line));
    expect(documents.map((document) => document.verdict)).toEqual(["ok", "ok"]);
    expect(documents[1].at > documents[0].at).toBe(true);
}, 180_000);

servers.test("idle-in-transaction clients on one pool: past the warning level exit 1, past the critical level exit 2", async (stack) => {
    const pool = backendMain(stack);
    // Three clients between transactions (connected while the pool still has servers to lend).
    for (let i = 0; i < 3; i++) {
        const client = await connectPg(pgConfig(pooledUrl(stack, pool), "integration-idle"));
        await client.query("SELECT 1");
        betweenTransactions.push(client);
    }
    held.push(...betweenTransactions);
    // 17 of pool_size 20 server connections held: 85 %, above section 5.1's 80 %.
    for (let i = 0; i < 17; i++) {
        held.push(await idleInTransaction(stack, pool, "integration-idle-tx"));
    }
    const warning = await statusReport(outputs, lookDir);
    expect({ code: warning.code, verdict: warning.report.verdict }).toEqual({ code: 1, verdict: "warning" });
    const warned = poolOf(warning.report, pool);
    expect(warned).toMatchObject({ verdict: "warning", clients: { active: 20, limit: 40, verdict: "ok" }, servers: { active: 17, limit: 20, verdict: "warning" } });
    for (const other of pgbouncerOf(warning.report).pools.filter((candidate) => candidate !== warned)) {
        expect({ pool: other.database, verdict: other.verdict }).toEqual({ pool: other.database, verdict: "ok" });
    }
    expect(warning.report.postgres.verdict).toBe("ok");

    // 20 of 20: above 95 %.
    for (let i = 0; i < 3; i++) {
        held.push(await idleInTransaction(stack, pool, "integration-idle-tx"));
    }
    const critical = await statusReport(outputs, lookDir);
    expect({ code: critical.code, verdict: critical.report.verdict }).toEqual({ code: 2, verdict: "critical" });
    expect(poolOf(critical.report, pool)).toMatchObject({ verdict: "critical", servers: { active: 20, verdict: "critical" } });
}, 180_000);

servers.test("emergency pgbouncer-kill-idle --yes: idle clients gone, a running transaction of the same pool completes, the pool not paused, status ok again", async (stack) => {
    const pool = backendMain(stack);
    const idle = betweenTransactions;
    const idleInTx = held.filter((client) => !idle.includes(client));
    expect(idleInTx.length).toBe(20);
    // One of the transactions goes on: a statement runs in it while kill-idle acts.
    const running = idleInTx.pop()!;
    const runningPid = Number((await running.query("SELECT pg_backend_pid() AS pid")).rows[0].pid);
    const statement = running.query("SELECT pg_sleep(6) AS slept");
    const superuser = await stack.superuser();
    try {
        for (let tries = 0; ; tries++) {
            const { rows } = await superuser.query("SELECT state FROM pg_stat_activity WHERE pid = $1", [runningPid]);
            if (rows[0]?.state === "active") {
                break;
            }
            if (tries > 100) {
                throw new Error(`the running transaction's backend never showed active: ${JSON.stringify(rows)}`);
            }
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
    } finally {
        await superuser.end();
    }

    const clientsBefore = (await adminRows(stack, "SHOW CLIENTS")).filter((row) => row.database === pool.alias);
    expect(clientsBefore.length).toBe(23);
    const kill = await runEmergency(outputs, ["pgbouncer-kill-idle", pool.alias, "--yes"]);
    expect({ code: kill.code, stderr: kill.stderr }).toEqual({ code: 0, stderr: "" });
    expect(kill.stdout).toMatch(/Closed 22 client\(s\)\. Pool zentoria_main is not paused\./);
    expect(kill.stdout).toMatch(/keep \(active\)/);

    // The running transaction completes and commits.
    expect((await statement).rows).toEqual([{ slept: "" }]);
    await running.query("COMMIT");
    // Every idle client was closed by PgBouncer.
    for (const client of [...idle, ...idleInTx]) {
        await expect(client.query("SELECT 1")).rejects.toThrow();
    }
    const left = (await adminRows(stack, "SHOW CLIENTS")).filter((row) => row.database === pool.alias);
    expect(left.length).toBe(1);
    // Not paused: SHOW DATABASES says so, and a new client is served at once.
    expect((await adminRows(stack, "SHOW DATABASES")).find((row) => row.name === pool.alias)?.paused).toBe(0);
    const fresh = await connectPg({ ...pgConfig(pooledUrl(stack, pool)), query_timeout: 5_000 });
    expect((await fresh.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    await fresh.end();
    await running.end();
    held.splice(0, held.length);

    const after = await statusReport(outputs, lookDir);
    expect({ code: after.code, verdict: after.report.verdict, pool: poolOf(after.report, pool).verdict }).toEqual({ code: 0, verdict: "ok", pool: "ok" });
    // The operator's own disconnects are not pool errors.
    expect(poolOf(after.report, pool).errors?.count).toBe(0);

    // Again: nothing left to close.
    const again = await runEmergency(outputs, ["pgbouncer-kill-idle", pool.alias, "--yes"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("No idle client to close: nothing to do.");
}, 240_000);

servers.test("without --yes nothing changes: kill-idle and pause only show what they would do", async (stack) => {
    const pool = backendMain(stack);
    const clients: Client[] = [];
    try {
        for (let i = 0; i < 4; i++) {
            const client = await connectPg(pgConfig(pooledUrl(stack, pool), "integration-dry-run"));
            await client.query("SELECT 1");
            clients.push(client);
        }
        const count = async () => (await adminRows(stack, "SHOW CLIENTS")).filter((row) => row.database === pool.alias).length;
        const before = await count();
        expect(before).toBe(4);
        const dry = await runEmergency(outputs, ["pgbouncer-kill-idle", pool.alias]);
        expect(dry.code).toBe(0);
        expect(dry.stdout).toContain("(dry run)");
        expect(dry.stdout).toContain("Dry run: nothing changed. Run again with --yes to close these 4 client(s) with KILL_CLIENT.");
        expect(dry.stdout.match(/integration-dry-run/g)?.length).toBe(4);
        expect(await count()).toBe(before);
        for (const client of clients) {
            await client.query("SELECT 1");
        }

        const pause = await runEmergency(outputs, ["pgbouncer-pause", pool.alias]);
        expect(pause.code).toBe(0);
        expect(pause.stdout).toContain(`Would run PAUSE ${pool.alias}`);
        expect((await adminRows(stack, "SHOW DATABASES")).find((row) => row.name === pool.alias)?.paused).toBe(0);
    } finally {
        await endAll(clients);
    }
}, 120_000);

servers.test("pgbouncer-pause, -resume and -reload with --yes act once; a second run does nothing", async (stack) => {
    const pool = stack.plan.pools.find((candidate) => candidate.alias === "zentoria_vectors")!;
    const paused = async () => (await adminRows(stack, "SHOW DATABASES")).find((row) => row.name === pool.alias)?.paused;
    const pause = await runEmergency(outputs, ["pgbouncer-pause", pool.alias, "--yes"]);
    expect({ code: pause.code, stderr: pause.stderr }).toEqual({ code: 0, stderr: "" });
    expect(pause.stdout).toContain(`PAUSE ${pool.alias}: done`);
    expect(await paused()).toBe(1);
    const pauseAgain = await runEmergency(outputs, ["pgbouncer-pause", pool.alias, "--yes"]);
    expect(pauseAgain.stdout).toContain(`Pool ${pool.alias} is paused already: nothing to do.`);

    const resume = await runEmergency(outputs, ["pgbouncer-resume", pool.alias, "--yes"]);
    expect({ code: resume.code, stderr: resume.stderr }).toEqual({ code: 0, stderr: "" });
    expect(await paused()).toBe(0);
    const resumeAgain = await runEmergency(outputs, ["pgbouncer-resume", pool.alias, "--yes"]);
    expect(resumeAgain.stdout).toContain(`Pool ${pool.alias} is not paused: nothing to do.`);
    // Served again.
    const client = await connectPg({ ...pgConfig(pooledUrl(stack, pool)), query_timeout: 5_000 });
    expect((await client.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    await client.end();

    const reload = await runEmergency(outputs, ["pgbouncer-reload", "--yes"]);
    expect({ code: reload.code, out: reload.stdout }).toEqual({ code: 0, out: expect.stringContaining("RELOAD: done.") });
}, 180_000);

servers.test("a pool PgBouncer does not have: exit 2, one line naming the pools, nothing changed", async () => {
    const run = await runEmergency(outputs, ["pgbouncer-kill-idle", "no_such_pool", "--yes"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^emergency: PgBouncer has no pool "no_such_pool"; its pools: .*zentoria_main.*\n$/);
}, 60_000);

servers.test("no server answering: exit 3 with one line", async () => {
    const [closed] = await freePorts(1);
    const json = JSON.parse(JSON.stringify(harnessOutputs(servers.stack)));
    const rewrite = (url: string) => url.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${closed}`);
    const unreachable: StackOutputs = {
        ...json,
        targets: Object.fromEntries(Object.entries(json.targets as Record<string, string>).map(([name, url]) => [name, typeof url === "string" ? rewrite(url) : url])) as any,
    };
    const run = await runStatus(unreachable, [], lookDir);
    expect(run.code).toBe(3);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/^status: could not reach stack integration: no server answered \(.*ECONNREFUSED.*\)\n$/);
}, 120_000);

servers.test("a client waiting for a full pool: the oldest wait is judged at once, and the wait per transaction comes from SHOW STATS' counters", async (stack) => {
    const pool = stack.plan.pools.find((candidate) => candidate.alias === "zentoria_main_ai")!;
    const url = pooledUrl(stack, pool).replace(/^postgresql\+asyncpg:/, "postgresql:");
    const stats = async () => {
        const console = await connectPg(pgConfig(String(stack.connectionStrings().operators.env.PGBOUNCER_STATS_URL_ZENTORIA_MONITOR)));
        try {
            return parseStats((await console.query("SHOW STATS")).rows).find((row) => row.database === pool.alias)!;
        } finally {
            await console.end();
        }
    };
    const before = await stats();
    // Every server connection of the pool (pool_size 5) held by a transaction.
    const holders: Client[] = [];
    for (let i = 0; i < pool.poolSize; i++) {
        const client = await connectPg(pgConfig(url, "integration-holder"));
        await client.query("BEGIN");
        await client.query("SELECT 1");
        holders.push(client);
    }
    held.push(...holders);
    const waiter = await connectPg(pgConfig(url, "integration-waiter"));
    held.push(waiter);
    const started = Date.now();
    const waited = waiter.query("SELECT 1 AS one").then(() => Date.now() - started);

    // The status look lasts its one-second sample: the waiter has waited at least that long.
    const { report } = await statusReport(outputs, lookDir);
    expect(poolOf(report, pool)).toMatchObject({ clients: { waiting: 1 }, servers: { active: pool.poolSize, verdict: "critical" }, wait: { verdict: "critical" } });
    expect(poolOf(report, pool).wait.oldestWaitingMs).toBeGreaterThanOrEqual(1000);

    for (const holder of holders) {
        await holder.query("ROLLBACK");
    }
    const waitedMs = await waited;
    const after = await stats();
    // Six transactions (five rolled back, the waiter's): the waiter's wait shared among them
    // (plus the holders' short waits for server logins, if PgBouncer had to open connections).
    expect(after.xactCount - before.xactCount).toBe(pool.poolSize + 1);
    const perTransaction = waitPerTransactionMs(before, after)!;
    expect(perTransaction * (pool.poolSize + 1)).toBeGreaterThanOrEqual(waitedMs * 0.9);
    expect(perTransaction * (pool.poolSize + 1)).toBeLessThanOrEqual(waitedMs * 1.1 + 1000);
}, 180_000);
