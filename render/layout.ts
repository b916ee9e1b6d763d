// Where each server finds its files and listens. Containers use CONTAINER_LAYOUT; the
// integration tests run the same rendered files from a temporary directory.
export interface ServerLayout {
    /** Address the servers listen on inside their network namespace. */
    listenAddress: string;
    /** Where PgBouncer finds PostgreSQL; unset: the plan's PostgreSQL host name. */
    postgresHost?: string;
    postgres: {
        configFile: string;
        hbaFile: string;
        superuserVerifierFile: string;
        socketDirectory: string;
    };
    pgbouncer: {
        configFile: string;
        userlistFile: string;
    };
    redis: {
        configFile: string;
        dataDirectory: string;
        healthcheckPasswordFile: string;
    };
    qdrant: {
        configFile: string;
        storageDirectory: string;
    };
}

export const CONTAINER_LAYOUT: ServerLayout = {
    listenAddress: "0.0.0.0",
    postgres: {
        configFile: "/etc/postgresql/postgresql.conf",
        hbaFile: "/etc/postgresql/pg_hba.conf",
        superuserVerifierFile: "/etc/postgresql/superuser-verifier",
        socketDirectory: "/var/run/postgresql",
    },
    pgbouncer: {
        configFile: "/etc/pgbouncer/pgbouncer.ini",
        userlistFile: "/etc/pgbouncer/userlist.txt",
    },
    redis: {
        configFile: "/usr/local/etc/redis/redis.conf",
        dataDirectory: "/data",
        healthcheckPasswordFile: "/usr/local/etc/redis/healthcheck.pass",
    },
    qdrant: {
        // The official image reads config/production.yaml over its defaults (RUN_MODE=production).
        configFile: "/qdrant/config/production.yaml",
        storageDirectory: "/qdrant/storage",
    },
};
