// Backups (README: "Backups and restore"): a backup volume of the stack's own, kept whatever
// `pulumi destroy` does, that PostgreSQL archives its WAL into; and a sidecar container of the
// PostgreSQL image that takes a verified base backup, a Redis RDB copy and a Qdrant snapshot on a
// schedule, as a replication role and a Redis user that can do nothing else.
//
// Two components, because PostgreSQL needs the store before it starts (its archive_command
// writes there) and the sidecar needs PostgreSQL's provider for its role:
//   BackupStore  the volume (or host directory), its directories, the sidecar's files and logins;
//   BackupAgent  the replication role and the sidecar container.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as postgresql from "@pulumi/postgresql";
import * as random from "@pulumi/random";
import { StackPlan } from "../config/plan";
import { BACKUP_DIRECTORIES, renderBackupScript, renderPgpass, renderSchedule, renderSchedulerScript, SIDECAR_FILES, SIDECAR_LAYOUT } from "../render/backup";
import { SCRAM_SALT_BYTES, scramSha256Verifier } from "../render/hashing";
import { serviceLabels } from "../render/labels";
import { CONTAINER_LAYOUT } from "../render/layout";
import { ScramLogin } from "./credentials";
import { BackupStoreFiles } from "./live/backupStore";
import { VolumeFile } from "./live/volumeFiles";
import { configVolume, containerLabels, containerOptions, dataVolume, hardened, healthcheck, localImage } from "./docker";

/** The sidecar runs as the PostgreSQL image's postgres user, which owns the store. */
export const BACKUP_OS_USER = "postgres";
export const BACKUP_STOP_SECONDS = 30;
/** The scheduler touches its heartbeat every 10-30 s; older than this, it is stuck. */
export const HEARTBEAT_STALE_SECONDS = 120;

export interface BackupStoreArgs {
    plan: StackPlan;
    /** The backup user's Redis password (generated with the other Redis users). */
    redisPassword: pulumi.Output<string>;
    qdrantApiKey?: pulumi.Output<string>;
    dockerHost?: string;
}

/** How a container mounts the store: the backup volume, or the host directory the config names. */
export type StoreMount = Pick<docker.types.input.ContainerVolume, "volumeName" | "hostPath">;

export class BackupStore extends pulumi.ComponentResource {
    /** Absent when backups.hostDirectory puts the backups on the Docker host instead. */
    readonly volume?: docker.Volume;
    readonly configVolume: docker.Volume;
    readonly mount: StoreMount;
    /** Written before PostgreSQL starts: the directories exist and belong to postgres. */
    readonly files: BackupStoreFiles;
    /** The replication role's login; the role itself is BackupAgent's. */
    readonly login: ScramLogin;
    readonly image: docker.RemoteImage;

    constructor(name: string, args: BackupStoreArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zentoria:index:BackupStore", name, {}, opts);
        const { plan } = args;
        const backups = plan.backups;
        const labels = serviceLabels(plan, "backup");
        const owner = `${BACKUP_OS_USER}:${BACKUP_OS_USER}`;

        if (backups.hostDirectory) {
            this.mount = { hostPath: backups.hostDirectory };
        } else {
            // Retained always: the backups are what brings a destroyed stack's data back.
            this.volume = dataVolume(`${name}-volume`, backups.volumeName, true, labels, this);
            this.mount = { volumeName: this.volume.name };
        }
        this.configVolume = configVolume(`${name}-config-volume`, backups.configVolumeName, true, labels, this);
        this.image = localImage(`${name}-image`, plan.postgres.image, this);
        this.login = this.replicationLogin(name);

        const files = pulumi
            .all([this.login.password, args.redisPassword, args.qdrantApiKey ?? pulumi.output(undefined)])
            .apply(([password, redisPassword, qdrantApiKey]) => sidecarFiles(plan, owner, { password, redisPassword, qdrantApiKey }));
        this.files = new BackupStoreFiles(
            `${name}-files`,
            {
                dockerHost: args.dockerHost,
                image: this.image.imageId,
                store: this.volume ? this.volume.name : backups.hostDirectory!,
                directories: Object.values(BACKUP_DIRECTORIES),
                readable: [BACKUP_DIRECTORIES.status],
                owner,
                configVolume: this.configVolume.name,
                files,
                settings: {
                    intervalHours: backups.intervalHours,
                    keepBaseBackups: backups.keepBaseBackups,
                    archiveTimeoutSeconds: backups.archiveTimeoutSeconds,
                    store: backups.hostDirectory ?? backups.volumeName,
                },
            },
            { parent: this },
        );
        this.registerOutputs({});
    }

    private replicationLogin(name: string): ScramLogin {
        const password = pulumi.secret(new random.RandomPassword(`${name}-role-password`, { length: 32, special: false }, { parent: this }).result);
        const salt = new random.RandomBytes(`${name}-role-scram-salt`, { length: SCRAM_SALT_BYTES }, { parent: this });
        const verifier = pulumi.all([password, salt.base64]).apply(([plaintext, saltBase64]) => scramSha256Verifier(plaintext, Buffer.from(saltBase64, "base64")));
        return { password, verifier: pulumi.secret(verifier) };
    }
}

/** The sidecar's config volume: its scripts, the schedule, and the logins (mode 0600). */
export function sidecarFiles(plan: StackPlan, owner: string, secrets: { password: string; redisPassword: string; qdrantApiKey?: string }): VolumeFile[] {
    const layout = CONTAINER_LAYOUT;
    const files: VolumeFile[] = [
        { name: SIDECAR_FILES.scheduler, content: renderSchedulerScript(layout), mode: "0755", owner },
        { name: SIDECAR_FILES.backup, content: renderBackupScript(plan, layout), mode: "0755", owner },
        { name: SIDECAR_FILES.schedule, content: renderSchedule(plan), mode: "0644", owner },
        // libpq ignores a password file that others may read.
        { name: SIDECAR_FILES.pgpass, content: renderPgpass(plan, secrets.password), mode: "0600", owner },
        { name: SIDECAR_FILES.redisPassword, content: secrets.redisPassword, mode: "0600", owner },
    ];
    if (plan.qdrant.enabled) {
        if (!secrets.qdrantApiKey) {
            throw new Error("backups: Qdrant is enabled but its API key was not given to the backup store");
        }
        files.push({ name: SIDECAR_FILES.qdrantApiKey, content: secrets.qdrantApiKey, mode: "0600", owner });
    }
    return files;
}

export interface BackupAgentArgs {
    plan: StackPlan;
    network: docker.Network;
    store: BackupStore;
    /** The postgresql provider (PostgresSchema's): the replication role is created through it. */
    provider: postgresql.Provider;
    /** Redis' data volume, mounted read-only: BGSAVE's dump.rdb is copied from it. */
    redisVolume: docker.Volume;
    /** Qdrant's snapshots volume, read-only, when Qdrant runs. */
    qdrantSnapshotsVolume?: docker.Volume;
    /** The servers the sidecar backs up: it starts after them. */
    servers: pulumi.Resource[];
}

export class BackupAgent extends pulumi.ComponentResource {
    readonly role: postgresql.Role;
    readonly container: docker.Container;

    constructor(name: string, args: BackupAgentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zentoria:index:BackupAgent", name, {}, opts);
        const { plan, store } = args;
        const backups = plan.backups;
        const layout = CONTAINER_LAYOUT;

        this.role = new postgresql.Role(
            `${name}-role`,
            {
                name: backups.role.name,
                login: true,
                // Base backups only: no database, no table, exactly pg_basebackup's connections.
                replication: true,
                password: store.login.verifier,
                connectionLimit: backups.role.connectionLimit,
            },
            // Kept with the data like every role (a destroyed stack comes back onto it); turning
            // backups off drops it (BackupRoleRemoval), so access does not outlive them (pitfall 21).
            { parent: this, provider: args.provider, dependsOn: args.servers, retainOnDelete: plan.postgres.retainDataOnDestroy },
        );

        const sources: docker.types.input.ContainerVolume[] = [
            { volumeName: args.redisVolume.name, containerPath: SIDECAR_LAYOUT.redisData, readOnly: true },
            ...(args.qdrantSnapshotsVolume ? [{ volumeName: args.qdrantSnapshotsVolume.name, containerPath: SIDECAR_LAYOUT.qdrantSnapshots, readOnly: true }] : []),
        ];
        this.container = new docker.Container(
            name,
            {
                name: backups.containerName,
                image: store.image.imageId,
                entrypoints: ["/bin/bash"],
                command: [`${SIDECAR_LAYOUT.configDirectory}/${SIDECAR_FILES.scheduler}`],
                volumes: [
                    { ...store.mount, containerPath: layout.backups.directory },
                    { volumeName: store.configVolume.name, containerPath: SIDECAR_LAYOUT.configDirectory, readOnly: true },
                    ...sources,
                ],
                networksAdvanced: [{ name: args.network.name }],
                ...hardened(plan.containers, { memory: backups.memory, user: BACKUP_OS_USER, tmpfs: { "/tmp": "rw,mode=1777" } }),
                // The scheduler is alive; a failed backup shows in the status files, the log and `npm run backup`.
                healthcheck: healthcheck([
                    "CMD",
                    "bash",
                    "-c",
                    `test $(( $(date +%s) - $(stat -c %Y ${SIDECAR_LAYOUT.heartbeat}) )) -lt ${HEARTBEAT_STALE_SECONDS}`,
                ]),
                restart: "unless-stopped",
                wait: true,
                waitTimeout: 120,
                stopTimeout: BACKUP_STOP_SECONDS,
                destroyGraceSeconds: BACKUP_STOP_SECONDS,
                labels: containerLabels(serviceLabels(plan, "backup")),
            },
            containerOptions(this, { dependsOn: [store.files, this.role, ...args.servers] }),
        );
        this.registerOutputs({ containerName: this.container.name });
    }
}

/** What `npm run backup` and `npm run restore` need to find everything (no credential). */
export interface BackupsInfo {
    enabled: boolean;
    /** `docker run --volume` source of the store. */
    store?: string;
    storeKind?: "volume" | "hostDirectory";
    mount: string;
    sidecar?: string;
    image: string;
    /** The services each run backs up (absent in outputs of stacks deployed before it was exported). */
    services?: string[];
    intervalHours: number;
    keepBaseBackups: number;
    archiveTimeoutSeconds: number;
    dockerHost?: string;
    postgres: {
        container: string;
        dataVolume: string;
        /** The data volume's labels, for a restore that has to create it again exactly so. */
        dataVolumeLabels: Record<string, string>;
        configVolume: string;
        dataMount: string;
        pgdata: string;
        socketDirectory: string;
        port: number;
        superuser: string;
        stopSeconds: number;
    };
    pgbouncer: { container: string; image: string; configVolume: string; port: number; adminUser: string };
    redis: { container: string; image: string; dataVolume: string; dataVolumeLabels: Record<string, string>; dataDirectory: string; appendonly: boolean; stopSeconds: number };
    qdrant?: { container: string; storageVolume: string; snapshotsVolume: string; httpPort: number };
}
