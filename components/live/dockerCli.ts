// The Docker CLI, as the live-change resources use it. The CLI (not a socket path) so that a
// remote engine works the same way as a local one: DOCKER_HOST=ssh://..., tcp://... or a
// context. Secrets only ever travel on stdin: never in an argument or an environment variable
// of the docker command itself.
//
// Everything here runs inside Pulumi's dynamic provider process, which receives these
// functions serialized: module-level state other than imported modules is not allowed.
import * as childProcess from "child_process";

export interface DockerOptions {
    /** DOCKER_HOST for the CLI; unset: the CLI's own default (environment, context). */
    dockerHost?: string;
    /** Written to the command's stdin, then stdin is closed. */
    input?: string;
    timeoutMs?: number;
}

export interface DockerResult {
    code: number;
    stdout: string;
    stderr: string;
}

export function docker(args: readonly string[], options: DockerOptions = {}): Promise<DockerResult> {
    const env = { ...process.env };
    if (options.dockerHost) {
        env.DOCKER_HOST = options.dockerHost;
    }
    return new Promise((resolve, reject) => {
        const child = childProcess.spawn("docker", [...args], { env, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk) => (stdout += chunk));
        child.stderr.on("data", (chunk) => (stderr += chunk));
        const timeoutMs = options.timeoutMs ?? 120_000;
        const timer = setTimeout(() => {
            child.kill("SIGKILL");
            reject(new Error(`docker ${args[0]} did not finish within ${timeoutMs / 1000} s`));
        }, timeoutMs);
        child.once("error", (error) => {
            clearTimeout(timer);
            reject(new Error(`cannot run the Docker CLI (is it installed and on PATH?): ${error.message}`));
        });
        child.once("close", (code) => {
            clearTimeout(timer);
            resolve({ code: code ?? -1, stdout, stderr });
        });
        child.stdin.on("error", () => undefined);
        child.stdin.end(options.input ?? "");
    });
}

/** Runs docker and fails with its stderr (never its stdin) when it exits non-zero. */
export async function dockerChecked(what: string, args: readonly string[], options: DockerOptions = {}): Promise<string> {
    const result = await docker(args, options);
    if (result.code !== 0) {
        throw new Error(`${what} failed (docker ${args[0]}, exit ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`);
    }
    return result.stdout;
}

export type ContainerState = "missing" | "running" | "stopped";

export async function containerState(name: string, dockerHost?: string): Promise<ContainerState> {
    const result = await docker(["container", "inspect", "--format", "{{.State.Running}}", name], { dockerHost, timeoutMs: 30_000 });
    if (result.code !== 0) {
        return "missing";
    }
    return result.stdout.trim() === "true" ? "running" : "stopped";
}

export async function containerHealth(name: string, dockerHost?: string): Promise<string> {
    const result = await docker(["container", "inspect", "--format", "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}", name], {
        dockerHost,
        timeoutMs: 30_000,
    });
    return result.code === 0 ? result.stdout.trim() : "missing";
}

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` every 250 ms until it is true; fails after `timeoutMs` saying what it waited for. */
export async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError = "";
    while (Date.now() < deadline) {
        try {
            if (await probe()) {
                return;
            }
        } catch (error) {
            lastError = (error as Error).message;
        }
        await sleep(250);
    }
    throw new Error(`${what}: not reached within ${Math.round(timeoutMs / 1000)} s${lastError ? ` (last error: ${lastError})` : ""}`);
}

/**
 * `docker exec -i` of `argv` with one secret made available to it as an environment variable
 * of the executed process only: a tiny shell reads the first line of stdin into `secretVariable`
 * and execs the command; the rest of stdin (`input`) reaches the command.
 */
export function execWithSecret(
    container: string,
    secretVariable: string,
    secret: string,
    argv: readonly string[],
    options: { dockerHost?: string; user?: string; input?: string; timeoutMs?: number } = {},
): Promise<DockerResult> {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(secretVariable)) {
        throw new Error(`not a variable name: ${secretVariable}`);
    }
    if (/[\r\n]/.test(secret)) {
        throw new Error("a secret passed on stdin must be one line");
    }
    const script = `IFS= read -r ${secretVariable} && export ${secretVariable} && exec "$@"`;
    const userArgs = options.user ? ["--user", options.user] : [];
    return docker(["exec", "-i", ...userArgs, container, "sh", "-c", script, "sh", ...argv], {
        dockerHost: options.dockerHost,
        input: `${secret}\n${options.input ?? ""}`,
        timeoutMs: options.timeoutMs,
    });
}
