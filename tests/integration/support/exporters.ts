// The monitoring stand-in exporters (zentoria-ci/*-exporter) against the harness' servers: on
// the host network, the servers' host names pointed at 127.0.0.1, the files the program renders
// for them mounted where it mounts them, listening on a free port. Removed by `stop`, and at exit.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { VolumeFileSpec } from "../../../render/monitoring";
import { MONITORING_LAYOUT } from "../../../render/monitoring";
import { ciImage } from "./ciImages";
import { freePorts } from "./ports";
import { dockerSync } from "./processes";

const started = new Set<string>();
process.once("exit", () => {
    for (const name of started) {
        dockerSync(["rm", "-f", name], 30_000);
    }
});

export interface RunningExporter {
    name: string;
    port: number;
    dir: string;
    /** GET /metrics, as text. */
    metrics(): Promise<string>;
    logs(): string;
    stop(): void;
}

/** The image's numeric user (its USER, e.g. nobody or 59000:59000). */
function imageUser(image: string): string {
    const result = dockerSync(["image", "inspect", "--format", "{{.Config.User}}", image]);
    const user = result.output.trim();
    return user === "nobody" ? "65534:65534" : user;
}

/**
 * Starts `id` (an image id of .ci/images) with `command` (the program's flags, its
 * --web.listen-address replaced by a free port), `envs`, and `files` in a directory mounted at
 * the exporters' directory, owned by the image's user as the config volume's are.
 */
export async function startExporter(
    id: string,
    command: readonly string[],
    envs: readonly string[],
    files: readonly VolumeFileSpec[],
    hosts: readonly string[],
): Promise<RunningExporter> {
    const image = ciImage(id);
    const [port] = await freePorts(1);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `zentoria-it-${id}-`));
    fs.chmodSync(dir, 0o755);
    const [uid, gid] = imageUser(image).split(":").map(Number);
    for (const file of files) {
        const target = path.join(dir, file.name);
        fs.writeFileSync(target, file.content, { mode: Number.parseInt(file.mode, 8) });
        fs.chmodSync(target, Number.parseInt(file.mode, 8));
        if (process.getuid?.() === 0) {
            fs.chownSync(target, uid, gid);
        }
    }
    const name = `zentoria-it-${process.pid}-${id}-${port}`;
    const flags = command.map((flag) => (flag.startsWith("--web.listen-address=") ? `--web.listen-address=127.0.0.1:${port}` : flag));
    const result = dockerSync(
        [
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "host",
            ...hosts.flatMap((host) => ["--add-host", `${host}:127.0.0.1`]),
            ...envs.flatMap((env) => ["--env", env]),
            // Not root: the image's user, unless the files could not be given to it.
            ...(process.getuid?.() === 0 ? [] : ["--user", `${process.getuid?.()}:${process.getgid?.()}`]),
            "--volume",
            `${dir}:${MONITORING_LAYOUT.exporterDirectory}:ro`,
            image,
            ...flags,
        ],
        60_000,
    );
    if (!result.ok) {
        throw new Error(`${id} did not start: ${result.output}`);
    }
    started.add(name);
    const exporter: RunningExporter = {
        name,
        port,
        dir,
        async metrics() {
            const response = await fetch(`http://127.0.0.1:${port}/metrics`);
            if (!response.ok) {
                throw new Error(`${id}: /metrics answered ${response.status}`);
            }
            return response.text();
        },
        logs() {
            return dockerSync(["logs", "--tail", "40", name]).output;
        },
        stop() {
            dockerSync(["rm", "-f", name], 60_000);
            started.delete(name);
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
    // Listening (pgbouncer_exporter exits when it cannot reach PgBouncer at start: say so).
    const deadline = Date.now() + 60_000;
    for (;;) {
        try {
            await fetch(`http://127.0.0.1:${port}/`);
            return exporter;
        } catch (error) {
            if (Date.now() > deadline) {
                const logs = exporter.logs();
                exporter.stop();
                throw new Error(`${id} is not listening on ${port}: ${(error as Error).message}\n${logs}`);
            }
            await new Promise((resolve) => setTimeout(resolve, 250));
        }
    }
}

/** The value of one sample of the exposition text (`name{labels} value`), by name and labels it must have. */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
    for (const line of text.split("\n")) {
        const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)/.exec(line);
        if (!match || match[1] !== name) {
            continue;
        }
        const present = match[2] ?? "";
        if (Object.entries(labels).every(([label, value]) => present.includes(`${label}="${value}"`))) {
            return Number(match[3]);
        }
    }
    return undefined;
}
