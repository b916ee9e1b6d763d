// PostgreSQL's data directory as a resource: created by the image's own init step
// (docker-ensure-initdb.sh, which initialises an empty directory and leaves an existing one
// alone) in a throw-away container, so that the server container never carries the
// superuser's password file in its environment (the official entrypoint exports what
// POSTGRES_PASSWORD_FILE names as POSTGRES_PASSWORD and leaves it there), and guarded against
// a major-version change: PostgreSQL 17 cannot start on a 15 data directory, and deleting the
// old container first would leave nothing running.
import * as pulumi from "@pulumi/pulumi";
import { dockerChecked } from "./dockerCli";

export interface DataDirectoryState {
    dockerHost?: string;
    dataVolume: string;
    configVolume: string;
    /** Where the volumes are mounted in the init container (as in the server container). */
    dataMount: string;
    configMount: string;
    pgdata: string;
    superuser: string;
    /** File on the config volume holding the superuser's SCRAM verifier. */
    verifierFile: string;
    image: string;
    majorVersion: number;
}

export interface DataDirectoryArgs {
    dockerHost?: pulumi.Input<string | undefined>;
    dataVolume: pulumi.Input<string>;
    configVolume: pulumi.Input<string>;
    dataMount: string;
    configMount: string;
    pgdata: string;
    superuser: string;
    verifierFile: string;
    image: pulumi.Input<string>;
    majorVersion: number;
}

export function majorVersionChange(olds: { majorVersion?: number }, news: { majorVersion: number }): string | undefined {
    if (olds.majorVersion === undefined || olds.majorVersion === news.majorVersion) {
        return undefined;
    }
    return (
        `PostgreSQL ${olds.majorVersion} -> ${news.majorVersion}: a data directory cannot change major version in place ` +
        `(the new server refuses to start on it). Keep postgres.image at ${olds.majorVersion}, or upgrade with a dump and ` +
        `restore into a new stack (README: "Upgrading PostgreSQL")`
    );
}

async function ensureInitialised(state: DataDirectoryState): Promise<string> {
    const runArgs = [
        "run",
        "--rm",
        "--network",
        "none",
        "--security-opt",
        "no-new-privileges",
        "--volume",
        `${state.dataVolume}:${state.dataMount}`,
        "--volume",
        `${state.configVolume}:${state.configMount}:ro`,
        "--env",
        `PGDATA=${state.pgdata}`,
        "--env",
        `POSTGRES_USER=${state.superuser}`,
        // Without it the entrypoint creates a database named after the superuser.
        "--env",
        "POSTGRES_DB=postgres",
        "--env",
        `POSTGRES_PASSWORD_FILE=${state.configMount}/${state.verifierFile}`,
        "--entrypoint",
        "docker-ensure-initdb.sh",
        state.image,
    ];
    await dockerChecked(`initialising PostgreSQL's data directory on ${state.dataVolume}`, runArgs, { dockerHost: state.dockerHost, timeoutMs: 300_000 });
    const version = await dockerChecked(
        `reading PG_VERSION on ${state.dataVolume}`,
        ["run", "--rm", "--network", "none", "--volume", `${state.dataVolume}:${state.dataMount}:ro`, "--entrypoint", "cat", state.image, `${state.pgdata}/PG_VERSION`],
        { dockerHost: state.dockerHost, timeoutMs: 120_000 },
    );
    return version.trim();
}

const dataDirectoryProvider: pulumi.dynamic.ResourceProvider = {
    async diff(_id: string, olds: DataDirectoryState, news: DataDirectoryState): Promise<pulumi.dynamic.DiffResult> {
        const refused = majorVersionChange(olds, news);
        if (refused) {
            throw new Error(refused);
        }
        const replaces = olds.dataVolume !== news.dataVolume ? ["dataVolume"] : [];
        return { changes: replaces.length > 0, replaces };
    },

    async create(inputs: DataDirectoryState): Promise<pulumi.dynamic.CreateResult> {
        const found = await ensureInitialised(inputs);
        if (Number(found) !== inputs.majorVersion) {
            throw new Error(
                `volume ${inputs.dataVolume} holds a PostgreSQL ${found} data directory, but postgres.image is PostgreSQL ${inputs.majorVersion}: ` +
                    `use a ${found} image, or another volume (a new prefix) for ${inputs.majorVersion}`,
            );
        }
        return { id: inputs.dataVolume, outs: { ...inputs } };
    },

    async update(_id: string, _olds: DataDirectoryState, news: DataDirectoryState): Promise<pulumi.dynamic.UpdateResult> {
        return { outs: { ...news } };
    },

    // The data stays with its volume (retained or not, as the volume says).
    async delete(): Promise<void> {},
};

export class PostgresDataDirectory extends pulumi.dynamic.Resource {
    constructor(name: string, args: DataDirectoryArgs, opts?: pulumi.CustomResourceOptions) {
        super(dataDirectoryProvider, name, args, opts);
    }
}
