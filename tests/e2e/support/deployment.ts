// A real deployment of the program for an e2e test: a throw-away copy of the project, its own
// stack file and file-backend state, `pulumi up`/preview/destroy through the Automation API, and
// cleanup of every container and volume whatever happens.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { randomBytes } from "crypto";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { copyProject, docker, readStackConfig, requireTools, writeStackConfig } from "./project";

export interface ConnectionStrings {
    postgres: Record<string, Record<string, { pooled: string; direct: string }>>;
    redis: Record<string, string>;
    qdrant?: { url: string; grpcPort: number; apiKey: string; readOnlyApiKey: string };
    pgbouncerAdmin: string;
    [operator: string]: unknown;
}

export class Deployment {
    readonly project: string;
    readonly stateDir: string;
    readonly configFile: string;
    readonly timings: Record<string, number> = {};
    private stackHandle?: Stack;

    private constructor(
        readonly prefix: string,
        baseConfig: Record<string, unknown>,
    ) {
        this.project = copyProject();
        this.stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "zentoria-e2e-state-"));
        this.configFile = path.join(this.project, "Pulumi.e2e.yaml");
        writeStackConfig(this.configFile, { config: { "zentoria:prefix": prefix, ...baseConfig } });
    }

    /** A new stack (not deployed yet) with `config` as its `zentoria:*` keys. */
    static async create(prefix: string, config: Record<string, unknown>): Promise<Deployment> {
        requireTools();
        const deployment = new Deployment(prefix, config);
        const pulumiCommand = await PulumiCommand.get({ skipVersionCheck: true });
        deployment.stackHandle = await LocalWorkspace.createStack(
            { stackName: "e2e", workDir: deployment.project },
            {
                pulumiCommand,
                secretsProvider: "passphrase",
                envVars: {
                    PULUMI_BACKEND_URL: `file://${deployment.stateDir}`,
                    PULUMI_CONFIG_PASSPHRASE: randomBytes(16).toString("hex"),
                    PULUMI_SKIP_UPDATE_CHECK: "true",
                },
            },
        );
        return deployment;
    }

    get stack(): Stack {
        if (!this.stackHandle) {
            throw new Error("the deployment has no stack");
        }
        return this.stackHandle;
    }

    config(): Record<string, any> {
        return readStackConfig(this.configFile).config;
    }

    /** Changes the stack file's `zentoria:*` config (the next up/preview reads it). */
    editConfig(edit: (config: Record<string, any>) => void): void {
        const document = readStackConfig(this.configFile);
        edit(document.config);
        writeStackConfig(this.configFile, document);
    }

    async timed<T>(name: string, action: () => Promise<T>): Promise<T> {
        const start = process.hrtime.bigint();
        try {
            return await action();
        } finally {
            this.timings[name] = Number(process.hrtime.bigint() - start) / 1e9;
        }
    }

    async up(timing?: string) {
        const run = () => this.stack.up({ configFile: this.configFile });
        const result = timing ? await this.timed(timing, run) : await run();
        if (result.summary.result !== "succeeded") {
            throw new Error(`pulumi up: ${result.summary.result}\n${result.stderr}`);
        }
        return result;
    }

    /** What `pulumi preview` would do, by resource (URN suffix) and operation. */
    async preview(): Promise<{ stdout: string; changes: Record<string, number> }> {
        const result = await this.stack.preview({ configFile: this.configFile, diff: true });
        return { stdout: result.stdout, changes: result.changeSummary as Record<string, number> };
    }

    async expectNoChanges(): Promise<void> {
        await this.stack.preview({ configFile: this.configFile, expectNoChanges: true });
    }

    async outputs(): Promise<Record<string, { value: any; secret: boolean }>> {
        return this.stack.outputs();
    }

    async hostStrings(): Promise<ConnectionStrings> {
        return (await this.outputs()).hostConnectionStrings.value as ConnectionStrings;
    }

    async envFiles(): Promise<Record<string, string>> {
        return (await this.outputs()).env.value as Record<string, string>;
    }

    /** Destroys the stack, then removes whatever of `prefix` is left in Docker (containers, volumes, network). */
    async destroyAndClean(): Promise<void> {
        try {
            await this.stackHandle?.destroy({ configFile: this.configFile });
        } catch (error) {
            process.stderr.write(`cleanup destroy failed: ${(error as Error).message}\n`);
        }
        removeDockerObjects(this.prefix);
        fs.rmSync(this.project, { recursive: true, force: true });
    }
}

/**
 * The stack's containers, volumes and network: exactly those labelled with its prefix (every
 * resource the program creates carries zentoria.stack=<prefix>), so that another stack whose
 * prefix merely starts the same (zentoria-e2e-..., the integration tests' zentoria-it-...) is
 * left alone.
 */
export function removeDockerObjects(prefix: string): void {
    const label = `label=zentoria.stack=${prefix}`;
    const lines = (text: string) => text.split("\n").filter((line) => line !== "");
    for (const id of lines(docker("ps", "-a", "-q", "--filter", label))) {
        tryDocker("rm", "-f", id);
    }
    for (const name of lines(docker("volume", "ls", "-q", "--filter", label))) {
        tryDocker("volume", "rm", "-f", name);
    }
    for (const id of lines(docker("network", "ls", "-q", "--filter", label))) {
        tryDocker("network", "rm", id);
    }
}

function tryDocker(...args: string[]): void {
    try {
        docker(...args);
    } catch {
        // already gone
    }
}

/** The container's id and when its main process last started. */
export function containerIdentity(name: string): { id: string; startedAt: string } {
    const [id, startedAt] = docker("inspect", "-f", "{{.Id}} {{.State.StartedAt}}", name).split(" ");
    return { id, startedAt };
}
