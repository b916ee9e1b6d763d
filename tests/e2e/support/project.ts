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
    /** PostgreSQL 15 on Debian 12 (no pgvector). */
    postgres15: string;
    /** PostgreSQL 17 with pgvector on Debian 13. */
    postgres17: string;
    pgbouncer: string;
    redis: string;
    prometheus: string;
    alertmanager: string;
    pgbouncerExporter: string;
    postgresExporter: string;
    redisExporter: string;
}

/** The stand-in images .ci/images/build.sh built, by role; fails loudly when one is missing. */
export function ciImages(): CiImages {
    let tags: string[];
    try {
        tags = execFileSync("bash", [path.join(REPO_ROOT, ".ci/images/build.sh"), "--print-tags"], { encoding: "utf8" }).trim().split("\n");
    } catch (error) {
        throw new Error(`the e2e test needs the CI images: run \`bash .ci/images/build.sh\` first (${(error as Error).message})`);
    }
    const find = (prefix: string) => {
        const tag = tags.find((candidate) => candidate.startsWith(`zentoria-ci/${prefix}`));
        if (!tag) {
            throw new Error(`no zentoria-ci/${prefix}* image among ${tags.join(", ")}`);
        }
        return tag;
    };
    return {
        postgres15: find("postgres:15-"),
        postgres17: find("postgres:17-"),
        pgbouncer: find("pgbouncer:"),
        redis: find("redis:"),
        prometheus: find("prometheus:"),
        alertmanager: find("alertmanager:"),
        pgbouncerExporter: find("pgbouncer-exporter:"),
        postgresExporter: find("postgres-exporter:"),
        redisExporter: find("redis-exporter:"),
    };
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
