// npm run pg-settings -- --bin /usr/lib/postgresql/15/bin        (a PostgreSQL installed on this machine)
// npm run pg-settings -- --image zentoria-ci/postgres:17-trixie   (a PostgreSQL image on the Docker engine)
//
// Writes config/postgres-settings/<major>.json: every setting of pg_settings (name, type, unit,
// range, enum values, context) of a freshly initialised server of that major version, the
// table `postgres.settings` is checked against. A new major version is one run of this
// script; tests/integration/postgresSettings.test.ts regenerates every committed table from
// its server and fails when they differ.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { PostgresSettingsTable, SETTINGS_DIR, settingsFile } from "../config/postgresSettings";

export type SettingsSource = { kind: "bin"; dir: string } | { kind: "image"; image: string };

const QUERY =
    "SELECT json_build_object(" +
    "'major', current_setting('server_version_num')::int / 10000, " +
    "'serverVersion', current_setting('server_version'), " +
    "'settings', (SELECT json_agg(json_build_object(" +
    "'name', name, 'vartype', vartype, 'unit', unit, 'min_val', min_val, 'max_val', max_val, " +
    "'enumvals', enumvals, 'boot_val', boot_val, 'context', context) ORDER BY name) FROM pg_settings))";

// A throw-away cluster on a Unix socket only: initdb, start, one query, fast shutdown.
const SHELL = `set -eu
PATH="$PATH:$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
dir=$(mktemp -d)
trap 'pg_ctl -D "$dir/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
initdb -D "$dir/data" -U postgres -A trust --no-sync >/dev/null
pg_ctl -D "$dir/data" -w -t 120 -l "$dir/log" -o "-c listen_addresses='' -c unix_socket_directories='$dir'" start >/dev/null
psql -X -h "$dir" -U postgres -d postgres -At -c "$1"
`;

function commandFor(source: SettingsSource): [string, string[], NodeJS.ProcessEnv] {
    if (source.kind === "image") {
        return ["docker", ["run", "--rm", "--user", "postgres", "--entrypoint", "sh", source.image, "-c", SHELL, "sh", QUERY], process.env];
    }
    const env = { PATH: `${source.dir}:/usr/sbin:/usr/bin:/sbin:/bin`, LANG: "C.UTF-8" };
    // initdb and postgres refuse to run as root.
    const argv = ["sh", "-c", SHELL, "sh", QUERY];
    if (process.getuid?.() === 0) {
        return ["setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", ...argv], env];
    }
    return [argv[0], argv.slice(1), env];
}

/** The settings table of a real server. */
export function collectSettings(source: SettingsSource): PostgresSettingsTable {
    const [command, args, env] = commandFor(source);
    const result = spawnSync(command, args, { encoding: "utf8", env, cwd: "/tmp", timeout: 300_000 });
    if (result.status !== 0) {
        throw new Error(`${command} ${source.kind === "image" ? source.image : source.dir}: exit ${result.status}\n${result.stderr}${result.error ?? ""}`);
    }
    const table = JSON.parse(result.stdout) as Omit<PostgresSettingsTable, "generatedFrom">;
    return { major: table.major, serverVersion: table.serverVersion, generatedFrom: describeSource(source), settings: table.settings };
}

function describeSource(source: SettingsSource): string {
    return source.kind === "image" ? `image ${source.image}` : `PostgreSQL binaries in ${source.dir}`;
}

/** The source a committed table was generated from (its generatedFrom), to generate it again. */
export function sourceOf(generatedFrom: string): SettingsSource {
    const image = /^image (\S+)$/.exec(generatedFrom);
    if (image) {
        return { kind: "image", image: image[1] };
    }
    const bin = /^PostgreSQL binaries in (\S+)$/.exec(generatedFrom);
    if (bin) {
        return { kind: "bin", dir: bin[1] };
    }
    throw new Error(`cannot tell where the table came from: ${JSON.stringify(generatedFrom)}`);
}

/** One setting per line, so that a new server version reads as a small diff. */
export function formatTable(table: PostgresSettingsTable): string {
    const head = { major: table.major, serverVersion: table.serverVersion, generatedFrom: table.generatedFrom };
    const lines = table.settings.map((setting) => `        ${JSON.stringify(setting)}`);
    return `${JSON.stringify(head, null, 4).replace(/\n}$/, "")},\n    "settings": [\n${lines.join(",\n")}\n    ]\n}\n`;
}

function parseArgs(argv: readonly string[]): SettingsSource | undefined {
    if (argv.length === 2 && argv[0] === "--bin") {
        return { kind: "bin", dir: argv[1] };
    }
    if (argv.length === 2 && argv[0] === "--image") {
        return { kind: "image", image: argv[1] };
    }
    return undefined;
}

function main(argv: readonly string[]): number {
    const source = parseArgs(argv);
    if (!source) {
        process.stderr.write("usage: npm run pg-settings -- --bin <PostgreSQL bin directory> | --image <PostgreSQL image>\n");
        return 2;
    }
    const table = collectSettings(source);
    fs.mkdirSync(SETTINGS_DIR, { recursive: true });
    const file = settingsFile(table.major);
    fs.writeFileSync(file, formatTable(table));
    process.stdout.write(`${path.relative(process.cwd(), file)}: ${table.settings.length} settings of PostgreSQL ${table.serverVersion}\n`);
    return 0;
}

if (require.main === module) {
    process.exitCode = main(process.argv.slice(2));
}
