// The backup store as a resource: the backup volume (or host directory) laid out with
// directories owned by the PostgreSQL image's postgres user, and the sidecar's scripts and logins
// on its config volume. Created before PostgreSQL starts archiving into it; a change writes the
// files again, which the sidecar reads at its next run (nothing to restart).
//
// Runs inside Pulumi's dynamic provider (serialized): imported modules and constants only.
import * as pulumi from "@pulumi/pulumi";
import { sqlIdentifier, sqlLiteral } from "../../render/quote";
import { PostgresSocketAccess, postgresSql } from "./consoles";
import { dockerChecked } from "./dockerCli";
import { logInfo } from "./log";
import { THROWAWAY_ROOT_SHELL, VolumeFile, writeVolumeFiles } from "./volumeFiles";

export interface BackupStoreState {
    dockerHost?: string;
    /** Image of the throw-away containers (the PostgreSQL image: its postgres user owns the store). */
    image: string;
    /** `docker run --volume` source of the store: a volume name or an absolute host path. */
    store: string;
    /** Directories below the store's root, created 0700 unless listed in `readable`. */
    directories: string[];
    /** Directories others may read (the status files, for a metrics reader). */
    readable: string[];
    owner: string;
    configVolume: string;
    files: VolumeFile[];
    /** What the preview shows of a change: the schedule and retention. */
    settings: Record<string, string | number>;
}

const MOUNT = "/zentoria-backups";

export function prepareScript(state: Pick<BackupStoreState, "directories" | "readable" | "owner">): string {
    const word = (value: string) => {
        if (!/^[a-z0-9_./:-]+$/.test(value) || value.split("/").includes("..")) {
            throw new Error(`backup store: unsafe path or owner ${JSON.stringify(value)}`);
        }
        return value;
    };
    const lines = ["set -eu", `install -d -o ${word(state.owner.split(":")[0])} -g ${word(state.owner.split(":")[1])} -m 0755 ${MOUNT}`];
    for (const directory of state.directories) {
        const mode = state.readable.includes(directory) ? "0755" : "0700";
        // install -d creates the parents too, and fixes owner and mode of directories that exist.
        lines.push(`install -d -o ${word(state.owner.split(":")[0])} -g ${word(state.owner.split(":")[1])} -m ${mode} ${MOUNT}/${word(directory)}`);
    }
    return lines.join("\n");
}

async function prepareStore(state: BackupStoreState): Promise<void> {
    await dockerChecked(
        `preparing the backup store ${state.store}`,
        [
            "run",
            "--rm",
            ...THROWAWAY_ROOT_SHELL,
            "--volume",
            `${state.store}:${MOUNT}`,
            state.image,
            "-c",
            prepareScript(state),
        ],
        { dockerHost: state.dockerHost, timeoutMs: 180_000 },
    );
}

async function apply(state: BackupStoreState): Promise<void> {
    await prepareStore(state);
    await writeVolumeFiles(state.configVolume, state.image, state.files, state.dockerHost);
}

const backupStoreProvider: pulumi.dynamic.ResourceProvider = {
    async diff(_id: string, olds: BackupStoreState, news: BackupStoreState): Promise<pulumi.dynamic.DiffResult> {
        // The image is only the tool; a new one changes nothing on the store.
        const keys = ["store", "directories", "readable", "owner", "configVolume", "files", "settings"] as const;
        const changes = keys.some((key) => JSON.stringify(olds[key]) !== JSON.stringify(news[key]));
        return { changes };
    },

    async create(inputs: BackupStoreState): Promise<pulumi.dynamic.CreateResult> {
        await apply(inputs);
        return { id: inputs.store, outs: { ...inputs } };
    },

    async update(_id: string, _olds: BackupStoreState, news: BackupStoreState): Promise<pulumi.dynamic.UpdateResult> {
        await apply(news);
        return { outs: { ...news } };
    },

    // The backups stay: the store is never deleted by the program.
    async delete(): Promise<void> {},
};

export interface BackupStoreArgs {
    dockerHost?: pulumi.Input<string | undefined>;
    image: pulumi.Input<string>;
    store: pulumi.Input<string>;
    directories: string[];
    readable: string[];
    owner: string;
    configVolume: pulumi.Input<string>;
    files: pulumi.Input<pulumi.Input<VolumeFile>[]>;
    settings: Record<string, string | number>;
}

export class BackupStoreFiles extends pulumi.dynamic.Resource {
    constructor(name: string, args: BackupStoreArgs, opts?: pulumi.CustomResourceOptions) {
        // File contents carry the backup logins: secret in state and in the preview.
        super(backupStoreProvider, name, { ...args, files: pulumi.secret(args.files) }, opts);
    }
}

export interface BackupRoleRemovalState {
    dockerHost?: string;
    socket: PostgresSocketAccess;
    role: string;
}

/**
 * Backups off: the replication role goes. Like every role, it is kept when its resource goes
 * (a destroyed stack keeps its roles with its data); this takes its access away when the
 * backups are turned off, as the access reconciler does for a role taken out of the plan.
 */
async function removeBackupRole(state: BackupRoleRemovalState): Promise<void> {
    const literal = sqlLiteral(state.role);
    const exists = await postgresSql(state.socket, `SELECT 1 FROM pg_roles WHERE rolname = ${literal}`, "postgres", state.dockerHost);
    if (exists.trim() !== "1") {
        return;
    }
    await postgresSql(
        state.socket,
        `ALTER ROLE ${sqlIdentifier(state.role)} NOLOGIN;\nSELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = ${literal};\nDROP ROLE ${sqlIdentifier(state.role)};`,
        "postgres",
        state.dockerHost,
    );
    logInfo(`backups are off: dropped the replication role ${state.role}`);
}

const backupRoleRemovalProvider: pulumi.dynamic.ResourceProvider = {
    async diff(_id: string, olds: BackupRoleRemovalState, news: BackupRoleRemovalState): Promise<pulumi.dynamic.DiffResult> {
        return { changes: olds.role !== news.role };
    },
    async create(inputs: BackupRoleRemovalState): Promise<pulumi.dynamic.CreateResult> {
        await removeBackupRole(inputs);
        return { id: `without-${inputs.role}`, outs: { ...inputs } };
    },
    async update(_id: string, _olds: BackupRoleRemovalState, news: BackupRoleRemovalState): Promise<pulumi.dynamic.UpdateResult> {
        await removeBackupRole(news);
        return { outs: { ...news } };
    },
    async delete(): Promise<void> {},
};

export class BackupRoleRemoval extends pulumi.dynamic.Resource {
    constructor(name: string, args: { dockerHost?: string; socket: PostgresSocketAccess; role: string }, opts?: pulumi.CustomResourceOptions) {
        super(backupRoleRemovalProvider, name, args, opts);
    }
}
