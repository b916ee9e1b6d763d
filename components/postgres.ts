// PostgreSQL (container 404, direct connections): data on a named volume, the rendered
// postgresql.conf, pg_hba.conf and pg_ident.conf on a config volume of their own, applied to
// the running server by reload (or a restart behind PgBouncer's PAUSE where PostgreSQL needs
// one), and a TCP healthcheck.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { StackPlan } from "../config/plan";
import { needsRestart } from "../config/postgresSettings";
import { serviceLabels } from "../render/labels";
import { CONTAINER_LAYOUT } from "../render/layout";
import { hbaRules, NetworkAddresses, postgresSettings, renderPgHbaConf, renderPgIdentConf, renderPostgresqlConf } from "../render/postgresql";
import { PgbouncerConsoleAccess } from "./live/consoles";
import { PostgresDataDirectory } from "./live/dataDirectory";
import { ServerConfig } from "./live/serverConfig";
import { Settings } from "./live/apply";
import { ServerTlsMaterial, tlsVolumeFiles } from "./tls";
import { configVolume, containerLabels, containerOptions, dataVolume, hardened, healthcheck, localImage, megabytes, publishedPort } from "./docker";

/** The data directory lives one level below the mount point, so a volume's lost+found never bothers initdb. */
export const POSTGRES_VOLUME_MOUNT = "/var/lib/postgresql/data";
export const PGDATA = `${POSTGRES_VOLUME_MOUNT}/pgdata`;
/** The official image's postgres user and group. */
export const POSTGRES_OS_USER = "postgres";
/** Seconds for a clean shutdown checkpoint before Docker kills the server. */
export const POSTGRES_STOP_SECONDS = 60;

export interface PostgresArgs {
    plan: StackPlan;
    network: docker.Network;
    networkAddresses: pulumi.Output<NetworkAddresses>;
    superuserVerifier: pulumi.Output<string>;
    /** PgBouncer's console, to pause the pools around a restart. */
    pgbouncerConsole: pulumi.Output<PgbouncerConsoleAccess>;
    dockerHost?: string;
    /** TLS certificate and key (issue 11); absent when tls.enabled is false. */
    tls?: ServerTlsMaterial;
    /** The backup store, mounted where archive_command writes (render/backup.ts); ready before the server starts. */
    backups?: { mount: docker.types.input.ContainerVolume; ready: pulumi.Resource };
}

/** Settings split by what applying them takes, from PostgreSQL's own context of each setting. */
export function settingsByApplication(plan: StackPlan): { live: Settings; restart: Settings } {
    const live: Settings = {};
    const restart: Settings = {};
    for (const [name, value] of postgresSettings(plan, CONTAINER_LAYOUT)) {
        (needsRestart(plan.postgres.majorVersion, name) ? restart : live)[name] = value;
    }
    return { live, restart };
}

export class Postgres extends pulumi.ComponentResource {
    readonly container: docker.Container;
    readonly volume: docker.Volume;
    readonly configVolume: docker.Volume;
    readonly config: ServerConfig;
    readonly dataDirectory: PostgresDataDirectory;
    readonly postgresqlConf: string;
    readonly pgHbaConf: pulumi.Output<string>;

    constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zentoria:index:Postgres", name, {}, opts);
        const { plan } = args;
        const postgres = plan.postgres;
        const layout = CONTAINER_LAYOUT;
        const labels = serviceLabels(plan, "postgres");
        const owner = `${POSTGRES_OS_USER}:${POSTGRES_OS_USER}`;
        const fileName = (path: string) => path.slice(layout.postgres.configDirectory.length + 1);

        this.postgresqlConf = renderPostgresqlConf(plan, layout);
        this.pgHbaConf = args.networkAddresses.apply((network) => renderPgHbaConf(hbaRules(plan, network)));
        this.volume = dataVolume(`${name}-data`, postgres.volumeName, postgres.retainDataOnDestroy, labels, this);
        this.configVolume = configVolume(`${name}-config-volume`, postgres.configVolumeName, postgres.retainDataOnDestroy, labels, this);
        const image = localImage(`${name}-image`, postgres.image, this);
        const { live, restart } = settingsByApplication(plan);

        this.config = new ServerConfig(
            `${name}-config`,
            {
                kind: "postgres",
                dockerHost: args.dockerHost,
                container: postgres.containerName,
                volume: this.configVolume.name,
                image: image.imageId,
                files: pulumi.all([this.pgHbaConf, args.superuserVerifier, tlsVolumeFiles(args.tls, owner)]).apply(([hba, verifier, tlsFiles]) => [
                    { name: fileName(layout.postgres.configFile), content: this.postgresqlConf, mode: "0644", owner },
                    { name: fileName(layout.postgres.hbaFile), content: hba, mode: "0640", owner },
                    { name: fileName(layout.postgres.identFile), content: renderPgIdentConf(plan), mode: "0640", owner },
                    // Read by the init step only: the superuser is created with this verifier.
                    { name: fileName(layout.postgres.superuserVerifierFile), content: verifier, mode: "0600", owner },
                    ...tlsFiles,
                ]),
                // pg_hba.conf's rules show in the preview too; they apply on reload.
                live: this.pgHbaConf.apply((hba): Settings => ({ ...live, "pg_hba.conf": hba.split("\n").filter((line) => /^(local|host)/.test(line)).join("; ") })),
                restart,
                access: args.pgbouncerConsole.apply((pgbouncer) => ({
                    kind: "postgres" as const,
                    postgres: {
                        socket: { container: postgres.containerName, superuser: postgres.superuser, socketDirectory: layout.postgres.socketDirectory, port: postgres.port },
                        pgbouncer,
                        stopSeconds: POSTGRES_STOP_SECONDS,
                    },
                })),
            },
            { parent: this },
        );

        this.dataDirectory = new PostgresDataDirectory(
            `${name}-data-directory`,
            {
                dockerHost: args.dockerHost,
                dataVolume: this.volume.name,
                configVolume: this.configVolume.name,
                dataMount: POSTGRES_VOLUME_MOUNT,
                configMount: layout.postgres.configDirectory,
                pgdata: PGDATA,
                superuser: postgres.superuser,
                verifierFile: fileName(layout.postgres.superuserVerifierFile),
                image: image.imageId,
                majorVersion: postgres.majorVersion,
            },
            { parent: this, dependsOn: [this.config] },
        );

        this.container = new docker.Container(
            name,
            {
                name: postgres.containerName,
                image: image.imageId,
                hostname: postgres.hostname,
                command: ["postgres", "-c", `config_file=${layout.postgres.configFile}`],
                // No password variable: the data directory exists already (dataDirectory).
                envs: [`PGDATA=${PGDATA}`],
                volumes: [
                    { volumeName: this.volume.name, containerPath: POSTGRES_VOLUME_MOUNT },
                    { volumeName: this.configVolume.name, containerPath: layout.postgres.configDirectory, readOnly: true },
                    ...(args.backups ? [{ ...args.backups.mount, containerPath: layout.backups.directory }] : []),
                ],
                networksAdvanced: [{ name: args.network.name, aliases: [postgres.hostname] }],
                ports: [publishedPort(postgres.port, postgres.publish)],
                // Parallel queries and index builds use /dev/shm; Docker's default is 64 MB.
                shmSize: megabytes(postgres.shmSize),
                ...hardened(plan.containers, {
                    memory: postgres.memory,
                    // The image's postgres user from the start: no root entrypoint, so no capabilities.
                    user: POSTGRES_OS_USER,
                    tmpfs: { [layout.postgres.socketDirectory]: "rw,mode=1777", "/tmp": "rw,mode=1777" },
                }),
                // TCP, not the socket: the init-time server listens on the socket only (pitfall 13).
                healthcheck: healthcheck(["CMD", "pg_isready", "-h", "127.0.0.1", "-p", String(postgres.port), "-U", postgres.superuser, "-d", "postgres"]),
                restart: "unless-stopped",
                wait: true,
                waitTimeout: 300,
                // Give PostgreSQL time for a clean shutdown checkpoint (SIGINT, the image's stop signal).
                destroyGraceSeconds: POSTGRES_STOP_SECONDS,
                stopTimeout: POSTGRES_STOP_SECONDS,
                labels: containerLabels(labels),
            },
            containerOptions(this, { dependsOn: [this.config, this.dataDirectory, ...(args.backups ? [args.backups.ready] : [])] }),
        );
        this.registerOutputs({ containerName: this.container.name, volumeName: this.volume.name });
    }
}
