// Server processes: started unprivileged in their own process group, output captured in a
// log file, stopped gracefully with a SIGKILL of the whole group as the fallback. Whatever is
// still running when the test process exits is killed too, so nothing leaks. A server can also
// be a container (`docker run --rm --name <unique>` in the foreground, as PgBouncer runs from its
// stand-in image): then the signals go to the container (`docker kill --signal`), and the
// fallback also removes it (`docker rm -f`), since killing the docker client leaves it running.
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import { BINARIES, requireBinary } from "./binaries";

/** The OS user PostgreSQL and PgBouncer run as (both refuse to run as root). */
export const SERVER_USER = "postgres";

export interface OsUser {
    uid: number;
    gid: number;
}

/** uid/gid of SERVER_USER, read from /etc/passwd. */
export function serverUser(): OsUser {
    const line = fs
        .readFileSync("/etc/passwd", "utf8")
        .split("\n")
        .find((entry) => entry.startsWith(`${SERVER_USER}:`));
    if (!line) {
        throw new Error(`no OS user ${SERVER_USER}: the Debian package postgresql-15 creates it`);
    }
    const [, , uid, gid] = line.split(":");
    return { uid: Number(uid), gid: Number(gid) };
}

const isRoot = () => process.getuid?.() === 0;

/** The command line that runs `command` as SERVER_USER (when we are root) with an optional descriptor limit. */
export function unprivileged(command: string, args: readonly string[], nofile?: number): [string, string[]] {
    let argv = [command, ...args];
    if (isRoot()) {
        argv = [requireBinary(BINARIES.setpriv), `--reuid=${SERVER_USER}`, `--regid=${SERVER_USER}`, "--init-groups", "--", ...argv];
    }
    if (nofile !== undefined) {
        argv = [requireBinary(BINARIES.prlimit), `--nofile=${nofile}:${nofile}`, "--", ...argv];
    }
    return [argv[0], argv.slice(1)];
}

/** A clean environment: no PG* or REDIS* variables from the caller leak into the servers. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", TZ: "UTC", ...extra };
}

/** The docker client's environment: clean, plus what selects the engine and its config. */
export function dockerEnv(): NodeJS.ProcessEnv {
    const env = cleanEnv();
    for (const name of ["HOME", "DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"]) {
        const value = process.env[name];
        if (value !== undefined) {
            env[name] = value;
        }
    }
    return env;
}

/** `docker <args>` to completion, synchronously (also usable in an exit handler); never throws. */
export function dockerSync(args: readonly string[], timeoutMs = 60_000): { ok: boolean; output: string } {
    try {
        const output = execFileSync(BINARIES.docker.path, args, { env: dockerEnv(), encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
        return { ok: true, output };
    } catch (error) {
        const failure = error as { stderr?: string; message: string };
        return { ok: false, output: failure.stderr || failure.message };
    }
}

const live = new Set<ServerProcess>();

process.once("exit", () => {
    for (const server of live) {
        server.killGroup("SIGKILL");
    }
});

export interface ExitStatus {
    code: number | null;
    signal: NodeJS.Signals | null;
}

export function tailOf(file: string, lines = 40): string {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (error) {
        return `(no log: ${(error as Error).message})`;
    }
    return text.trimEnd().split("\n").slice(-lines).join("\n");
}

export class ServerProcess {
    readonly exited: Promise<ExitStatus>;
    private status?: ExitStatus;

    private constructor(
        readonly name: string,
        readonly logFile: string,
        private readonly child: ChildProcess,
        /** The container's name when the server runs in one (`docker run --rm --name`). */
        readonly container?: string,
    ) {
        live.add(this);
        this.exited = new Promise((resolve) => {
            child.once("exit", (code, signal) => {
                this.status = { code, signal };
                resolve(this.status);
            });
            child.once("error", (error) => {
                fs.appendFileSync(logFile, `\n[harness] spawn failed: ${error.message}\n`);
                this.status = { code: -1, signal: null };
                resolve(this.status);
            });
        });
    }

    /** Starts `command` unprivileged, stdout and stderr appended to `logFile`. */
    static start(name: string, command: string, args: readonly string[], logFile: string, options: { nofile?: number; cwd?: string } = {}): ServerProcess {
        const [file, argv] = unprivileged(command, args, options.nofile);
        const fd = fs.openSync(logFile, "a", 0o644);
        try {
            fs.writeSync(fd, `[harness] ${[file, ...argv].join(" ")}\n`);
            // detached: a process group of its own, so that the fallback kill reaches every child.
            const child = spawn(file, argv, { stdio: ["ignore", fd, fd], detached: true, env: cleanEnv(), cwd: options.cwd });
            return new ServerProcess(name, logFile, child);
        } finally {
            fs.closeSync(fd);
        }
    }

    /**
     * Runs `docker run --rm --name <container> <dockerArgs> <image> <args>` in the foreground (the
     * docker client as root, the container as whatever `dockerArgs` say), output appended to
     * `logFile`. The container is removed when it exits, when `stop` gives up on it, and when the
     * test process exits with it still running.
     */
    static startContainer(name: string, container: string, dockerArgs: readonly string[], image: string, args: readonly string[], logFile: string): ServerProcess {
        const docker = requireBinary(BINARIES.docker);
        const argv = ["run", "--rm", "--name", container, ...dockerArgs, image, ...args];
        const fd = fs.openSync(logFile, "a", 0o644);
        try {
            fs.writeSync(fd, `[harness] ${[docker, ...argv].join(" ")}\n`);
            const child = spawn(docker, argv, { stdio: ["ignore", fd, fd], detached: true, env: dockerEnv() });
            return new ServerProcess(name, logFile, child, container);
        } finally {
            fs.closeSync(fd);
        }
    }

    get pid(): number {
        if (this.child.pid === undefined) {
            throw new Error(`${this.name} has no pid (spawn failed; see ${this.logFile})`);
        }
        return this.child.pid;
    }

    get running(): boolean {
        return this.status === undefined;
    }

    /** Why the process is not running, for readiness errors. */
    describeExit(): string {
        return this.status ? `${this.name} exited (code ${this.status.code}, signal ${this.status.signal})` : `${this.name} is running`;
    }

    tail(lines = 40): string {
        return `--- ${this.name}: last lines of ${this.logFile} ---\n${tailOf(this.logFile, lines)}`;
    }

    killGroup(signal: NodeJS.Signals): void {
        if (this.container && signal === "SIGKILL") {
            // Killing the docker client leaves the container running: remove it first.
            this.removeContainer();
        }
        if (this.child.pid === undefined) {
            return;
        }
        try {
            process.kill(-this.child.pid, signal);
        } catch {
            // The group is gone already.
        }
    }

    /** `docker rm -f` of the server's container (a no-op when it is gone). */
    private removeContainer(): void {
        if (this.container) {
            dockerSync(["rm", "-f", this.container], 30_000);
        }
    }

    /** Sends `signal` to the server: to its process, or to the process in its container. */
    private signal(signal: NodeJS.Signals): void {
        if (this.container) {
            const result = dockerSync(["kill", `--signal=${signal}`, this.container], 30_000);
            if (!result.ok && this.running) {
                fs.appendFileSync(this.logFile, `\n[harness] docker kill --signal=${signal} ${this.container} failed: ${result.output.trim()}\n`);
            }
            return;
        }
        try {
            process.kill(this.pid, signal);
        } catch {
            // Exited meanwhile.
        }
    }

    private groupAlive(): boolean {
        if (this.child.pid === undefined) {
            return false;
        }
        try {
            process.kill(-this.child.pid, 0);
            return true;
        } catch {
            return false;
        }
    }

    /** Sends `signal` to the server, waits for it and its children, then SIGKILLs what is left. */
    async stop(signal: NodeJS.Signals, timeoutMs = 15_000): Promise<ExitStatus | undefined> {
        if (this.running) {
            this.signal(signal);
            let timer: NodeJS.Timeout | undefined;
            const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
            const outcome = await Promise.race([this.exited, timeout]);
            clearTimeout(timer);
            if (outcome === undefined) {
                fs.appendFileSync(this.logFile, `\n[harness] no exit ${timeoutMs} ms after ${signal}: SIGKILL\n`);
                this.killGroup("SIGKILL");
                await this.exited;
            }
        }
        // Children (PostgreSQL backends) may outlive the leader for a moment.
        for (let attempt = 0; attempt < 50 && this.groupAlive(); attempt++) {
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
        if (this.groupAlive()) {
            this.killGroup("SIGKILL");
        }
        if (this.container && dockerSync(["inspect", "--format", "{{.State.Status}}", this.container]).ok) {
            // `--rm` removes it once it stops; one still there did not stop.
            fs.appendFileSync(this.logFile, `\n[harness] container ${this.container} still there after the stop: docker rm -f\n`);
            this.removeContainer();
        }
        live.delete(this);
        return this.status;
    }
}

export interface CommandResult {
    code: number | null;
    stdout: string;
    stderr: string;
}

/** Runs a short command to completion; `asServerUser` drops root like the servers do. */
export function run(
    command: string,
    args: readonly string[],
    options: { asServerUser?: boolean; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CommandResult> {
    const [file, argv] = options.asServerUser ? unprivileged(command, args) : [command, [...args]];
    return new Promise((resolve, reject) => {
        const child = spawn(file, argv, { stdio: ["ignore", "pipe", "pipe"], env: cleanEnv(options.env) });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk) => (stdout += chunk));
        child.stderr.on("data", (chunk) => (stderr += chunk));
        const timer = setTimeout(() => {
            child.kill("SIGKILL");
            reject(new Error(`${command} did not finish within ${options.timeoutMs} ms\n${stderr}`));
        }, options.timeoutMs ?? 60_000);
        child.once("error", (error) => {
            clearTimeout(timer);
            reject(error);
        });
        child.once("close", (code) => {
            clearTimeout(timer);
            resolve({ code, stdout, stderr });
        });
    });
}

/** Polls `probe` until it returns true; fails early when `server` exits, with its log tail. */
export async function waitUntil(server: ServerProcess, what: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError = "";
    while (Date.now() < deadline) {
        if (!server.running) {
            throw new Error(`${what}: ${server.describeExit()} before it was ready\n${server.tail()}`);
        }
        try {
            if (await probe()) {
                return;
            }
        } catch (error) {
            lastError = (error as Error).message;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${what}: not ready after ${timeoutMs} ms (last error: ${lastError})\n${server.tail()}`);
}
