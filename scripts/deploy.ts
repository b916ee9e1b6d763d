// npm run deploy  -- [stack] [pulumi up options...]       (stack: dev unless given)
// npm run preview -- [stack] [pulumi preview options...]  (with the policy pack, policy/)
//
// Deploys (or previews) a stack of this program with the Pulumi CLI:
//   - a `pulumi` on PATH is used as it is; a warning says so when its major version is not the
//     one package.json pins for @pulumi/pulumi;
//   - without one, the Automation API installs exactly that version (PulumiCommand.install, from
//     get.pulumi.com) into the user's Pulumi home, $PULUMI_HOME/versions/<version> (by default
//     ~/.pulumi/versions/<version>), and the run goes on with it; a later run finds it there;
//   - without a Docker engine it stops with one line, before anything is installed;
//   - state goes to file://$HOME/.zentoria/state ($ZENTORIA_STATE_DIR moves it) unless
//     PULUMI_BACKEND_URL says otherwise; secrets are encrypted with a passphrase, which the CLI
//     asks for or reads from PULUMI_CONFIG_PASSPHRASE(_FILE).
// The CLI runs with this terminal (stdin, stdout, stderr), so `pulumi up` shows its preview and
// asks before it changes anything, exactly as when typed by hand; options after the stack name
// go to it unchanged (`npm run deploy -- dev --yes`).
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as semver from "semver";
import { PulumiCommand } from "@pulumi/pulumi/automation";

export type Command = "up" | "preview";

export interface DeployOptions {
    /** The Pulumi project directory (Pulumi.yaml, Pulumi.<stack>.yaml, package.json). */
    projectDir: string;
    /** The environment the CLI and Docker are looked up in and run with. */
    env: NodeJS.ProcessEnv;
    /** Progress and problems, one line each (stderr). */
    log(line: string): void;
}

const NAME = { up: "deploy", preview: "preview" } as const;

export class DeployError extends Error {}

/** The @pulumi/pulumi version package.json pins: the CLI version to install. */
export function pinnedCliVersion(projectDir: string): string {
    const pkg = JSON.parse(fs.readFileSync(path.join(projectDir, "package.json"), "utf8"));
    const version = pkg.dependencies?.["@pulumi/pulumi"];
    if (!semver.valid(version)) {
        throw new DeployError(`package.json must pin @pulumi/pulumi to an exact version, not ${JSON.stringify(version)}`);
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

function dockerAnswers(env: NodeJS.ProcessEnv): boolean {
    const docker = onPath("docker", env);
    return docker !== undefined && spawnSync(docker, ["info"], { env, stdio: "ignore", timeout: 60_000 }).status === 0;
}

export interface Cli {
    command: string;
    version: string;
    installed: boolean;
}

/** The CLI on PATH, or the pinned version installed by the Automation API. */
export async function resolveCli(pinned: string, options: DeployOptions, name: string): Promise<Cli> {
    const { env, log } = options;
    const found = onPath("pulumi", env);
    if (found) {
        const result = spawnSync(found, ["version"], { env: { ...env, PULUMI_SKIP_UPDATE_CHECK: "true" }, encoding: "utf8", timeout: 60_000 });
        const version = semver.valid(semver.coerce(result.stdout?.trim() ?? "")) ?? "unknown";
        if (version === "unknown" || semver.major(version) !== semver.major(pinned)) {
            log(`${name}: warning: the Pulumi CLI on PATH (${found}) is version ${version}, but this project is written for ${pinned} (major version ${semver.major(pinned)}); going on with it`);
        }
        return { command: found, version, installed: false };
    }
    const home = env.PULUMI_HOME || path.join(env.HOME || os.homedir(), ".pulumi");
    const root = path.join(home, "versions", pinned);
    log(`${name}: no Pulumi CLI on PATH; installing v${pinned} (the version package.json pins) into ${root} with the Automation API, from get.pulumi.com ...`);
    let cli: PulumiCommand;
    try {
        cli = await PulumiCommand.install({ version: new semver.SemVer(pinned), root });
    } catch (error) {
        const reason = String((error as Error).message ?? error).split("\n").find((line) => line.trim() !== "") ?? "unknown error";
        throw new DeployError(`could not install the Pulumi CLI v${pinned} into ${root} (${reason.trim()}); install it yourself: https://www.pulumi.com/docs/install/`);
    }
    const version = cli.version?.version ?? pinned;
    log(`${name}: using the Pulumi CLI v${version} at ${cli.command}`);
    return { command: cli.command, version, installed: true };
}

/** Runs the CLI with this terminal; resolves to its exit code. */
function runCli(cli: Cli, args: string[], options: DeployOptions): Promise<number> {
    return new Promise((resolve, reject) => {
        const child = spawn(cli.command, args, { cwd: options.projectDir, env: options.env, stdio: "inherit" });
        child.on("error", reject);
        child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)));
    });
}

/** The whole command; resolves to the exit code. */
export async function main(command: Command, argv: string[], options: DeployOptions): Promise<number> {
    const name = NAME[command];
    try {
        return await run(command, argv, options);
    } catch (error) {
        if (error instanceof DeployError) {
            options.log(`${name}: ${error.message}`);
            return 1;
        }
        throw error;
    }
}

async function run(command: Command, argv: string[], options: DeployOptions): Promise<number> {
    const name = NAME[command];
    const { projectDir, log } = options;
    const env = { ...options.env };
    const [stack, ...args] = argv.length > 0 && !argv[0].startsWith("-") ? argv : ["dev", ...argv];

    if (!fs.existsSync(path.join(projectDir, `Pulumi.${stack}.yaml`))) {
        throw new DeployError(`there is no Pulumi.${stack}.yaml; see "Adding an environment" in README.md`);
    }
    if (!dockerAnswers(env)) {
        throw new DeployError("no Docker engine answers (is dockerd running, and may this user use it? `docker info` must work)");
    }
    const cli = await resolveCli(pinnedCliVersion(projectDir), { ...options, env }, name);
    // Language hosts and plugins that come with an installed CLI sit next to it.
    env.PATH = [path.dirname(cli.command), env.PATH].filter(Boolean).join(path.delimiter);
    env.PULUMI_SKIP_UPDATE_CHECK = env.PULUMI_SKIP_UPDATE_CHECK ?? "true";

    if (!env.PULUMI_BACKEND_URL) {
        const stateDir = env.ZENTORIA_STATE_DIR || path.join(env.HOME || os.homedir(), ".zentoria", "state");
        fs.mkdirSync(stateDir, { recursive: true });
        env.PULUMI_BACKEND_URL = `file://${stateDir}`;
    }
    log(`${name}: stack ${stack}, state in ${env.PULUMI_BACKEND_URL}, Pulumi CLI v${cli.version}`);

    const runOptions = { ...options, env };
    const selected = await runCli(cli, ["stack", "select", "--create", "--secrets-provider", "passphrase", stack], runOptions);
    if (selected !== 0) {
        return selected;
    }
    if (command === "up") {
        return runCli(cli, ["up", "--stack", stack, ...args], runOptions);
    }
    const policyConfig = path.join("policy", "config", `${stack}.json`);
    const config = fs.existsSync(path.join(projectDir, policyConfig)) ? ["--policy-pack-config", policyConfig] : [];
    return runCli(cli, ["preview", "--stack", stack, "--policy-pack", "policy", ...config, ...args], runOptions);
}

if (require.main === module) {
    const [command, ...argv] = process.argv.slice(2);
    if (command !== "up" && command !== "preview") {
        process.stderr.write("usage: ts-node scripts/deploy.ts up|preview [stack] [pulumi options...]\n");
        process.exit(2);
    }
    main(command, argv, { projectDir: path.resolve(__dirname, ".."), env: process.env, log: (line) => process.stderr.write(`${line}\n`) }).then(
        (code) => process.exit(code),
        (error) => {
            process.stderr.write(`${NAME[command]}: ${(error as Error).stack ?? error}\n`);
            process.exit(1);
        },
    );
}
