// Where each server finds its files and listens. Containers use CONTAINER_LAYOUT; the
// integration tests run the same rendered files from a temporary directory.
export interface ServerLayout {
    /** Address the servers listen on inside their network namespace. */
    listenAddress: string;
    /** Where PgBouncer finds PostgreSQL; unset: the plan's PostgreSQL host name. */
    postgresHost?: string;
    postgres: {
        /** Directory holding the files below (the config volume's mount point in a container). */
        configDirectory: string;
        configFile: string;
        hbaFile: string;
        identFile: string;
        superuserVerifierFile: string;
        socketDirectory: string;
    };
    pgbouncer: {
        configDirectory: string;
        configFile: string;
        userlistFile: string;
    };
    redis: {
        configDirectory: string;
        configFile: string;
        aclFile: string;
        dataDirectory: string;
        healthcheckPasswordFile: string;
    };
    qdrant: {
        configDirectory: string;
        configFile: string;
        storageDirectory: string;
        snapshotsDirectory: string;
    };
    backups: {
        /** Where the backup volume (or host directory) is mounted: PostgreSQL archives WAL below it. */
        directory: string;
    };
}

export const CONTAINER_LAYOUT: ServerLayout = {
    listenAddress: "0.0.0.0",
    postgres: {
        configDirectory: "/etc/postgresql",
        configFile: "/etc/postgresql/postgresql.conf",
        hbaFile: "/etc/postgresql/pg_hba.conf",
        identFile: "/etc/postgresql/pg_ident.conf",
        superuserVerifierFile: "/etc/postgresql/superuser-verifier",
        socketDirectory: "/var/run/postgresql",
    },
    pgbouncer: {
        configDirectory: "/etc/pgbouncer",
        configFile: "/etc/pgbouncer/pgbouncer.ini",
        userlistFile: "/etc/pgbouncer/userlist.txt",
    },
    redis: {
        configDirectory: "/usr/local/etc/redis",
        configFile: "/usr/local/etc/redis/redis.conf",
        aclFile: "/usr/local/etc/redis/users.acl",
        dataDirectory: "/data",
        healthcheckPasswordFile: "/usr/local/etc/redis/healthcheck.pass",
    },
    qdrant: {
        // Passed with --config-path: read over the image's config/config.yaml and
        // config/production.yaml, which stay where the image has them.
        configDirectory: "/qdrant/zentoria",
        configFile: "/qdrant/zentoria/config.yaml",
        storageDirectory: "/qdrant/storage",
        // On a volume of its own, not under WORKDIR where the image's default puts it (pitfall 25).
        snapshotsDirectory: "/qdrant/snapshots",
    },
    backups: {
        directory: "/backups",
    },
};
