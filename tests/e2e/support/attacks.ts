// The attack suite's bookkeeping (issue 11): every attempt is a test that must be refused; its
// outcome goes to a results file (tests/e2e/results/attacks-<suite>.json) from which
// scripts/security-report.ts writes SECURITY.md's table and totals, and a table printed at the end.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "./project";

export type AttackOrigin = "stack network" | "Docker host" | "inside a server container";

export interface AttackOutcome {
    attack: string;
    from: AttackOrigin;
    /** What a refusal looks like (the error code or message asserted). */
    expected: string;
    refused: boolean;
    /** The refusal as observed, first line, addresses masked; "NOT REFUSED: ..." when the attack worked. */
    observed: string;
}

export interface AttackResults {
    suite: string;
    description: string;
    outcomes: AttackOutcome[];
}

export const RESULTS_DIR = path.join(REPO_ROOT, "tests/e2e/results");

/** One line of evidence, without anything that changes from run to run. */
export function evidence(text: string): string {
    const line =
        text
            .split("\n")
            .map((candidate) => candidate.trim())
            .find((candidate) => candidate.length > 0) ?? "";
    return line
        .replace(/\b\d{1,3}(\.\d{1,3}){3}\b/g, "<address>")
        .replace(/:\d{4,5}\b/g, ":<port>")
        .slice(0, 200);
}

export class AttackLog {
    readonly outcomes: AttackOutcome[] = [];

    constructor(
        readonly suite: string,
        readonly description: string,
    ) {}

    /**
     * Runs one attack. `run` returns what the attacker saw: the error text of a refusal, or
     * text starting with "NOT REFUSED" when the attack got through. The outcome is recorded
     * either way and returned for the test to assert on.
     */
    async attempt(attack: string, from: AttackOrigin, expected: RegExp, run: () => Promise<string> | string): Promise<AttackOutcome> {
        let seen: string;
        try {
            seen = await run();
        } catch (error) {
            seen = `attack could not run: ${(error as Error).message}`;
        }
        const refused = !seen.startsWith("NOT REFUSED") && expected.test(seen);
        const outcome: AttackOutcome = { attack, from, expected: expected.source, refused, observed: evidence(seen) };
        this.outcomes.push(outcome);
        return outcome;
    }

    /** Writes the results file and prints the table (afterAll). */
    finish(): void {
        if (this.outcomes.length === 0) {
            return;
        }
        fs.mkdirSync(RESULTS_DIR, { recursive: true });
        const results: AttackResults = { suite: this.suite, description: this.description, outcomes: this.outcomes };
        fs.writeFileSync(path.join(RESULTS_DIR, `attacks-${this.suite}.json`), JSON.stringify(results, null, 2) + "\n");
        const refused = this.outcomes.filter((outcome) => outcome.refused).length;
        const rows = this.outcomes.map((outcome) => `${outcome.refused ? "refused " : "GOT IN  "} | ${outcome.from.padEnd(26)} | ${outcome.attack} | ${outcome.observed}`);
        process.stdout.write(`\nAttacks on ${this.description}: ${this.outcomes.length} tried, ${refused} refused\n${rows.join("\n")}\n\n`);
        // SECURITY.md's table and totals come from the results files, never typed by hand.
        const report = spawnSync(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", "scripts/security-report.ts"], { cwd: REPO_ROOT, encoding: "utf8" });
        if (report.status !== 0) {
            process.stderr.write(`security-report failed: ${report.stderr}\n`);
        }
    }
}

export interface Run {
    code: number;
    /** stdout and stderr together. */
    output: string;
}

/** A bash script in a throw-away container of `image` on `network`; secrets only on stdin. */
export function inContainerOn(network: string, image: string, script: string, input = "", dockerArgs: string[] = []): Run {
    const result = spawnSync("docker", ["run", "--rm", "-i", "--network", network, ...dockerArgs, "--entrypoint", "bash", image, "-c", script], {
        input,
        encoding: "utf8",
        timeout: 120_000,
    });
    return { code: result.status ?? -1, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
}

/** `docker exec` in a running server container (as its own user), no input. */
export function execIn(container: string, argv: string[]): Run {
    const result = spawnSync("docker", ["exec", container, ...argv], { encoding: "utf8", timeout: 60_000 });
    return { code: result.status ?? -1, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
}

/** What an attacker's command saw: its output when it failed, "NOT REFUSED" and the output when it worked. */
export function refusalOf(run: Run): string {
    return run.code === 0 ? `NOT REFUSED (exit 0): ${run.output}` : run.output;
}

/** psql's connection as a bash fragment: the password is read from stdin into PGPASSWORD first. */
export function psqlScript(conninfo: string, sql: string): string {
    return `IFS= read -r PGPASSWORD; export PGPASSWORD; psql "${conninfo}" -XAt -v ON_ERROR_STOP=1 -c "${sql}"`;
}

/** redis-cli as a user (password from stdin, into REDISCLI_AUTH), or with no credentials at all. */
export function redisScript(host: string, port: number, user: string | undefined, argv: string[], tls?: string): string {
    const tlsArgs = tls ? ` --tls --cacert ${tls}` : "";
    const command = `redis-cli --no-auth-warning${tlsArgs} -h ${host} -p ${port}${user ? ` --user ${user}` : ""} ${argv.join(" ")}`;
    // redis-cli exits 0 on server errors: the reply decides.
    const judge = `reply="$(${command} 2>&1)"; echo "$reply"; case "$reply" in *NOPERM*|*NOAUTH*|*WRONGPASS*|*ERR*|*rror*|"") exit 1;; esac`;
    return user ? `IFS= read -r REDISCLI_AUTH; export REDISCLI_AUTH; ${judge}` : judge;
}

/** PostgreSQL's refusal by pg_hba.conf: an explicit reject line, or no line at all. */
export function hbaRefusal(user: string, database?: string, suffix = ""): RegExp {
    const who = `for host "[0-9a-f.:]+", user "${user}"${database ? `, database "${database}"` : ""}${suffix}`;
    return new RegExp(`(pg_hba\\.conf rejects connection|no pg_hba\\.conf entry) ${who}`);
}
