// The Debian server binaries the integration tests run. A missing one fails the run with the
// package to install: nothing is skipped. PgBouncer is not among them: Debian 12 has only 1.18,
// so it runs from the zentoria-ci/pgbouncer stand-in image (./images.ts) through docker.
import * as fs from "fs";

export interface Binary {
    path: string;
    /** Debian package that installs it. */
    debianPackage: string;
}

const PG_BIN = "/usr/lib/postgresql/15/bin";

export const BINARIES = {
    initdb: { path: `${PG_BIN}/initdb`, debianPackage: "postgresql-15" },
    postgres: { path: `${PG_BIN}/postgres`, debianPackage: "postgresql-15" },
    psql: { path: `${PG_BIN}/psql`, debianPackage: "postgresql-client-15" },
    redisServer: { path: "/usr/bin/redis-server", debianPackage: "redis-server" },
    // Runs PgBouncer's stand-in image (and needs a running engine: see .ci/run).
    docker: { path: "/usr/bin/docker", debianPackage: "docker.io" },
    // Drop root for PostgreSQL and PgBouncer, and give processes the containers' ulimits.
    setpriv: { path: "/usr/bin/setpriv", debianPackage: "util-linux" },
    prlimit: { path: "/usr/bin/prlimit", debianPackage: "util-linux" },
} as const satisfies Record<string, Binary>;

/** The binary's path, or an error naming the Debian package that provides it. */
export function requireBinary(binary: Binary): string {
    try {
        fs.accessSync(binary.path, fs.constants.X_OK);
    } catch {
        throw new Error(
            `${binary.path} is missing or not executable: the integration tests need the Debian package ` +
                `${binary.debianPackage} (apt-get install ${binary.debianPackage})`,
        );
    }
    return binary.path;
}

/** Where the vector extension would be; Debian's postgresql-15 does not ship it. */
export const PGVECTOR_CONTROL_FILE = "/usr/share/postgresql/15/extension/vector.control";
