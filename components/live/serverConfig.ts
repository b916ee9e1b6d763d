// ServerConfig: a server's rendered files as a resource of their own. Creating it writes the
// files onto the server's config volume (before the container exists); changing it writes them
// again and applies the change to the running server the least disruptive way (see apply.ts).
// Replacing the container is left to the cases where Docker must: an image, a port, a mount.
//
// The preview shows the change as an update of `<name>-config` with the settings that change:
// `live` for what is applied by a reload, `restart` for what needs a restart of the same
// container. File contents are secret (they carry verifiers, hashes and keys) and show only as
// `files: [secret]`.
import * as pulumi from "@pulumi/pulumi";
import { logInfo } from "./log";
import {
    applyByRestart,
    applyPgbouncer,
    applyPostgres,
    applyPrometheus,
    applyQdrant,
    applyRedis,
    changedKeys,
    ChangeContext,
    PgbouncerAccess,
    PostgresAccess,
    PrometheusAccess,
    RedisAccess,
    Settings,
} from "./apply";
import { VolumeFile, writeVolumeFiles } from "./volumeFiles";

export type ServerKind = "postgres" | "pgbouncer" | "redis" | "qdrant" | "prometheus" | "exporter";

export type ServerAccess =
    | { kind: "postgres"; postgres: PostgresAccess }
    | { kind: "pgbouncer"; pgbouncer: PgbouncerAccess }
    | { kind: "redis"; redis: RedisAccess }
    | { kind: "qdrant"; stopSeconds: number }
    | { kind: "prometheus"; prometheus: PrometheusAccess }
    /** Monitoring containers that read their files only at start: restarted on a change. */
    | { kind: "exporter"; stopSeconds: number };

export interface ServerConfigState {
    kind: ServerKind;
    dockerHost?: string;
    container: string;
    volume: string;
    /** Image the writer container runs (the server's own). */
    image: string;
    files: VolumeFile[];
    live: Settings;
    restart: Settings;
}

interface ServerConfigInputs extends ServerConfigState {
    access: ServerAccess;
}

export interface ServerConfigArgs {
    kind: ServerKind;
    dockerHost?: pulumi.Input<string | undefined>;
    container: pulumi.Input<string>;
    volume: pulumi.Input<string>;
    image: pulumi.Input<string>;
    files: pulumi.Input<pulumi.Input<VolumeFile>[]>;
    live: pulumi.Input<Settings>;
    restart: pulumi.Input<Settings>;
    access: pulumi.Input<ServerAccess>;
}

function sameJson(a: unknown, b: unknown): boolean {
    return JSON.stringify(a) === JSON.stringify(b);
}

export function changedFiles(before: readonly VolumeFile[] = [], after: readonly VolumeFile[]): string[] {
    const old = new Map(before.map((file) => [file.name, file]));
    return after.filter((file) => !sameJson(old.get(file.name), file)).map((file) => file.name);
}

/** Roles whose verifier differs between two PgBouncer configurations (new roles are not rotations). */
export function rotatedRoles(before: ServerAccess | undefined, after: ServerAccess): string[] {
    if (before?.kind !== "pgbouncer" || after.kind !== "pgbouncer") {
        return [];
    }
    return Object.keys(after.pgbouncer.logins)
        .filter((role) => before.pgbouncer.logins[role] && before.pgbouncer.logins[role].verifier !== after.pgbouncer.logins[role].verifier)
        .sort();
}

/** The state kept after a create or update: everything but `access` except what rotation compares. */
function outputsOf(inputs: ServerConfigInputs): ServerConfigState & { access: ServerAccess } {
    return { ...inputs };
}

async function applyChange(olds: ServerConfigInputs, news: ServerConfigInputs): Promise<void> {
    const context: ChangeContext = {
        dockerHost: news.dockerHost,
        container: news.container,
        oldLive: olds.live ?? {},
        newLive: news.live,
        oldRestart: olds.restart ?? {},
        newRestart: news.restart,
        changedFiles: changedFiles(olds.files, news.files),
        log: (message) => logInfo(message),
    };
    const access = news.access;
    switch (access.kind) {
        case "pgbouncer":
            return applyPgbouncer(context, access.pgbouncer, rotatedRoles(olds.access, access));
        case "postgres":
            return applyPostgres(context, access.postgres);
        case "redis":
            return applyRedis(context, access.redis);
        case "qdrant":
            return applyQdrant(context, access.stopSeconds);
        case "prometheus":
            return applyPrometheus(context, access.prometheus);
        case "exporter":
            return applyByRestart(context, access.stopSeconds);
    }
}

const serverConfigProvider: pulumi.dynamic.ResourceProvider = {
    async diff(_id: string, olds: ServerConfigInputs, news: ServerConfigInputs): Promise<pulumi.dynamic.DiffResult> {
        const replaces = (["kind", "volume"] as const).filter((key) => olds[key] !== news[key]);
        const changes =
            replaces.length > 0 ||
            olds.container !== news.container ||
            !sameJson(olds.files, news.files) ||
            !sameJson(olds.live, news.live) ||
            !sameJson(olds.restart, news.restart) ||
            rotatedRoles(olds.access, news.access).length > 0;
        return { changes, replaces };
    },

    async create(inputs: ServerConfigInputs): Promise<pulumi.dynamic.CreateResult> {
        await writeVolumeFiles(inputs.volume, inputs.image, inputs.files, inputs.dockerHost);
        return { id: `${inputs.volume}`, outs: outputsOf(inputs) };
    },

    async update(_id: string, olds: ServerConfigInputs, news: ServerConfigInputs): Promise<pulumi.dynamic.UpdateResult> {
        await writeVolumeFiles(news.volume, news.image, news.files, news.dockerHost);
        await applyChange(olds, news);
        return { outs: outputsOf(news) };
    },

    // The volume and its files go with the volume resource.
    async delete(): Promise<void> {},
};

export class ServerConfig extends pulumi.dynamic.Resource {
    declare readonly live: pulumi.Output<Settings>;
    declare readonly restart: pulumi.Output<Settings>;

    constructor(name: string, args: ServerConfigArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            serverConfigProvider,
            name,
            {
                ...args,
                // Contents and logins are secrets in state and in the preview.
                files: pulumi.secret(args.files),
                access: pulumi.secret(args.access),
            },
            opts,
        );
    }
}

export { changedKeys };
