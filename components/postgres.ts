// PostgreSQL (container 404, direct connections): rendered postgresql.conf and pg_hba.conf, data on a named
// volume, a TCP healthcheck, and the superuser created from a SCRAM verifier.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { StackPlan } from "../config/plan";
import { CONTAINER_LAYOUT } from "../render/layout";
import { serviceLabels } from "../render/labels";
import { renderPgHbaConf, renderPostgresqlConf } from "../render/postgresql";
import { containerLabels, containerOptions, dataVolume, healthcheck, localImage, publishedPort, uploads } from "./docker";

/** The data directory lives one level below the mount point, so a volume's lost+found never bothers initdb. */
export const POSTGRES_VOLUME_MOUNT = "/var/lib/postgresql/data";
export const PGDATA = `${POSTGRES_VOLUME_MOUNT}/pgdata`;

export interface PostgresArgs {
    plan: StackPlan;
    network: docker.Network;
    superuserVerifier: pulumi.Output<string>;
}

export class Postgres extends pulumi.ComponentResource {
    readonly container: docker.Container;
    readonly volume: docker.Volume;
    readonly postgresqlConf: string;
    readonly pgHbaConf: string;

    constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zentoria:index:Postgres", name, {}, opts);
        const { plan } = args;
        const postgres = plan.postgres;
        const layout = CONTAINER_LAYOUT;
        const labels = serviceLabels(plan, "postgres");

        this.postgresqlConf = renderPostgresqlConf(plan, layout);
        this.pgHbaConf = renderPgHbaConf();
        this.volume = dataVolume(`${name}-data`, postgres.volumeName, postgres.retainDataOnDestroy, labels, this);
        const image = localImage(`${name}-image`, postgres.image, this);

        this.container = new docker.Container(
            name,
            {
                name: postgres.containerName,
                image: image.imageId,
                hostname: postgres.hostname,
                // The image's entrypoint initialises an empty data directory, then runs this.
                command: ["postgres", "-c", `config_file=${layout.postgres.configFile}`],
                envs: [
                    `PGDATA=${PGDATA}`,
                    `POSTGRES_USER=${postgres.superuser}`,
                    // A verifier, not a password: PostgreSQL stores it as the superuser's secret.
                    `POSTGRES_PASSWORD_FILE=${layout.postgres.superuserVerifierFile}`,
                ],
                uploads: uploads([
                    { path: layout.postgres.configFile, content: this.postgresqlConf },
                    { path: layout.postgres.hbaFile, content: this.pgHbaConf },
                    { path: layout.postgres.superuserVerifierFile, content: args.superuserVerifier },
                ]),
                volumes: [{ volumeName: this.volume.name, containerPath: POSTGRES_VOLUME_MOUNT }],
                networksAdvanced: [{ name: args.network.name, aliases: [postgres.hostname] }],
                ports: [publishedPort(postgres.port, postgres.publish)],
                // TCP, not the socket: the init-time server listens on the socket only (pitfall 13).
                healthcheck: healthcheck(["CMD", "pg_isready", "-h", "127.0.0.1", "-p", String(postgres.port), "-U", postgres.superuser, "-d", "postgres"]),
                restart: "unless-stopped",
                wait: true,
                waitTimeout: 300,
                // Give PostgreSQL time for a clean shutdown checkpoint.
                destroyGraceSeconds: 60,
                stopTimeout: 60,
                labels: containerLabels(labels),
            },
            containerOptions(this, { additionalSecretOutputs: ["uploads"] }),
        );
        this.registerOutputs({ containerName: this.container.name, volumeName: this.volume.name });
    }
}
