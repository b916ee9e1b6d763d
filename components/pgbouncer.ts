// PgBouncer, the host every service connects to (zentoria-db:6432, section 2.4), in a
// container of its own: sharing PostgreSQL's network namespace does not survive a restart of
// either Docker or PostgreSQL (see DEVIATIONS). Config and userlist are rendered from the plan.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { StackPlan } from "../config/plan";
import { CONTAINER_LAYOUT } from "../render/layout";
import { serviceLabels } from "../render/labels";
import { pgbouncerUserlistEntries, renderPgbouncerIni, renderUserlist } from "../render/pgbouncer";
import { containerLabels, containerOptions, healthcheck, localImage, publishedPort, uploads } from "./docker";

export interface PgBouncerArgs {
    plan: StackPlan;
    network: docker.Network;
    adminVerifier: pulumi.Output<string>;
    /** SCRAM verifier per PostgreSQL role (those PgBouncer does not log in as are ignored). */
    roleVerifiers: Readonly<Record<string, pulumi.Output<string>>>;
}

export class PgBouncer extends pulumi.ComponentResource {
    readonly container: docker.Container;
    readonly pgbouncerIni: string;
    readonly userlist: pulumi.Output<string>;

    constructor(name: string, args: PgBouncerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zentoria:index:PgBouncer", name, {}, opts);
        const { plan } = args;
        const pgbouncer = plan.pgbouncer;
        const layout = CONTAINER_LAYOUT;
        const labels = serviceLabels(plan, "pgbouncer");

        this.pgbouncerIni = renderPgbouncerIni(plan, layout);
        this.userlist = pulumi.secret(
            pulumi
                .all([args.adminVerifier, pulumi.all(args.roleVerifiers)])
                .apply(([adminVerifier, roleVerifiers]) => renderUserlist(pgbouncerUserlistEntries(plan, adminVerifier, roleVerifiers))),
        );
        const image = localImage(`${name}-image`, pgbouncer.image, this);

        this.container = new docker.Container(
            name,
            {
                name: pgbouncer.containerName,
                image: image.imageId,
                hostname: pgbouncer.hostname,
                networksAdvanced: [{ name: args.network.name, aliases: [pgbouncer.hostname] }],
                ports: [publishedPort(pgbouncer.port, pgbouncer.publish)],
                entrypoints: ["pgbouncer"],
                command: [layout.pgbouncer.configFile],
                uploads: uploads([
                    { path: layout.pgbouncer.configFile, content: this.pgbouncerIni },
                    { path: layout.pgbouncer.userlistFile, content: this.userlist },
                ]),
                // Every client and server connection is a file descriptor (pitfall 8).
                ulimits: [{ name: "nofile", soft: pgbouncer.fileDescriptorLimit, hard: pgbouncer.fileDescriptorLimit }],
                healthcheck: healthcheck(["CMD", "pg_isready", "-h", "127.0.0.1", "-p", String(pgbouncer.port), "-d", "pgbouncer", "-U", pgbouncer.adminUser]),
                restart: "unless-stopped",
                wait: true,
                waitTimeout: 120,
                labels: containerLabels(labels),
            },
            containerOptions(this, { additionalSecretOutputs: ["uploads"] }),
        );
        this.registerOutputs({ containerName: this.container.name });
    }
}
