// Real clients, as the services connect, with the exported URLs as they are: SQLAlchemy 2 +
// asyncpg (PyPI, the AI orchestrator's DATABASE_URL), postgres.js with its defaults and
// node-postgres with named statements (the backend's DATABASE_URL), through the rendered
// PgBouncer in transaction mode. Each client runs once, again after it exited (a restart: its
// statement names start over, on server connections that still hold the first run's) and twice
// at once (two processes, the same names), with 0 errors.
//
// PgBouncer keeps each client's named prepared statements (max_prepared_statements, rendered).
// A second PgBouncer on max_prepared_statements = 0 (what PgBouncer before 1.21 does) shows the
// same runs failing there with the URLs alone, and the URLs the program exports for such a
// PgBouncer working with the README's per-client settings.
import { spawn, execFileSync } from "child_process";
import * as path from "path";
import { StackPlan } from "../../config/plan";
import { connectionStrings } from "../../render/connections";
import { connectPg } from "./support/clients";
import { Stack, useStack } from "./support/fixture";
import { devPlan, REPO_ROOT, testEndpoints, testLayout } from "./support/plan";
import { freePorts } from "./support/ports";

const servers = useStack({ postgres: true, pgbouncer: true });

const CLIENTS_DIR = path.join(__dirname, "clients");
const CONNECTIONS = 5;
const TRANSACTIONS = 40;
/** One client process: node or Python can take long to start on a busy machine. */
const PROCESS_TIMEOUT_MS = 300_000;
const TEST_TIMEOUT_MS = 900_000;

interface ClientReport {
    transactions: number;
    errors: Record<string, number>;
    /** PostgreSQL backends (server connections) the transactions ran on. */
    backendPids: number[];
    applicationNames: string[];
}

interface ClientRequest {
    url: string;
    label: string;
    connections: number;
    transactions: number;
    [setting: string]: unknown;
}

type Client = "sqlalchemy+asyncpg" | "postgres.js" | "node-postgres";

/** The venv .ci/python-clients.sh made from tests/integration/clients/requirements.txt. */
function pythonFromVenv(): string {
    try {
        const venv = execFileSync("bash", [path.join(REPO_ROOT, ".ci/python-clients.sh"), "--print-path"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
        return path.join(venv, "bin", "python");
    } catch (error) {
        const failure = error as { stderr?: string; message: string };
        throw new Error(`the Python clients' venv is missing: run \`bash .ci/python-clients.sh\` (${(failure.stderr || failure.message).trim()})`);
    }
}

function commandFor(client: Client): [string, string[]] {
    return client === "sqlalchemy+asyncpg"
        ? [pythonFromVenv(), [path.join(CLIENTS_DIR, "sqlalchemy_asyncpg.py")]]
        : [process.execPath, [path.join(CLIENTS_DIR, "node-clients.mjs")]];
}

/** Runs one client process; the request, URL and password included, goes on stdin only. */
function runClient(client: Client, request: ClientRequest): Promise<ClientReport> {
    const [command, args] = commandFor(client);
    const input = client === "sqlalchemy+asyncpg" ? request : { ...request, client };
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { cwd: REPO_ROOT, stdio: ["pipe", "pipe", "pipe"], timeout: PROCESS_TIMEOUT_MS, killSignal: "SIGKILL" });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk) => (stdout += chunk));
        child.stderr.on("data", (chunk) => (stderr += chunk));
        child.on("error", reject);
        child.on("close", (code, signal) => {
            if (code !== 0) {
                reject(new Error(`${client} ${request.label} exited with ${code ?? signal}:\n${stderr.trim()}`));
                return;
            }
            try {
                resolve(JSON.parse(stdout) as ClientReport);
            } catch {
                reject(new Error(`${client} ${request.label} printed no report: ${stdout.slice(0, 500)}\n${stderr.trim()}`));
            }
        });
        child.stdin.end(JSON.stringify(input));
    });
}

async function probeRows(stack: Stack, label: string): Promise<number> {
    const superuser = await stack.superuser("zentoria_main");
    try {
        const { rows } = await superuser.query<{ count: number }>("select count(*)::int as count from client_probe where label = $1", [label]);
        return rows[0].count;
    } finally {
        await superuser.end();
    }
}

interface PreparedStats {
    transactions: number;
    clientParses: number;
    serverParses: number;
}

/** SHOW STATS counters of one PgBouncer database (alias); zeros before its first client. */
async function preparedStats(stack: Stack, port: number, alias: string): Promise<PreparedStats> {
    const admin = await connectPg(stack.adminConsoleConfig(port));
    try {
        const { rows } = await admin.query("SHOW STATS");
        const row = rows.find((candidate) => candidate.database === alias);
        return {
            transactions: Number(row?.total_xact_count ?? 0),
            clientParses: Number(row?.total_client_parse_count ?? 0),
            serverParses: Number(row?.total_server_parse_count ?? 0),
        };
    } finally {
        await admin.end();
    }
}

interface Scenario {
    client: Client;
    service: string;
    database: string;
    /** Settings the client takes besides the URL, as the README names them. */
    settings: Record<string, unknown>;
    expectedApplicationName: string;
}

interface ScenarioRun {
    label: string;
    report: ClientReport;
    rows: number;
}

/** Once, again after it exited, then two processes at once. */
async function runScenario(stack: Stack, plan: StackPlan, scenario: Scenario, tag: string): Promise<ScenarioRun[]> {
    const pool = plan.pools.find((candidate) => candidate.service === scenario.service && candidate.database === scenario.database)!;
    const url = connectionStrings(plan, stack.credentials, testEndpoints(plan)).postgres[scenario.service][scenario.database].pooled;
    const request = (label: string): ClientRequest => ({ url, label, connections: CONNECTIONS, transactions: TRANSACTIONS, ...scenario.settings });
    const label = (run: string) => `${tag}-${scenario.client}-${run}-${pool.alias}`;
    const runs: Array<{ label: string; report: ClientReport }> = [];
    for (const run of ["first", "restart"]) {
        runs.push({ label: label(run), report: await runClient(scenario.client, request(label(run))) });
    }
    const together = [label("together-1"), label("together-2")];
    const reports = await Promise.all(together.map((name) => runClient(scenario.client, request(name))));
    runs.push(...together.map((name, index) => ({ label: name, report: reports[index] })));
    return Promise.all(runs.map(async (run) => ({ ...run, rows: await probeRows(stack, run.label) })));
}

/** Every run: no error, every transaction committed and its rows in the table, the service's name on the server. */
function expectClean(runs: ScenarioRun[], scenario: Scenario): void {
    for (const run of runs) {
        expect({ label: run.label, errors: run.report.errors, transactions: run.report.transactions, rows: run.rows, applicationNames: run.report.applicationNames }).toEqual({
            label: run.label,
            errors: {},
            transactions: CONNECTIONS * TRANSACTIONS,
            rows: CONNECTIONS * TRANSACTIONS,
            applicationNames: [scenario.expectedApplicationName],
        });
    }
    // What breaks a PgBouncer that does not keep prepared statements: the restart ran on server
    // connections that still held the first run's statements (asyncpg and node-postgres give
    // them the same names in every process).
    const firstPids = new Set(runs[0].report.backendPids);
    expect(runs[1].report.backendPids.some((pid) => firstPids.has(pid))).toBe(true);
}

const SCENARIOS: Scenario[] = [
    // The AI orchestrator names itself in connect_args: an asyncpg URL cannot carry application_name.
    { client: "sqlalchemy+asyncpg", service: "ai_orchestrator", database: "zentoria_main", settings: { application_name: "ai_orchestrator" }, expectedApplicationName: "ai_orchestrator" },
    { client: "postgres.js", service: "backend", database: "zentoria_main", settings: {}, expectedApplicationName: "backend" },
    { client: "node-postgres", service: "backend", database: "zentoria_main", settings: {}, expectedApplicationName: "backend" },
];

beforeAll(async () => {
    const superuser = await servers.stack.superuser("zentoria_main");
    try {
        await superuser.query("create table client_probe (id bigserial primary key, client text not null, label text not null, n integer not null)");
        await superuser.query("alter table client_probe owner to zentoria_app");
    } finally {
        await superuser.end();
    }
}, 120_000);

describe("PgBouncer keeps prepared statements (max_prepared_statements rendered)", () => {
    servers.test("the rendered max_prepared_statements is what PgBouncer runs with", async (stack) => {
        expect(stack.plan.pgbouncer.maxPreparedStatements).toBe(200);
        const admin = await connectPg(stack.adminConsoleConfig());
        try {
            const { rows } = await admin.query("SHOW CONFIG");
            expect(rows.find((row) => row.key === "max_prepared_statements")?.value).toBe("200");
        } finally {
            await admin.end();
        }
    });

    for (const scenario of SCENARIOS) {
        servers.test(
            `${scenario.client} with ${scenario.service}'s URL as exported: a restart and two processes at once, 0 errors`,
            async (stack) => {
                const alias = stack.plan.pools.find((pool) => pool.service === scenario.service && pool.database === scenario.database)!.alias;
                const before = await preparedStats(stack, stack.plan.pgbouncer.port, alias);
                const runs = await runScenario(stack, stack.plan, scenario, "kept");
                const after = await preparedStats(stack, stack.plan.pgbouncer.port, alias);
                expectClean(runs, scenario);
                // The clients sent named Parse messages and PgBouncer prepared them on its server connections.
                expect(after.clientParses - before.clientParses).toBeGreaterThan(0);
                expect(after.serverParses - before.serverParses).toBeGreaterThan(0);
            },
            TEST_TIMEOUT_MS,
        );
    }
});

describe("a PgBouncer that does not keep them (max_prepared_statements = 0, as before 1.21)", () => {
    let plan: StackPlan;
    beforeAll(async () => {
        const stack = servers.stack;
        const [port] = await freePorts(1);
        plan = devPlan({ ...stack.ports, pgbouncer: port }, { pgbouncer: { maxPreparedStatements: 0 } }).plan;
        await stack.startPgbouncer("pgbouncer-no-prepared", plan, testLayout(stack.dir, path.join(stack.dir, "pgbouncer-no-prepared")));
    }, 180_000);

    servers.test("the exported asyncpg URL turns SQLAlchemy's statement cache off, the libpq URL is unchanged", async (stack) => {
        const strings = connectionStrings(plan, stack.credentials, testEndpoints(plan)).postgres;
        expect(new URL(strings.ai_orchestrator.zentoria_main.pooled).search).toBe("?prepared_statement_cache_size=0");
        expect(new URL(strings.backend.zentoria_main.pooled).search).toBe(new URL(stack.connectionStrings().postgres.backend.zentoria_main.pooled).search);
    });

    // Without them, the same runs fail as the issue reported from PgBouncer 1.18: the control
    // that shows these runs meet what a PgBouncer without prepared statements cannot do.
    for (const scenario of SCENARIOS) {
        servers.test(
            `${scenario.client} with the URL as exported and nothing else: "prepared statement ... already exists / does not exist"`,
            async (stack) => {
                const runs = await runScenario(stack, plan, scenario, "control");
                const messages = runs.flatMap((run) => Object.keys(run.report.errors));
                const failed = runs.reduce((sum, run) => sum + CONNECTIONS * TRANSACTIONS - run.report.transactions, 0);
                expect(failed).toBeGreaterThan(0);
                expect(messages.filter((message) => !/^prepared statement "[^"]+" (already exists|does not exist)$/.test(message))).toEqual([]);
            },
            TEST_TIMEOUT_MS,
        );
    }

    const settings: Record<Client, Record<string, unknown>> = {
        "sqlalchemy+asyncpg": { pgbouncer_without_prepared: true },
        "postgres.js": { pgbouncerWithoutPrepared: true },
        "node-postgres": { pgbouncerWithoutPrepared: true },
    };
    for (const scenario of SCENARIOS) {
        servers.test(
            `${scenario.client} with the URL as exported and the README's settings for such a PgBouncer: a restart and two processes at once, 0 errors`,
            async (stack) => {
                const alias = plan.pools.find((pool) => pool.service === scenario.service && pool.database === scenario.database)!.alias;
                const before = await preparedStats(stack, plan.pgbouncer.port, alias);
                const runs = await runScenario(stack, plan, { ...scenario, settings: { ...scenario.settings, ...settings[scenario.client] } }, "unkept");
                const after = await preparedStats(stack, plan.pgbouncer.port, alias);
                expectClean(runs, scenario);
                // This PgBouncer carried the transactions and passed the protocol through untouched.
                expect(after.transactions - before.transactions).toBeGreaterThanOrEqual(4 * CONNECTIONS * TRANSACTIONS);
                expect(after.clientParses - before.clientParses).toBe(0);
            },
            TEST_TIMEOUT_MS,
        );
    }
});
