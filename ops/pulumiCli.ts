// The Pulumi CLI as every command of the project runs it: the version package.json pins, found on
// PATH or installed by the Automation API, and the state backend `npm run deploy` uses
// (PULUMI_BACKEND_URL, else file://$HOME/.zentoria/state, moved by $ZENTORIA_STATE_DIR).
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as semver from "semver";
import { PulumiCommand } from "@pulumi/pulumi/automation";

/** A CLI that cannot be found, installed or run as asked; the message is one line for the user. */
export class CliError extends Error {}

export interface Cli {
    command: string;
    version: string;
    installed: boolean;
}

export interface CliResult {
    code: number;
    stdout: string;
    stderr: string;
}

/** The @pulumi/pulumi version package.json pins: the CLI version to install. */
export function pinnedCliVersion(projectDir: string): string {
    const pkg = JSON.parse(fs.readFileSync(path.join(projectDir, "package.json"), "utf8"));
    const version = pkg.dependencies?.["@pulumi/pulumi"];
    if (!semver.valid(version)) {
        throw new CliError(`package.json must pin @pulumi/pulumi to an exact version, not ${JSON.stringify(version)}`);
    }
    return version;
}

/** The first executable `name` on the PATH of env, or undefined. */
export function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
    for (const dir of (env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
        const candidate = path.join(dir, name);
        try {
            fs.accessSync(candidate, fs.constants.X_OK);
            if (fs.statSync(candidate).isFile()) {
                return candidate;
            }
        } catch {
            // not here
        }
    }
    return undefined;
}

function pulumiHome(env: NodeJS.ProcessEnv): string {
    return env.PULUMI_HOME || path.join(env.HOME || os.homedir(), ".pulumi");
}

/** Where the Automation API installs (and later finds) the pinned CLI. */
export function installRoot(pinned: string, env: NodeJS.ProcessEnv): string {
    return path.join(pulumiHome(env), "versions", pinned);
}

/** The directory of the default local state backend. */
export function defaultStateDir(env: NodeJS.ProcessEnv): string {
    return env.ZENTORIA_STATE_DIR || path.join(env.HOME || os.homedir(), ".zentoria", "state");
}

/** The state backend the project's commands use: PULUMI_BACKEND_URL, else the local file backend. */
export function stateBackend(env: NodeJS.ProcessEnv): string {
    return env.PULUMI_BACKEND_URL || `file://${defaultStateDir(env)}`;
}

/** env for the CLI: the state backend made explicit, no update check, the CLI's own directory first on PATH. */
export function cliEnv(env: NodeJS.ProcessEnv, cli?: Cli): NodeJS.ProcessEnv {
    const result: NodeJS.ProcessEnv = { ...env, PULUMI_BACKEND_URL: stateBackend(env), PULUMI_SKIP_UPDATE_CHECK: env.PULUMI_SKIP_UPDATE_CHECK ?? "true" };
    if (cli) {
        // Language hosts and plugins that come with an installed CLI sit next to it.
        result.PATH = [path.dirname(cli.command), env.PATH].filter(Boolean).join(path.delimiter);
    }
    return result;
}

/** The CLI on PATH, or the pinned version installed by the Automation API (installing it when absent). */
export async function resolveCli(pinned: string, env: NodeJS.ProcessEnv, log: (line: string) => void, name: string): Promise<Cli> {
    const found = onPath("pulumi", env);
    if (found) {
        const result = spawnSync(found, ["version"], { env: { ...env, PULUMI_SKIP_UPDATE_CHECK: "true" }, encoding: "utf8", timeout: 60_000 });
        const version = semver.valid(semver.coerce(result.stdout?.trim() ?? "")) ?? "unknown";
        if (version === "unknown" || semver.major(version) !== semver.major(pinned)) {
            log(`${name}: warning: the Pulumi CLI on PATH (${found}) is version ${version}, but this project is written for ${pinned} (major version ${semver.major(pinned)}); going on with it`);
        }
        return { command: found, version, installed: false };
    }
    const root = installRoot(pinned, env);
    log(`${name}: no Pulumi CLI on PATH; installing v${pinned} (the version package.json pins) into ${root} with the Automation API, from get.pulumi.com ...`);
    let cli: PulumiCommand;
    try {
        cli = await PulumiCommand.install({ version: new semver.SemVer(pinned), root });
    } catch (error) {
        const reason = String((error as Error).message ?? error).split("\n").find((line) => line.trim() !== "") ?? "unknown error";
        throw new CliError(`could not install the Pulumi CLI v${pinned} into ${root} (${reason.trim()}); install it yourself: https://www.pulumi.com/docs/install/`);
    }
    const version = cli.version?.version ?? pinned;
    log(`${name}: using the Pulumi CLI v${version} at ${cli.command}`);
    return { command: cli.command, version, installed: true };
}

/** The CLI on PATH, or the one `npm run deploy` installed; never installs one. */
export function installedCli(projectDir: string, env: NodeJS.ProcessEnv): Cli {
    const found = onPath("pulumi", env);
    if (found) {
        return { command: found, version: "unknown", installed: false };
    }
    const pinned = pinnedCliVersion(projectDir);
    const installed = path.join(installRoot(pinned, env), "bin", "pulumi");
    if (fs.existsSync(installed)) {
        return { command: installed, version: pinned, installed: true };
    }
    throw new CliError("no Pulumi CLI: put `pulumi` on PATH, or run `npm run deploy` once (it installs the pinned version)");
}

/**
 * Runs the CLI in projectDir with cliEnv(env). Output is captured, or shown on this terminal with
 * `passthrough`; stdin is never the terminal, so the CLI says which variable to set instead of
 * stopping to ask for the passphrase.
 */
export function runCli(cli: Cli, args: readonly string[], projectDir: string, env: NodeJS.ProcessEnv, passthrough = false): Promise<CliResult> {
    return new Promise((resolve, reject) => {
        const output = passthrough ? "inherit" : "pipe";
        const child = spawn(cli.command, [...args], { cwd: projectDir, env: cliEnv(env, cli), stdio: ["ignore", output, output] });
        let stdout = "";
        let stderr = "";
        child.stdout?.on("data", (chunk) => (stdout += chunk));
        child.stderr?.on("data", (chunk) => (stderr += chunk));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
}
