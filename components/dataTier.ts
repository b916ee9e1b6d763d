// The whole data tier: one network, the credentials, the four servers and what the
// services need to reach them.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ConnectionBudget } from "../config/budget";
import { StackPlan } from "../config/plan";
import { budgetTables } from "../render/budgetTables";
import { connectionStrings, ConnectionStrings, envFiles, hostSideAddress, networkEndpoints, publishedEndpoints } from "../render/connections";
import { providerUsesNetworkAddress } from "../render/tls";
import { serviceLabels, volumeLabels } from "../render/labels";
import { CONTAINER_LAYOUT } from "../render/layout";
import { NetworkAddresses } from "../render/postgresql";
import { BackupAgent, BackupsInfo, BackupStore } from "./backups";
import { StackCredentials } from "./credentials";
import { BackupRoleRemoval } from "./live/backupStore";
import { PgBouncer, pgbouncerConsole } from "./pgbouncer";
import { Monitoring, pgbouncerLogVolume } from "./monitoring";
import { PGDATA, Postgres, POSTGRES_STOP_SECONDS, POSTGRES_VOLUME_MOUNT } from "./postgres";
import { PostgresSchema } from "./postgresSchema";
import { Qdrant } from "./qdrant";
import { Redis, REDIS_STOP_SECONDS } from "./redis";
import { StackTls, stackTls } from "./tls";

export interface DataTierArgs {
    plan: StackPlan;
    budget: ConnectionBudget;
    /** The Docker engine the docker provider uses (its `docker:host` config), for the live-change resources. */
    dockerHost?: string;
}

/** The network's subnet and gateway, as Docker assigned them. */
export function networkAddresses(network: docker.Network): pulumi.Output<NetworkAddresses> {
    return network.ipamConfigs.apply((configs) => {
        const ipv4 = (configs ?? []).find((config) => config.subnet && config.gateway && !config.subnet.includes(":"));
        if (!ipv4?.subnet || !ipv4.gateway) {
            throw new Error(`Docker reported no IPv4 subnet and gateway for the stack's network: ${JSON.stringify(configs)}`);
        }
        return { subnet: ipv4.subnet, gateway: ipv4.gateway };
    });
}

/**
 * Where the Pulumi provider reaches PostgreSQL from the Docker host: the published port, or on
 * a specific public bind address the container's address on the stack's network (render/tls.ts).
 */
export function providerEndpoint(plan: StackPlan, container: docker.Container): { host: pulumi.Input<string>; port: number } {
    if (!providerUsesNetworkAddress(plan)) {
        return { host: hostSideAddress(plan.postgres.publish.address), port: plan.postgres.publish.port };
    }
    const host = container.networkDatas.apply((networks) => {
        const address = (networks ?? []).find((network) => network.networkName === plan.networkName)?.ipAddress;
        if (!address) {
            throw new Error(`Docker reported no address of ${plan.postgres.containerName} on ${plan.networkName}`);
        }
        return address;
    });
    return { host, port: plan.postgres.port };
}

export class DataTier extends pulumi.ComponentResource {
    readonly network: docker.Network;
    readonly credentials: StackCredentials;
    readonly postgres: Postgres;
    readonly schema: PostgresSchema;
    readonly pgbouncer: PgBouncer;
    readonly redis: Redis;
    readonly qdrant?: Qdrant;
    /** Exporters, Prometheus and section 5's alert rules (monitoring.enabled). */
    readonly monitoring?: Monitoring;
    readonly backupStore?: BackupStore;
    readonly backupAgent?: BackupAgent;
    /** Where the backups are and what restore needs to find (no credential). */
    readonly backups: BackupsInfo;
    /** In-network connection strings (section 2.4's host names). Secret. */
    readonly connectionStrings: pulumi.Output<ConnectionStrings>;
    /** The same through the ports published on the Docker host. Secret. */
    readonly hostConnectionStrings: pulumi.Output<ConnectionStrings>;
    /** Each service's .env file, and the operators'. Secret. */
    readonly envFiles: pulumi.Output<Record<string, string>>;
    readonly summary: Record<string, unknown>;
    /** The stack's CA and server certificates (tls.enabled); the CA certificate is exported for clients. */
    readonly tls?: StackTls;
    readonly budgetTables: Record<string, string>;

    constructor(name: string, args: DataTierArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zentoria:index:DataTier", name, {}, opts);
        const { plan } = args;
        const child = { parent: this };

        this.network = new docker.Network(
            `${name}-network`,
            { name: plan.networkName, driver: "bridge", labels: [{ label: "zentoria.stack", value: plan.prefix }] },
            child,
        );
        this.credentials = new StackCredentials(`${name}-credentials`, { plan }, child);
        const postgresLogins = this.credentials.postgres;
        this.tls = stackTls(name, plan, this);
        const addresses = networkAddresses(this.network);

        const { dockerHost } = args;
        if (plan.backups.enabled) {
            this.backupStore = new BackupStore(
                `${name}-backup-store`,
                {
                    plan,
                    redisPassword: this.credentials.redis[plan.backups.redisUser].password,
                    qdrantApiKey: plan.qdrant.enabled ? this.credentials.qdrantApiKey : undefined,
                    dockerHost,
                },
                child,
            );
        }
        const backupStore = this.backupStore;
        this.postgres = new Postgres(
            `${name}-postgres`,
            {
                plan,
                network: this.network,
                networkAddresses: addresses,
                superuserVerifier: postgresLogins[plan.postgres.superuser].verifier,
                pgbouncerConsole: pgbouncerConsole(plan, this.credentials.pgbouncerAdmin.password),
                dockerHost,
                tls: this.tls?.servers.postgres,
                backups: backupStore ? { mount: backupStore.mount, ready: backupStore.files } : undefined,
            },
            child,
        );
        this.schema = new PostgresSchema(
            `${name}-schema`,
            {
                plan,
                ...providerEndpoint(plan, this.postgres.container),
                superuserPassword: postgresLogins[plan.postgres.superuser].password,
                logins: postgresLogins,
                // After the server is up, and after any restart a config change brings.
                serverReady: [this.postgres.container, this.postgres.config],
                socket: {
                    container: plan.postgres.containerName,
                    superuser: plan.postgres.superuser,
                    socketDirectory: CONTAINER_LAYOUT.postgres.socketDirectory,
                    port: plan.postgres.port,
                },
                dockerHost,
            },
            child,
        );

        // With monitoring on, PgBouncer also logs to a file the pool-error counter reads.
        const pgbouncerLog = plan.monitoring.enabled ? pgbouncerLogVolume(`${name}-pgbouncer-log`, plan, this) : undefined;
        this.pgbouncer = new PgBouncer(
            `${name}-pgbouncer`,
            // Roles first: a client that PgBouncer admits must find its role on the server.
            {
                plan,
                network: this.network,
                admin: this.credentials.pgbouncerAdmin,
                logins: postgresLogins,
                logVolume: pgbouncerLog,
                dockerHost,
                tls: this.tls?.servers.pgbouncer ? { material: this.tls.servers.pgbouncer, network: addresses } : undefined,
            },
            { parent: this, dependsOn: Object.values(this.schema.roles) },
        );
        this.redis = new Redis(`${name}-redis`, { plan, network: this.network, logins: this.credentials.redis, dockerHost, tls: this.tls?.servers.redis }, child);
        if (plan.qdrant.enabled) {
            this.qdrant = new Qdrant(
                `${name}-qdrant`,
                {
                    plan,
                    network: this.network,
                    apiKey: this.credentials.qdrantApiKey,
                    readOnlyApiKey: this.credentials.qdrantReadOnlyApiKey,
                    dockerHost,
                    tls: this.tls?.servers.qdrant,
                },
                child,
            );
        }

        if (pgbouncerLog) {
            this.monitoring = new Monitoring(
                `${name}-monitoring`,
                {
                    plan,
                    network: this.network,
                    monitorPassword: postgresLogins[plan.monitoring.role].password,
                    redisMonitorPassword: this.credentials.redis[plan.monitoring.redisUser].password,
                    qdrantReadOnlyApiKey: this.qdrant ? this.credentials.qdrantReadOnlyApiKey : undefined,
                    pgbouncerLog,
                    backupStore: backupStore?.mount,
                    pgbouncerImage: this.pgbouncer.container.image,
                    servers: { postgres: this.postgres.container, pgbouncer: this.pgbouncer.container, redis: this.redis.container, qdrant: this.qdrant?.container },
                    dockerHost,
                },
                child,
            );
        }

        if (backupStore) {
            this.backupAgent = new BackupAgent(
                `${name}-backup`,
                {
                    plan,
                    network: this.network,
                    store: backupStore,
                    provider: this.schema.provider,
                    redisVolume: this.redis.volume,
                    qdrantSnapshotsVolume: this.qdrant?.snapshotsVolume,
                    servers: [this.postgres.container, this.postgres.config, this.redis.container, this.redis.config, ...(this.qdrant ? [this.qdrant.container] : [])],
                },
                child,
            );
        } else {
            new BackupRoleRemoval(
                `${name}-backup-role-removal`,
                {
                    dockerHost,
                    socket: { container: plan.postgres.containerName, superuser: plan.postgres.superuser, socketDirectory: CONTAINER_LAYOUT.postgres.socketDirectory, port: plan.postgres.port },
                    role: plan.backups.role.name,
                },
                { parent: this, dependsOn: [this.postgres.container, this.postgres.config] },
            );
        }
        this.backups = backupsInfo(plan, dockerHost);

        const credentials = this.credentials.plaintext();
        this.connectionStrings = pulumi.secret(credentials.apply((c) => connectionStrings(plan, c, networkEndpoints(plan))));
        this.hostConnectionStrings = pulumi.secret(credentials.apply((c) => connectionStrings(plan, c, publishedEndpoints(plan))));
        this.envFiles = pulumi.secret(credentials.apply((c) => envFiles(plan, c, networkEndpoints(plan))));
        this.summary = summarize(plan);
        this.budgetTables = budgetTables(args.budget);

        this.registerOutputs({ summary: this.summary });
    }
}

/** The backups' output: where they are, and the names `npm run backup` and `npm run restore` work with. */
export function backupsInfo(plan: StackPlan, dockerHost?: string): BackupsInfo {
    const { backups, postgres, pgbouncer, redis, qdrant } = plan;
    const layout = CONTAINER_LAYOUT;
    return {
        enabled: backups.enabled,
        ...(backups.enabled
            ? {
                  store: backups.hostDirectory ?? backups.volumeName,
                  storeKind: backups.hostDirectory ? ("hostDirectory" as const) : ("volume" as const),
                  sidecar: backups.containerName,
              }
            : {}),
        mount: layout.backups.directory,
        image: postgres.image,
        services: [...backups.services],
        intervalHours: backups.intervalHours,
        keepBaseBackups: backups.keepBaseBackups,
        archiveTimeoutSeconds: backups.archiveTimeoutSeconds,
        ...(dockerHost ? { dockerHost } : {}),
        postgres: {
            container: postgres.containerName,
            dataVolume: postgres.volumeName,
            dataVolumeLabels: volumeLabels(serviceLabels(plan, "postgres")),
            configVolume: postgres.configVolumeName,
            dataMount: POSTGRES_VOLUME_MOUNT,
            pgdata: PGDATA,
            socketDirectory: layout.postgres.socketDirectory,
            port: postgres.port,
            superuser: postgres.superuser,
            stopSeconds: POSTGRES_STOP_SECONDS,
        },
        pgbouncer: { container: pgbouncer.containerName, image: pgbouncer.image, configVolume: pgbouncer.configVolumeName, port: pgbouncer.port, adminUser: pgbouncer.adminUser },
        redis: {
            container: redis.containerName,
            image: redis.image,
            dataVolume: redis.volumeName,
            dataVolumeLabels: volumeLabels(serviceLabels(plan, "redis")),
            dataDirectory: layout.redis.dataDirectory,
            appendonly: redis.appendonly,
            stopSeconds: REDIS_STOP_SECONDS,
        },
        ...(qdrant.enabled ? { qdrant: { container: qdrant.containerName, storageVolume: qdrant.volumeName, snapshotsVolume: qdrant.snapshotsVolumeName, httpPort: qdrant.httpPort } } : {}),
    };
}

/** What runs where, without a single credential. */
export function summarize(plan: StackPlan): Record<string, unknown> {
    const published = (publish: { address: string; port: number }) => `${publish.address}:${publish.port}`;
    return {
        network: plan.networkName,
        postgres: {
            container: plan.postgres.containerName,
            host: plan.postgres.hostname,
            port: plan.postgres.port,
            published: published(plan.postgres.publish),
            image: plan.postgres.image,
            maxConnections: plan.postgres.maxConnections,
            databases: plan.databases.map((database) => database.name),
            volume: plan.postgres.volumeName,
        },
        pgbouncer: {
            container: plan.pgbouncer.containerName,
            host: plan.pgbouncer.hostname,
            port: plan.pgbouncer.port,
            published: published(plan.pgbouncer.publish),
            image: plan.pgbouncer.image,
            poolMode: plan.pgbouncer.poolMode,
            maxClientConn: plan.pgbouncer.maxClientConn,
            pools: plan.pools.map((pool) => ({
                database: pool.alias,
                service: pool.service,
                role: pool.role,
                serverDatabase: pool.database,
                poolSize: pool.poolSize,
                maxClientConnections: pool.maxClientConnections,
            })),
        },
        redis: {
            container: plan.redis.containerName,
            host: plan.redis.hostname,
            port: plan.redis.port,
            published: published(plan.redis.publish),
            image: plan.redis.image,
            maxclients: plan.redis.maxclients,
            warningClients: plan.redis.warningClients,
            criticalClients: plan.redis.criticalClients,
            databases: plan.redis.clients.map((client) => ({ database: client.database, client: client.name, user: client.user, purpose: client.purpose })),
            volume: plan.redis.volumeName,
        },
        qdrant: plan.qdrant.enabled
            ? {
                  container: plan.qdrant.containerName,
                  host: plan.qdrant.hostname,
                  httpPort: plan.qdrant.httpPort,
                  grpcPort: plan.qdrant.grpcPort,
                  published: [published(plan.qdrant.publishHttp), published(plan.qdrant.publishGrpc)],
                  image: plan.qdrant.image,
                  volume: plan.qdrant.volumeName,
              }
            : { enabled: false },
        roles: plan.roles.map((role) => ({ name: role.name, access: role.access, connectionLimit: role.connectionLimit })),
        // Section 5's levels: what `npm run status` judges the running stack by.
        thresholds: plan.monitoring.thresholds,
        // Only where it runs: a stack without monitoring keeps its summary as it was.
        ...(plan.monitoring.enabled
            ? {
                  monitoring: {
                      prometheus: {
                          container: plan.monitoring.prometheus.containerName,
                          published: published(plan.monitoring.prometheus.publish),
                          image: plan.monitoring.prometheus.image,
                          volume: plan.monitoring.prometheus.volumeName,
                      },
                      alertmanager: plan.monitoring.alertmanager.enabled
                          ? { container: plan.monitoring.alertmanager.containerName, published: published(plan.monitoring.alertmanager.publish), image: plan.monitoring.alertmanager.image }
                          : { enabled: false },
                      exporters: [plan.monitoring.pgbouncerExporter, plan.monitoring.postgresExporter, plan.monitoring.redisExporter, plan.monitoring.pgbouncerErrors].map((exporter) => ({
                          container: exporter.containerName,
                          image: exporter.image,
                      })),
                  },
              }
            : {}),
    };
}
