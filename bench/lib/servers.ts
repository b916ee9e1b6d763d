// The integration tests' servers (tests/integration/support/stack.ts), used as they are, plus
// what the benchmark does to them that the harness does not: `pg_ctl restart` (the restarted
// postmaster is no longer the harness' child, so it is stopped here) and Redis restarts (the new
// process is a harness ServerProcess this wrapper stops). Nothing is left running on any exit path.
import { ChildProcess } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Client } from "pg";
import { renderPgbouncerIni } from "../../render/pgbouncer";
import { BINARIES, requireBinary } from "../../tests/integration/support/binaries";
import { connectPg, redisClient } from "../../tests/integration/support/clients";
import { startPgbouncerContainer } from "../../tests/integration/support/images";
import { devPlan, LOOPBACK, testLayout } from "../../tests/integration/support/plan";
import { freePorts } from "../../tests/integration/support/ports";
import { run, ServerProcess, waitUntil } from "../../tests/integration/support/processes";
import { Stack, stopSignal } from "../../tests/integration/support/stack";
import { PG_CTL } from "./machine";

/** Child processes the benchmark spawned (pgbench); killed on any exit. */
const children = new Set<ChildProcess>();

export function track(child: ChildProcess): void {
    children.add(child);
    child.once("exit", () => children.delete(child));
}

export function killChildren(): void {
    for (const child of children) {
        child.kill("SIGKILL");
    }
}

export class BenchServers {
    /** Servers this wrapper started in place of the harness' (Redis after a restart). */
    private readonly extra: ServerProcess[] = [];
    /** Process group of a postmaster started by pg_ctl (after a restart), if one runs. */
    private adoptedPostmaster?: number;
    private restarts = 0;
    private stopped = false;

    private constructor(readonly stack: Stack) {
        process.once("exit", () => {
            // Last resort (the orderly stop did not run): nothing may outlive the benchmark.
            killChildren();
            if (this.adoptedPostmaster !== undefined) {
                try {
                    process.kill(-this.adoptedPostmaster, "SIGKILL");
                } catch {
                    // Gone already.
                }
            }
        });
    }

    /** PostgreSQL, PgBouncer and Redis on the dev plan's rendered files (the integration tests' harness). */
    static async start(): Promise<BenchServers> {
        requireBinary({ path: PG_CTL, debianPackage: "postgresql-15" });
        const stack = await Stack.create({ postgres: true, pgbouncer: true, redis: true });
        const servers = new BenchServers(stack);
        try {
            await stack.start();
        } catch (error) {
            await servers.stop(true);
            throw new Error(`${(error as Error).message}\n${stack.logTails()}`);
        }
        return servers;
    }

    /** Roots of processes that are ours without being our descendants (a postmaster pg_ctl started). */
    get detachedRoots(): number[] {
        return this.adoptedPostmaster === undefined ? [] : [this.adoptedPostmaster];
    }

    get plan() {
        return this.stack.plan;
    }

    superuser(database = "postgres"): Promise<Client> {
        return this.stack.superuser(database);
    }

    adminConsole(): Promise<Client> {
        return connectPg(this.stack.adminConsoleConfig());
    }

    private logFile(name: string): string {
        const file = path.join(this.stack.logDir, `${name}.log`);
        fs.writeFileSync(file, "", { flag: "a" });
        if (this.stack.owner) {
            fs.chownSync(file, this.stack.owner.uid, this.stack.owner.gid);
        }
        return file;
    }

    /** `pg_ctl restart -m fast` on the running cluster; resolves when PostgreSQL accepts connections again. */
    async restartPostgres(): Promise<{ ms: number; code: number | null; output: string }> {
        this.restarts++;
        const log = this.logFile(`postgresql-after-restart-${this.restarts}`);
        const started = Date.now();
        const result = await run(PG_CTL, ["restart", "-m", "fast", "-w", "-t", "60", "-D", this.stack.postgresDataDir, "-l", log], {
            asServerUser: true,
            timeoutMs: 120_000,
        });
        const ms = Date.now() - started;
        this.adoptPostmaster();
        return { ms, code: result.code, output: (result.stdout + result.stderr).trim() };
    }

    /** The postmaster pg_ctl started leads its own session (setsid): remember its group for cleanup. */
    private adoptPostmaster(): void {
        try {
            const pid = Number(fs.readFileSync(path.join(this.stack.postgresDataDir, "postmaster.pid"), "utf8").split("\n")[0]);
            if (Number.isInteger(pid) && pid > 0) {
                this.adoptedPostmaster = pid;
            }
        } catch {
            // No pid file: the restart failed; the caller sees pg_ctl's exit code.
        }
    }

    /** Stops Redis (SIGTERM: orderly, AOF flushed; SIGKILL: a crash), starts it again on the same files, waits until it answers. */
    async restartRedis(signal: "SIGTERM" | "SIGKILL"): Promise<{ stopMs: number; readyMs: number; log: string }> {
        const current = this.extra.filter((server) => server.name.startsWith("redis")).pop() ?? this.stack.server("redis");
        const stopStarted = Date.now();
        if (signal === "SIGKILL") {
            current.killGroup("SIGKILL");
        }
        await current.stop("SIGTERM");
        const stopMs = Date.now() - stopStarted;
        const log = this.logFile(`redis-restart-${this.extra.length + 1}`);
        const started = Date.now();
        const server = ServerProcess.start(`redis-restart-${this.extra.length + 1}`, requireBinary(BINARIES.redisServer), [this.stack.layout.redis.configFile], log);
        this.extra.push(server);
        await waitUntil(
            server,
            "Redis after restart",
            async () => {
                const client = redisClient(
                    { host: LOOPBACK, port: this.plan.redis.port, username: "healthcheck", password: this.stack.credentials.redis.healthcheck },
                    { enableReadyCheck: false },
                );
                try {
                    await client.connect();
                    return (await client.ping()) === "PONG";
                } finally {
                    client.disconnect();
                }
            },
            60_000,
        );
        return { stopMs, readyMs: Date.now() - started, log };
    }

    /**
     * A second PgBouncer on its own port: the program's rendering of the same plan (only the port
     * and file paths differ) with `settings` appended to its [pgbouncer] section, the same userlist.
     * For experiments only: what a setting the program does not render would change.
     */
    async startPgbouncerVariant(name: string, settings: Record<string, string>): Promise<{ port: number; server: ServerProcess }> {
        const [port] = await freePorts(1);
        const { plan } = devPlan({ ...this.stack.ports, pgbouncer: port });
        const dir = path.join(this.stack.dir, name);
        const layout = testLayout(this.stack.dir, dir);
        fs.mkdirSync(dir, { mode: 0o700 });
        const rendered = renderPgbouncerIni(plan, layout);
        if (!/\[pgbouncer\]\n[^[]*$/.test(rendered)) {
            throw new Error("the rendered pgbouncer.ini does not end with its [pgbouncer] section");
        }
        const extra = Object.entries(settings).map(([key, value]) => `${key} = ${value}`);
        const files: Array<[string, string]> = [
            [layout.pgbouncer.configFile, `${rendered.trimEnd()}\n; bench experiment, not rendered by the program:\n${extra.join("\n")}\n`],
            [layout.pgbouncer.userlistFile, fs.readFileSync(this.stack.layout.pgbouncer.userlistFile, "utf8")],
        ];
        for (const [file, content] of files) {
            fs.writeFileSync(file, content, { mode: 0o600 });
        }
        for (const target of [dir, ...files.map(([file]) => file)]) {
            if (this.stack.owner) {
                fs.chownSync(target, this.stack.owner.uid, this.stack.owner.gid);
            }
        }
        const server = startPgbouncerContainer(name, layout.pgbouncer, this.logFile(name), {
            nofile: plan.pgbouncer.fileDescriptorLimit,
            owner: this.stack.owner,
        });
        this.extra.push(server);
        await waitUntil(
            server,
            `PgBouncer ${name}`,
            async () => {
                const client = await connectPg(this.stack.adminConsoleConfig(port));
                await client.end();
                return true;
            },
            120_000,
        );
        return { port, server };
    }

    /** Stops everything this run started; the harness removes its directory unless `keep`. */
    async stop(keep: boolean): Promise<void> {
        if (this.stopped) {
            return;
        }
        this.stopped = true;
        killChildren();
        for (const server of this.extra.reverse()) {
            await server.stop(stopSignal(server));
        }
        if (this.adoptedPostmaster !== undefined) {
            // PgBouncer first, as the harness does, then the postmaster pg_ctl started.
            await this.stack.server("pgbouncer").stop("SIGINT");
            const result = await run(PG_CTL, ["stop", "-m", "fast", "-w", "-t", "60", "-D", this.stack.postgresDataDir], { asServerUser: true, timeoutMs: 90_000 }).catch(
                (error: Error) => ({ code: -1, stdout: "", stderr: error.message }),
            );
            if (result.code !== 0) {
                try {
                    process.kill(-this.adoptedPostmaster, "SIGKILL");
                } catch {
                    // Gone already.
                }
            }
            this.adoptedPostmaster = undefined;
        }
        await this.stack.stop(keep);
    }
}
