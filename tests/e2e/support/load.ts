// Client load that counts what a service would notice: failed transactions, dropped
// connections, and the longest a client waited for one transaction (its stall).
import Redis from "ioredis";
import { Client } from "pg";

export interface LoadReport {
    clients: number;
    transactions: number;
    failures: number;
    /** The first few failure messages, for the test's message. */
    failureSamples: string[];
    /** Connections that ended or errored while the load ran (each client connects once). */
    disconnects: number;
    /** The longest single transaction, start to acknowledgement, in milliseconds. */
    longestStallMs: number;
}

const ACCOUNTS = 1000;

/** The TPC-B-like schema: created once through the direct (migration) URL. */
export async function createBankSchema(directUrl: string): Promise<void> {
    const client = new Client({ connectionString: directUrl });
    await client.connect();
    try {
        await client.query("CREATE TABLE IF NOT EXISTS e2e_accounts (id int PRIMARY KEY, balance bigint NOT NULL)");
        await client.query("CREATE TABLE IF NOT EXISTS e2e_history (id bigserial PRIMARY KEY, account int NOT NULL, delta int NOT NULL, at timestamptz NOT NULL DEFAULT now())");
        await client.query(`INSERT INTO e2e_accounts SELECT g, 0 FROM generate_series(1, ${ACCOUNTS}) g ON CONFLICT DO NOTHING`);
    } finally {
        await client.end();
    }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

abstract class Load {
    protected running = true;
    protected readonly loops: Array<Promise<void>> = [];
    protected report: LoadReport;

    constructor(clients: number) {
        this.report = { clients, transactions: 0, failures: 0, failureSamples: [], disconnects: 0, longestStallMs: 0 };
    }

    protected failed(error: unknown): void {
        this.report.failures++;
        if (this.report.failureSamples.length < 5) {
            this.report.failureSamples.push((error as Error).message);
        }
    }

    protected acknowledged(startedAt: number): void {
        this.report.transactions++;
        this.report.longestStallMs = Math.max(this.report.longestStallMs, Date.now() - startedAt);
    }

    /** The figures since the last call; the load goes on. */
    snapshot(): LoadReport {
        const report = { ...this.report, failureSamples: [...this.report.failureSamples] };
        this.report = { clients: report.clients, transactions: 0, failures: 0, failureSamples: [], disconnects: 0, longestStallMs: 0 };
        return report;
    }

    async stop(): Promise<LoadReport> {
        this.running = false;
        await Promise.all(this.loops);
        await this.close();
        return this.snapshot();
    }

    async stopIfRunning(): Promise<void> {
        if (this.running) {
            await this.stop();
        }
    }

    protected abstract close(): Promise<void>;
}

/**
 * `clients` connections through `url` (a pooled URL), each running TPC-B-like transactions
 * (update an account, read it, write history) in a loop with a short think time.
 */
export class PostgresLoad extends Load {
    private readonly connections: Client[] = [];

    static async start(url: string, clients: number): Promise<PostgresLoad> {
        const load = new PostgresLoad(clients);
        for (let i = 0; i < clients; i++) {
            const client = new Client({ connectionString: url, application_name: "e2e-load" });
            client.on("error", () => load.report.disconnects++);
            client.on("end", () => {
                if (load.running) {
                    load.report.disconnects++;
                }
            });
            await client.connect();
            load.connections.push(client);
        }
        for (const client of load.connections) {
            load.loops.push(load.loop(client));
        }
        return load;
    }

    private async loop(client: Client): Promise<void> {
        while (this.running) {
            const account = 1 + Math.floor(Math.random() * ACCOUNTS);
            const delta = Math.floor(Math.random() * 2000) - 1000;
            const startedAt = Date.now();
            try {
                await client.query("BEGIN");
                await client.query("UPDATE e2e_accounts SET balance = balance + $1 WHERE id = $2", [delta, account]);
                await client.query("SELECT balance FROM e2e_accounts WHERE id = $1", [account]);
                await client.query("INSERT INTO e2e_history (account, delta) VALUES ($1, $2)", [account, delta]);
                await client.query("COMMIT");
                this.acknowledged(startedAt);
            } catch (error) {
                this.failed(error);
                await client.query("ROLLBACK").catch(() => undefined);
                await sleep(200);
            }
            await sleep(10);
        }
    }

    protected async close(): Promise<void> {
        await Promise.all(this.connections.map((client) => client.end().catch(() => undefined)));
    }
}

/** `clients` Redis connections through `url`, each writing and reading its own key in a loop. */
export class RedisLoad extends Load {
    private readonly connections: Redis[] = [];

    static async start(url: string, clients: number, keyPrefix: string): Promise<RedisLoad> {
        const load = new RedisLoad(clients);
        for (let i = 0; i < clients; i++) {
            const client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
            client.on("reconnecting", () => load.report.disconnects++);
            await client.connect();
            load.connections.push(client);
        }
        load.connections.forEach((client, index) => load.loops.push(load.loop(client, `${keyPrefix}${index}`)));
        return load;
    }

    private async loop(client: Redis, key: string): Promise<void> {
        let counter = 0;
        while (this.running) {
            const startedAt = Date.now();
            try {
                counter++;
                await client.set(key, String(counter));
                if ((await client.get(key)) !== String(counter)) {
                    throw new Error(`${key} did not read back ${counter}`);
                }
                this.acknowledged(startedAt);
            } catch (error) {
                this.failed(error);
                await sleep(200);
            }
            await sleep(10);
        }
    }

    protected async close(): Promise<void> {
        for (const client of this.connections) {
            client.disconnect();
        }
    }
}
