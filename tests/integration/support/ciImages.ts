// The CI stand-in images by id (.ci/images/build.sh --print-tags <id>...), for tests that run a
// tool or server from one of them. A missing or out-of-date image fails with the command that
// builds it: nothing is skipped.
import { execFileSync, spawnSync } from "child_process";
import * as path from "path";
import { dockerSync } from "./processes";

const REPO_ROOT = path.resolve(__dirname, "../../..");
const BUILD_COMMAND = "bash .ci/images/build.sh";
const cache = new Map<string, string>();

/** The tag of one stand-in image (ids as in .ci/images/README.md: prometheus, redis-exporter, ...). */
export function ciImage(id: string): string {
    const cached = cache.get(id);
    if (cached) {
        return cached;
    }
    if (!dockerSync(["info", "--format", "{{.ServerVersion}}"], 60_000).ok) {
        throw new Error(`the ${id} stand-in image needs a Docker engine: start dockerd (see .ci/run), then \`${BUILD_COMMAND}\``);
    }
    let tags: string[];
    try {
        tags = execFileSync("bash", [path.join(REPO_ROOT, ".ci/images/build.sh"), "--print-tags", id], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 })
            .trim()
            .split("\n");
    } catch (error) {
        const failure = error as { stderr?: string; message: string };
        throw new Error(`the zentoria-ci/${id} stand-in image: build it with \`${BUILD_COMMAND}\` (${(failure.stderr || failure.message).trim()})`);
    }
    const image = tags.find((tag) => tag.startsWith(`zentoria-ci/${id}:`));
    if (!image) {
        throw new Error(`no zentoria-ci/${id} image among ${tags.join(", ")}: run \`${BUILD_COMMAND}\``);
    }
    cache.set(id, image);
    return image;
}

/** Runs a tool of an image (its binary as the entrypoint) on `dir`, mounted read-only at /work: its exit status and everything it printed. */
export function runTool(image: string, entrypoint: string, args: readonly string[], dir: string, timeoutMs = 180_000): { ok: boolean; output: string } {
    const result = spawnSync(
        "docker",
        ["run", "--rm", "--network", "none", "--user", `${process.getuid?.() ?? 0}`, "--volume", `${dir}:/work:ro`, "--workdir", "/work", "--entrypoint", entrypoint, image, ...args],
        { encoding: "utf8", timeout: timeoutMs },
    );
    return { ok: result.status === 0, output: `${result.stdout ?? ""}${result.stderr ?? ""}${result.error ? result.error.message : ""}` };
}
