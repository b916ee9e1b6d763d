// The machine the figures come from, and the wait for a quiet one: another engineer may be
// compiling Go on the same cores, which would distort every timing.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import { BINARIES } from "../../tests/integration/support/binaries";
import { pgbouncerImage, pgbouncerVersion } from "../../tests/integration/support/images";
import type { MachineInfo } from "./results";

export const PGBENCH = "/usr/lib/postgresql/15/bin/pgbench";
export const PG_CTL = "/usr/lib/postgresql/15/bin/pg_ctl";

/** Go compiler processes, as `pgrep -f '/compile|go build|go install'` lists them. */
export function goCompilers(): string[] {
    const result = spawnSync("pgrep", ["-a", "-f", "/compile|go build|go install"], { encoding: "utf8" });
    if (result.error) {
        throw new Error(`pgrep failed: ${result.error.message}`);
    }
    return result.stdout
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line !== "" && !line.includes("pgrep"));
}

export function loadAverage(): number[] {
    return os.loadavg().map((value) => Math.round(value * 100) / 100);
}

/**
 * Polls every `pollSeconds`, for `minutes` at most, until no Go compiler runs and (when
 * `maxLoad` > 0) the 1-minute load average is below `maxLoad`: other work on the same cores
 * (test suites, deployments) distorts timings as much as a compiler does.
 */
export async function waitForQuiet(
    minutes: number,
    pollSeconds: number,
    maxLoad: number,
    log: (line: string) => void,
): Promise<{ achieved: boolean; waitedSeconds: number; atStart: string[]; goCompilersAtEnd: number }> {
    const started = Date.now();
    const atStart = goCompilers();
    const deadline = started + minutes * 60_000;
    let current = atStart;
    const busy = () => current.length > 0 || (maxLoad > 0 && os.loadavg()[0] >= maxLoad);
    while (busy() && Date.now() < deadline) {
        log(
            `waiting for a quiet machine: ${current.length} Go compiler process(es), load average ${loadAverage()[0]} (want < ${maxLoad}); ` +
                `${Math.round((Date.now() - started) / 1000)} s of at most ${minutes * 60} s`,
        );
        await new Promise((resolve) => setTimeout(resolve, Math.min(pollSeconds * 1000, Math.max(0, deadline - Date.now()))));
        current = goCompilers();
    }
    return { achieved: !busy(), waitedSeconds: Math.round((Date.now() - started) / 1000), atStart, goCompilersAtEnd: current.length };
}

function firstLine(command: string, args: string[]): string {
    const result = spawnSync(command, args, { encoding: "utf8" });
    return (result.stdout || result.stderr || "").split("\n")[0].trim() || `(${command} did not answer)`;
}

function cpuModel(): string {
    const fromOs = os.cpus()[0]?.model?.trim();
    let fromProc = "";
    try {
        const match = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync("/proc/cpuinfo", "utf8"));
        fromProc = match?.[1].trim() ?? "";
    } catch {
        // Not Linux: os.cpus() is all there is.
    }
    return fromProc || fromOs || "unknown";
}

function osName(): string {
    try {
        const match = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(fs.readFileSync("/etc/os-release", "utf8"));
        return match?.[1] ?? os.type();
    } catch {
        return os.type();
    }
}

/** Command lines go into a results file: no URL passwords or password-like arguments. */
export function redact(line: string): string {
    return line.replace(/:\/\/([^:/\s@]+):[^@\s]+@/g, "://$1:***@").replace(/\b(password|passwd|pwd|secret|token|key)([=:])\S+/gi, "$1$2***");
}

/** pid -> parent pid of every process (from /proc). */
function parents(): Map<number, number> {
    const map = new Map<number, number>();
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) {
            continue;
        }
        try {
            // pid (comm) state ppid ...: comm may contain spaces and parentheses.
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            map.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
        } catch {
            // Exited meanwhile.
        }
    }
    return map;
}

/**
 * The benchmark's own processes: this one, its ancestors (npm, the shell) and every descendant of
 * this process and of `roots` (a postmaster pg_ctl started is no descendant of ours).
 */
function ownProcesses(roots: readonly number[] = []): Set<number> {
    const tree = parents();
    const own = new Set<number>([process.pid, ...roots]);
    for (let pid = process.ppid, depth = 0; pid > 1 && depth < 8; pid = tree.get(pid) ?? 0, depth++) {
        own.add(pid);
    }
    const descendants = [process.pid, ...roots];
    while (descendants.length) {
        const parent = descendants.pop()!;
        for (const [pid, ppid] of tree) {
            if (ppid === parent && !own.has(pid)) {
                own.add(pid);
                descendants.push(pid);
            }
        }
    }
    return own;
}

/** Other processes' CPU over `seconds` (top's second sample), busiest first: "<cpu %> <command>". */
export function otherProcesses(seconds = 1, roots: readonly number[] = []): Array<{ cpu: number; command: string }> {
    const result = spawnSync("top", ["-b", "-n", "2", "-d", String(seconds), "-c", "-w", "200"], { encoding: "utf8" });
    const own = ownProcesses(roots);
    const lines = (result.stdout ?? "").split("\n");
    const header = lines.map((line, index) => (/^\s*PID\s+USER/.test(line) ? index : -1)).filter((index) => index >= 0);
    if (header.length < 2) {
        return [];
    }
    return lines
        .slice(header[1] + 1)
        .map((line) => line.trim().split(/\s+/))
        .filter((fields) => fields.length >= 12 && !own.has(Number(fields[0])) && !fields[11].startsWith("top"))
        .map((fields) => ({ cpu: Number(fields[8]), command: redact(fields.slice(11).join(" ")).slice(0, 110) }))
        .filter((entry) => entry.cpu > 0)
        .sort((a, b) => b.cpu - a.cpu);
}

/** The busiest other processes over one second (current CPU %, command). */
export function busiestProcesses(count = 6): string[] {
    return otherProcesses(1)
        .slice(0, count)
        .map((entry) => `${entry.cpu} ${entry.command}`);
}

export function machineInfo(quiet: MachineInfo["quiet"]): MachineInfo {
    return {
        cpuModel: cpuModel(),
        cores: os.cpus().length,
        memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
        kernel: os.release(),
        os: osName(),
        versions: {
            postgres: firstLine(BINARIES.postgres.path, ["--version"]),
            pgbouncer: `${pgbouncerVersion()} (image ${pgbouncerImage()})`,
            redis: firstLine(BINARIES.redisServer.path, ["--version"]),
            pgbench: firstLine(PGBENCH, ["--version"]),
            node: process.version,
        },
        loadAverageAtStart: loadAverage(),
        quiet,
        busiestProcessesAtStart: busiestProcesses(),
    };
}
