// The Node services' PostgreSQL clients as they connect: postgres.js with postgres(<exported
// URL>) and its defaults (named prepared statements), node-postgres with a pg.Pool on the URL and
// queries that carry a statement `name`.
//
// Reads one JSON object on stdin (the URL carries a password: never an argument):
//   client                      "postgres.js" or "node-postgres"
//   url                         the exported postgresql:// URL, used verbatim
//   label                       written with every row, to count them afterwards
//   connections                 concurrent workers, and the client pool's size
//   transactions                transactions per worker
//   pgbouncerWithoutPrepared    optional: the README's settings for a PgBouncer that does not
//                               keep prepared statements (before 1.21, or 0)
// Prints one JSON report on stdout, as sqlalchemy_asyncpg.py does.
import pg from "pg";
import postgres from "postgres";

const INSERT = "insert into client_probe (client, label, n) values ($1, $2, $3)";
const COUNT = "select count(*)::int as count from client_probe where label = $1";
const WHO = "select pg_backend_pid() as pid, current_setting('application_name') as app, $1::int + 1 as next";

function readStdin() {
    return new Promise((resolve, reject) => {
        let text = "";
        process.stdin.setEncoding("utf8");
        process.stdin.on("data", (chunk) => (text += chunk));
        process.stdin.on("end", () => resolve(JSON.parse(text)));
        process.stdin.on("error", reject);
    });
}

function check(n, count, who) {
    if (who.next !== n + 1 || count < 1) {
        throw new Error(`wrong answer: ${JSON.stringify(who)}, count ${count}`);
    }
}

/** postgres.js as a service uses it: sql.begin() on its pool, one worker per connection. */
async function postgresJs(request, tally, pids, apps) {
    const sql = postgres(request.url, {
        max: request.connections,
        ...(request.pgbouncerWithoutPrepared ? { prepare: false } : {}),
        onnotice: () => undefined,
    });
    const worker = async () => {
        for (let n = 0; n < request.transactions; n++) {
            await tally.attempt(async () => {
                // Tagged templates: postgres.js prepares them as named statements by default.
                await sql.begin(async (tx) => {
                    await tx`insert into client_probe (client, label, n) values ('postgres.js', ${request.label}, ${n})`;
                    const [{ count }] = await tx`select count(*)::int as count from client_probe where label = ${request.label}`;
                    const [who] = await tx`select pg_backend_pid() as pid, current_setting('application_name') as app, ${n}::int + 1 as next`;
                    check(n, count, who);
                    pids.add(who.pid);
                    apps.add(who.app);
                });
            });
        }
    };
    try {
        await Promise.all(Array.from({ length: request.connections }, worker));
    } finally {
        await sql.end({ timeout: 30 });
    }
}

/** node-postgres: one pool client per worker; named statements unless told otherwise. */
async function nodePostgres(request, tally, pids, apps) {
    const pool = new pg.Pool({ connectionString: request.url, max: request.connections });
    pool.on("error", () => undefined);
    const query = (client, name, text, values) =>
        client.query(request.pgbouncerWithoutPrepared ? { text, values } : { name: `probe_${name}`, text, values });
    try {
        await Promise.all(
            Array.from({ length: request.connections }, async () => {
                const client = await pool.connect();
                let broken;
                try {
                    for (let n = 0; n < request.transactions; n++) {
                        await tally.attempt(async () => {
                            await client.query("begin");
                            try {
                                await query(client, "insert", INSERT, ["node-postgres", request.label, n]);
                                const { rows: [{ count }] } = await query(client, "count", COUNT, [request.label]);
                                const { rows: [who] } = await query(client, "who", WHO, [n]);
                                check(n, count, who);
                                await client.query("commit");
                                pids.add(who.pid);
                                apps.add(who.app);
                            } catch (error) {
                                await client.query("rollback").catch((rollbackError) => (broken = rollbackError));
                                throw error;
                            }
                        });
                    }
                } finally {
                    client.release(broken);
                }
            }),
        );
    } finally {
        await pool.end();
    }
}

function firstLine(error) {
    return String(error?.message ?? error).trim().split("\n")[0] || String(error);
}

async function main() {
    const request = await readStdin();
    const errors = {};
    const tally = {
        committed: 0,
        async attempt(body) {
            try {
                await body();
                tally.committed++;
            } catch (error) {
                const message = firstLine(error);
                errors[message] = (errors[message] ?? 0) + 1;
            }
        },
    };
    const pids = new Set();
    const apps = new Set();
    const run = { "postgres.js": postgresJs, "node-postgres": nodePostgres }[request.client];
    if (!run) {
        throw new Error(`unknown client ${request.client}`);
    }
    await run(request, tally, pids, apps);
    process.stdout.write(
        JSON.stringify({
            transactions: tally.committed,
            errors,
            backendPids: [...pids].sort((a, b) => a - b),
            applicationNames: [...apps].sort(),
        }),
    );
}

main().catch((error) => {
    process.stderr.write(`${error?.stack ?? error}\n`);
    process.exit(1);
});
