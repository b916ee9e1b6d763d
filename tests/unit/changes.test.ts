// Issue 13, under mocks: for each kind of change a user makes to a running stack, which
// resources change and how the program applies it (reload, restart in the same container,
// replace). README's "Changing a running stack" table is generated from this and checked here.
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "./support/config";
import { ConfigChange, describeEffect, effectOf } from "./support/changes";
import { stackConfigValues } from "./support/program";

jest.setTimeout(10 * 60 * 1000);

const CHANGES: ConfigChange[] = [
    { name: "a pool's size", keys: "`services.<name>.pools.<database>.poolSize`", values: { "zentoria:services": { backend: { pools: { zentoria_main: { poolSize: 25 } } } } } },
    { name: "PgBouncer limits and timeouts", keys: "`pgbouncer.maxClientConn`, `reservePoolSize`, `reservePoolTimeoutSeconds`, ...", values: { "zentoria:pgbouncer": { reservePoolTimeoutSeconds: 3 } } },
    { name: "a new service's pool", keys: "`services.<name>.pools.<database>`", values: { "zentoria:services": { reports: { role: "n8n_app", driver: "libpq", sslmode: "disable", pools: { zentoria_main: { alias: "reports", env: "REPORTS_DATABASE_URL", format: "url", poolSize: 1, maxClientConnections: 4 } } } } } },
    { name: "a reloadable PostgreSQL setting", keys: "`postgres.settings.work_mem` (context `user`, `sighup`, ...)", values: { "zentoria:postgres": { settings: { work_mem: "8MB" } } } },
    { name: "the query and idle timeouts", keys: "`timeouts.querySeconds`, `timeouts.idleSeconds`", values: { "zentoria:timeouts": { querySeconds: 40, idleSeconds: 90 } } },
    { name: "a role's CONNECTION LIMIT", keys: "`roles.<name>.connectionLimit`", values: { "zentoria:roles": { zentoria_app: { connectionLimit: 100 } } } },
    { name: "a role's password", keys: "`roles.<name>.rotation`", values: { "zentoria:roles": { zentoria_app: { rotation: 1 } } } },
    { name: "a restart-only PostgreSQL setting", keys: "`postgres.sharedBuffers`, `postgres.maxConnections`, settings of context `postmaster`", values: { "zentoria:postgres": { sharedBuffers: "192MB" } } },
    { name: "Redis limits and persistence", keys: "`redis.maxclients`, `maxmemory`, `maxmemoryPolicy`, `appendonly`, `tcpKeepaliveSeconds`", values: { "zentoria:redis": { maxclients: 1200 } } },
    { name: "a Redis client's access", keys: "`redis.clients.<name>.keyPatterns`, `access`, ...", values: { "zentoria:redis": { clients: { cache: { keyPatterns: ["cache:*"] } } } } },
    { name: "Redis' number of databases", keys: "`redis.databases`", values: { "zentoria:redis": { databases: 32 } } },
    { name: "Qdrant's API keys", keys: "`credentials.qdrantApiKey`", values: { "zentoria:credentials": { qdrantApiKey: "a-new-key-of-some-length" } }, secretKeys: ["zentoria:credentials"] },
    { name: "the backup schedule and retention", keys: "`backups.intervalHours`, `keepBaseBackups`, `archiveTimeoutSeconds`", values: { "zentoria:backups": { intervalHours: 12, keepBaseBackups: 14, archiveTimeoutSeconds: 120 } } },
    { name: "an image", keys: "`pgbouncer.image` (likewise `postgres.image` within a major version, `redis.image`, `qdrant.image`)", values: { "zentoria:pgbouncer": { image: "ghcr.io/cloudnative-pg/pgbouncer:1.25.3" } } },
    { name: "a published port", keys: "`pgbouncer.hostPort` (likewise every `hostPort` and `port`)", values: { "zentoria:pgbouncer": { hostPort: 16432 } } },
    { name: "a client-side setting", keys: "`qdrant.httpMaxSockets`, `services.<name>.pools.<database>.maxClientConnections`, `sslmode`", values: { "zentoria:qdrant": { httpMaxSockets: 60 } } },
];

const BEGIN = "<!-- changes: generated from the program by tests/unit/changes.test.ts; do not edit by hand -->";
const END = "<!-- changes end -->";

const actions = new Map<string, string>();

describe.each(CHANGES)("$name", (change) => {
    test("changes only what the table says, and no container unless Docker must", async () => {
        const effect = await effectOf(stackConfigValues("dev"), change);
        actions.set(change.name, describeEffect(effect));
        // A change that a server can apply while running never touches a container.
        if (!/image|port/i.test(change.name)) {
            expect({ change: change.name, replaced: effect.replaced }).toEqual({ change: change.name, replaced: [] });
        }
    });
});

test("the expected actions, kind by kind", () => {
    const action = (name: string) => actions.get(name);
    expect(action("a pool's size")).toBe("PgBouncer RELOAD");
    expect(action("a reloadable PostgreSQL setting")).toBe("PostgreSQL reload");
    expect(action("a role's CONNECTION LIMIT")).toBe("restarts PostgreSQL behind PgBouncer's PAUSE; PgBouncer RELOAD; updates `zentoria-schema-role-zentoria_app`");
    expect(action("a role's password")).toBe("PgBouncer RELOAD; a new password");
    expect(action("a restart-only PostgreSQL setting")).toBe("restarts PostgreSQL behind PgBouncer's PAUSE");
    expect(action("Redis limits and persistence")).toBe("Redis CONFIG SET / ACL LOAD");
    expect(action("Redis' number of databases")).toBe("restarts Redis (same container)");
    expect(action("an image")).toBe("replaces `zentoria-pgbouncer`");
    expect(action("a client-side setting")).toBe("nothing on the servers (client settings in `.env` only)");
});

test("README's table is the one the program gives", () => {
    const table = ["| change | keys | what `pulumi up` does |", "| --- | --- | --- |", ...CHANGES.map((change) => `| ${change.name} | ${change.keys} | ${actions.get(change.name)} |`)].join("\n");
    const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
    const start = readme.indexOf(BEGIN);
    const end = readme.indexOf(END);
    const block = start < 0 || end < start ? undefined : readme.slice(start + BEGIN.length, end).trim();
    if (block !== table) {
        throw new Error(`README.md: the table between\n${BEGIN}\nand\n${END}\nmust be:\n\n${table}\n`);
    }
});
