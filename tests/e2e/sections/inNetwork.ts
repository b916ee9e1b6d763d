// Issues 11 and 16: the stack as services on its network see it, with the default host names.
// Every check runs in a throw-away container on the stack's network; a .env file reaches it on
// stdin, never on a command line.
import { execFileSync } from "child_process";
import { DefaultStack, DEFAULT_PREFIX } from "../support/defaultStack";
import { docker } from "../support/project";

const NETWORK = `${DEFAULT_PREFIX}-net`;

/** Runs `script` (bash) in a container of `image` on the stack network, `input` on stdin. */
export function onNetwork(image: string, script: string, input = ""): string {
    return execFileSync("docker", ["run", "--rm", "-i", "--network", NETWORK, "--entrypoint", "bash", image, "-c", script], {
        input,
        encoding: "utf8",
        timeout: 120_000,
    });
}

/** A .env text as bash reads it: the file is written, then sourced, inside the container. */
const SOURCE_ENV = "set -euo pipefail; cat > /tmp/service.env; set -a; . /tmp/service.env; set +a;";

export function describeInNetwork(stack: DefaultStack): void {
    const TIMEOUT = 5 * 60 * 1000;

    test("every service host name answers for exactly one container, the one it names", () => {
        const containerIp = (name: string) => docker("inspect", "-f", `{{(index .NetworkSettings.Networks "${NETWORK}").IPAddress}}`, name);
        const expected: Record<string, string> = {
            "zentoria-db": containerIp(`${DEFAULT_PREFIX}-pgbouncer`),
            "zentoria-postgres": containerIp(`${DEFAULT_PREFIX}-postgres`),
            "zentoria-redis": containerIp(`${DEFAULT_PREFIX}-redis`),
            "zentoria-pgbouncer": containerIp(`${DEFAULT_PREFIX}-pgbouncer`),
        };
        const answers = onNetwork(stack.images.postgres17, Object.keys(expected).map((host) => `echo "${host} $(getent ahostsv4 ${host} | awk '{print $1}' | sort -u | tr '\\n' ' ')"`).join("; "));
        const resolved = Object.fromEntries(
            answers
                .trim()
                .split("\n")
                .map((line) => line.trim().split(/\s+/))
                .map(([host, ...addresses]) => [host, addresses.join(" ")]),
        );
        expect(resolved).toEqual(expected);
    }, TIMEOUT);

    test("each service's .env, as the service reads it on the network: every PostgreSQL variable logs in", async () => {
        const env = await stack.deployment.envFiles();
        for (const service of ["backend", "n8n", "ai_orchestrator", "monitoring"]) {
            const script =
                SOURCE_ENV +
                // asyncpg's URL is SQLAlchemy's: libpq reads it without the driver suffix.
                'for var in $(compgen -v | grep -E "^(DIRECT_)?[A-Z_]*DATABASE_URL$|^DIRECT_DB_POSTGRESDB_URL$"); do ' +
                '  url="${!var}"; url="${url/postgresql+asyncpg:/postgresql:}"; url="${url/prepared_statement_cache_size=0/}"; ' +
                '  echo "$var $(psql "$url" -XAtc "select current_user || \'@\' || current_database()")"; ' +
                "done; " +
                'if [ -n "${DB_POSTGRESDB_HOST:-}" ]; then echo "DB_POSTGRESDB_* $(PGPASSWORD="$DB_POSTGRESDB_PASSWORD" psql -h "$DB_POSTGRESDB_HOST" -p "$DB_POSTGRESDB_PORT" -U "$DB_POSTGRESDB_USER" -d "$DB_POSTGRESDB_DATABASE" -XAtc "select current_user || \'@\' || current_database()")"; fi';
            const lines = onNetwork(stack.images.postgres17, script, env[service]).trim().split("\n");
            expect({ service, count: lines.length }).toEqual({ service, count: expect.any(Number) });
            expect(lines.length).toBeGreaterThanOrEqual(2);
            for (const line of lines) {
                expect(line).toMatch(/^\S+ \w+@\w+$/);
            }
        }
    }, TIMEOUT);

    test("each service's Redis variables log in on the network, each on its own database", async () => {
        const env = await stack.deployment.envFiles();
        for (const service of ["backend", "n8n", "ai_orchestrator"]) {
            const script =
                SOURCE_ENV +
                'for var in $(compgen -v | grep -E "^REDIS_[A-Z_]*_URL$"); do echo "$var $(redis-cli --no-auth-warning -u "${!var}" CLIENT INFO | grep -o "db=[0-9]*")"; done';
            const lines = onNetwork(stack.images.redis, script, env[service]).trim().split("\n");
            expect(lines.length).toBeGreaterThanOrEqual(1);
            for (const line of lines) {
                expect(line).toMatch(/^REDIS_\w+_URL db=\d+$/);
            }
        }
    }, TIMEOUT);

    test("pgvector on PostgreSQL 17: the Backend's pooled VECTOR_DATABASE_URL runs a similarity query through PgBouncer", async () => {
        const env = await stack.deployment.envFiles();
        const script =
            SOURCE_ENV +
            'psql "$DIRECT_VECTOR_DATABASE_URL" -XAt -v ON_ERROR_STOP=1 -c "CREATE TABLE IF NOT EXISTS e2e_items (id int PRIMARY KEY, embedding vector(3))" ' +
            "-c \"INSERT INTO e2e_items VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0,0,1]') ON CONFLICT DO NOTHING\" >/dev/null; " +
            'psql "$VECTOR_DATABASE_URL" -XAt -v ON_ERROR_STOP=1 -c "SELECT current_setting(\'server_version_num\')::int / 10000, id FROM e2e_items ORDER BY embedding <-> \'[0.1,0.9,0.1]\' LIMIT 1"';
        expect(onNetwork(stack.images.postgres17, script, env.backend).trim()).toBe("17|2");
    }, TIMEOUT);
}
