// Rendered files onto a server's config volume. The volume is mounted read-only into the
// server; only a short-lived writer container (the server's own image, so nothing else has to
// be pulled) mounts it writable. Contents travel on stdin, one base64 line per file, and each
// file replaces the old one with a rename, so a server reloading meanwhile reads either the old
// or the new file, never half of one.
import { dockerChecked } from "./dockerCli";

export interface VolumeFile {
    /** File name inside the volume (no directories). */
    name: string;
    content: string;
    /** Octal mode, e.g. "0600". */
    mode: string;
    /** `user:group` as the image knows them. */
    owner: string;
}

const MOUNT = "/zentoria-config";

// Reads "name mode owner" then one base64 line per file; renames into place.
const WRITER_SCRIPT = [
    "set -eu",
    `cd ${MOUNT}`,
    "while IFS=' ' read -r name mode owner; do",
    "  IFS= read -r data",
    '  tmp=".$name.new"',
    '  printf %s "$data" | base64 -d > "$tmp"',
    '  chown "$owner" "$tmp"',
    '  chmod "$mode" "$tmp"',
    '  mv -f "$tmp" "$name"',
    "done",
].join("\n");

export function checkVolumeFile(file: VolumeFile): void {
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(file.name)) {
        throw new Error(`config volume: unsafe file name ${JSON.stringify(file.name)}`);
    }
    if (!/^0[0-7]{3}$/.test(file.mode)) {
        throw new Error(`config volume: ${file.name}: mode must be octal like 0600, not ${JSON.stringify(file.mode)}`);
    }
    // Names, or numbers where images name the same ids differently (the monitoring images).
    if (!/^([a-z_][a-z0-9_-]*|[0-9]+):([a-z_][a-z0-9_-]*|[0-9]+)$/.test(file.owner)) {
        throw new Error(`config volume: ${file.name}: owner must be user:group (names or numbers), not ${JSON.stringify(file.owner)}`);
    }
}

export function writerInput(files: readonly VolumeFile[]): string {
    return files
        .map((file) => {
            checkVolumeFile(file);
            return `${file.name} ${file.mode} ${file.owner}\n${Buffer.from(file.content, "utf8").toString("base64")}\n`;
        })
        .join("");
}

/**
 * `docker run` flags of a throw-away container that runs `sh` as root with only what it takes to
 * set owners and modes: no network, no other capability, no privilege gain.
 */
export const THROWAWAY_ROOT_SHELL: readonly string[] = [
    "--network",
    "none",
    "--user",
    "0:0",
    "--cap-drop",
    "ALL",
    "--cap-add",
    "CHOWN",
    "--cap-add",
    "DAC_OVERRIDE",
    "--cap-add",
    "FOWNER",
    "--security-opt",
    "no-new-privileges",
    "--entrypoint",
    "sh",
];

/** Writes `files` into `volume` with a throw-away container of `image`. */
export async function writeVolumeFiles(volume: string, image: string, files: readonly VolumeFile[], dockerHost?: string): Promise<void> {
    await dockerChecked(
        `writing ${files.map((file) => file.name).join(", ")} to volume ${volume}`,
        [
            "run",
            "--rm",
            "-i",
            ...THROWAWAY_ROOT_SHELL,
            "--volume",
            `${volume}:${MOUNT}`,
            image,
            "-c",
            WRITER_SCRIPT,
        ],
        { dockerHost, input: writerInput(files), timeoutMs: 180_000 },
    );
}
