// A throw-away copy of the Pulumi project with its own stack file, so the e2e stack never
// writes into the repository.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";

export const REPO_ROOT = path.resolve(__dirname, "../../..");
const PROGRAM_FILES = ["Pulumi.yaml", "package.json", "tsconfig.json", "index.ts", "config", "render", "components"];

export function copyProject(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zentoria-e2e-"));
    for (const entry of PROGRAM_FILES) {
        fs.cpSync(path.join(REPO_ROOT, entry), path.join(dir, entry), { recursive: true });
    }
    fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"));
    return dir;
}

export function readStackConfig(file: string): Record<string, any> {
    return YAML.parse(fs.readFileSync(file, "utf8"));
}

export function writeStackConfig(file: string, document: Record<string, any>): void {
    fs.writeFileSync(file, YAML.stringify(document));
}

export async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const address = server.address() as net.AddressInfo;
            server.close(() => resolve(address.port));
        });
    });
}

export interface CiImages {
    postgres: string;
    pgbouncer: string;
    redis: string;
}

/** The stand-in images .ci/images/build.sh built; fails loudly when they are missing. */
export function ciImages(): CiImages {
    let tags: string[];
    try {
        tags = execFileSync("bash", [path.join(REPO_ROOT, ".ci/images/build.sh"), "--print-tags"], { encoding: "utf8" }).trim().split("\n");
    } catch (error) {
        throw new Error(`the e2e test needs the CI images: run \`bash .ci/images/build.sh\` first (${(error as Error).message})`);
    }
    const find = (repository: string) => {
        const tag = tags.find((candidate) => candidate.startsWith(`zentoria-ci/${repository}:`));
        if (!tag) {
            throw new Error(`no zentoria-ci/${repository} image among ${tags.join(", ")}`);
        }
        return tag;
    };
    return { postgres: find("postgres"), pgbouncer: find("pgbouncer"), redis: find("redis") };
}

export function docker(...args: string[]): string {
    return execFileSync("docker", args, { encoding: "utf8" }).trim();
}

export function requireTools(): void {
    try {
        docker("info", "--format", "{{.ServerVersion}}");
    } catch {
        throw new Error("the e2e test needs a Docker engine: start dockerd (see .ci/run)");
    }
    try {
        execFileSync("pulumi", ["version"], { encoding: "utf8" });
    } catch {
        throw new Error('the e2e test needs the Pulumi CLI on PATH: eval "$(bash .ci/toolchain.sh)"');
    }
}
