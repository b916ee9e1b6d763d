// PgBouncer for the integration tests and the benchmark: Debian 12 has only PgBouncer 1.18 and
// trixie's binaries do not run on bookworm's glibc, so PgBouncer runs from the CI stand-in image
// (zentoria-ci/pgbouncer, trixie's 1.24.1, built by .ci/images/build.sh) on the host network,
// as the uid that owns the test's files, with those files bind-mounted at the same paths.
// A missing image fails the run with the command that builds it: nothing is skipped.
import { execFileSync } from "child_process";
import * as path from "path";
import { BINARIES, requireBinary } from "./binaries";
import { dockerSync, OsUser, ServerProcess } from "./processes";

const REPO_ROOT = path.resolve(__dirname, "../../..");
const BUILD_SCRIPT = path.join(REPO_ROOT, ".ci/images/build.sh");
export const PGBOUNCER_REPOSITORY = "zentoria-ci/pgbouncer";
const BUILD_COMMAND = "bash .ci/images/build.sh";

let cachedImage: string | undefined;

/** The zentoria-ci/pgbouncer image `build.sh --print-tags` names; throws with the build command otherwise. */
export function pgbouncerImage(): string {
    if (cachedImage) {
        return cachedImage;
    }
    requireBinary(BINARIES.docker);
    if (!dockerSync(["info", "--format", "{{.ServerVersion}}"], 60_000).ok) {
        throw new Error(`PgBouncer runs from the ${PGBOUNCER_REPOSITORY} image, but no Docker engine answers: start dockerd (see .ci/run), then \`${BUILD_COMMAND}\``);
    }
    let tags: string[];
    try {
        // Only this image's freshness matters here (the e2e test checks them all).
        tags = execFileSync("bash", [BUILD_SCRIPT, "--print-tags", "pgbouncer"], { encoding: "utf8", env: process.env, stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 })
            .trim()
            .split("\n");
    } catch (error) {
        const failure = error as { stderr?: string; message: string };
        throw new Error(`PgBouncer runs from the ${PGBOUNCER_REPOSITORY} stand-in image: build it with \`${BUILD_COMMAND}\` (${(failure.stderr || failure.message).trim()})`);
    }
    const image = tags.find((tag) => tag.startsWith(`${PGBOUNCER_REPOSITORY}:`));
    if (!image) {
        throw new Error(`no ${PGBOUNCER_REPOSITORY} image among ${tags.join(", ")}: run \`${BUILD_COMMAND}\``);
    }
    cachedImage = image;
    return image;
}

/** PgBouncer's own version line, from the image (`pgbouncer --version`). */
export function pgbouncerVersion(): string {
    const result = dockerSync(["run", "--rm", "--network", "none", "--entrypoint", "pgbouncer", pgbouncerImage(), "--version"]);
    return result.ok ? result.output.split("\n")[0].trim() : `(pgbouncer --version failed: ${result.output.trim()})`;
}

export interface PgbouncerFiles {
    configFile: string;
    userlistFile: string;
}

let started = 0;

/**
 * PgBouncer on `files` in a container of the stand-in image: `pgbouncer <configFile>` as its
 * entrypoint (PID 1: the signals the harness sends reach PgBouncer itself), host network (it
 * listens on and reaches 127.0.0.1 like a local process), the files' owner as its user, their
 * directories mounted read-only at the same paths (RELOAD sees a rewritten file), and the
 * container's descriptor limit. Stop it with SIGINT: PgBouncer 1.23+ waits for every client on
 * SIGTERM.
 */
export function startPgbouncerContainer(name: string, files: PgbouncerFiles, logFile: string, options: { nofile: number; owner?: OsUser }): ServerProcess {
    const image = pgbouncerImage();
    const user = options.owner ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
    const container = `zentoria-it-${process.pid}-${++started}-${name}`.replace(/[^a-zA-Z0-9_.-]/g, "-");
    const mounts = [...new Set([path.dirname(files.configFile), path.dirname(files.userlistFile)])].flatMap((dir) => ["--volume", `${dir}:${dir}:ro`]);
    return ServerProcess.startContainer(
        name,
        container,
        [
            "--network",
            "host",
            "--user",
            `${user.uid}:${user.gid}`,
            "--ulimit",
            `nofile=${options.nofile}:${options.nofile}`,
            ...mounts,
            "--entrypoint",
            "pgbouncer",
        ],
        image,
        [files.configFile],
        logFile,
    );
}
