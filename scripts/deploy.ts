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
import { Cli, cliEnv, CliError, defaultStateDir, onPath, pinnedCliVersion, resolveCli } from "../ops/pulumiCli";

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

function dockerAnswers(env: NodeJS.ProcessEnv): boolean {
    const docker = onPath("docker", env);
    return docker !== undefined && spawnSync(docker, ["info"], { env, stdio: "ignore", timeout: 60_000 }).status === 0;
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
        if (error instanceof DeployError || error instanceof CliError) {
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
    const cli = await resolveCli(pinnedCliVersion(projectDir), env, log, name);
    if (!env.PULUMI_BACKEND_URL) {
        fs.mkdirSync(defaultStateDir(env), { recursive: true });
    }
    Object.assign(env, cliEnv(env, cli));
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
