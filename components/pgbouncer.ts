// PgBouncer, the host every service connects to (zentoria-db:6432, section 2.4), in a
// container of its own: sharing PostgreSQL's network namespace does not survive a restart of
// either Docker or PostgreSQL (see DEVIATIONS). pgbouncer.ini and userlist.txt live on a config
// volume and every change is applied with RELOAD: clients keep their connections.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { StackPlan } from "../config/plan";
import { serviceLabels } from "../render/labels";
import { CONTAINER_LAYOUT } from "../render/layout";
import { MONITORING_LAYOUT } from "../render/monitoring";
import { PGBOUNCER_HBA_FILE_NAME, pgbouncerLiveSettings, pgbouncerUserlistEntries, renderPgbouncerHba, renderPgbouncerIni, renderUserlist } from "../render/pgbouncer";
import { NetworkAddresses } from "../render/postgresql";
import { certificateFingerprint, ServerTlsMaterial, tlsVolumeFiles } from "./tls";
import { ScramLogin } from "./credentials";
import { PgbouncerConsoleAccess } from "./live/consoles";
import { RotatedLogin } from "./live/apply";
import { ServerConfig } from "./live/serverConfig";
import { VolumeFile } from "./live/volumeFiles";
import { configVolume, containerLabels, containerOptions, hardened, healthcheck, localImage, publishedPort } from "./docker";

/** The user and group of the default image (cloudnative-pg/pgbouncer-containers) and the stand-ins. */
export const PGBOUNCER_OS_USER = "pgbouncer";
/**
 * PgBouncer 1.23 and later wait for every client to leave on SIGTERM; SIGINT is its "safe
 * shutdown" (running transactions finish, then it exits), which is what `docker stop` wants.
 */
export const PGBOUNCER_STOP_SIGNAL = "SIGINT";
export const PGBOUNCER_STOP_SECONDS = 30;

export interface PgBouncerArgs {
    plan: StackPlan;
    network: docker.Network;
    admin: ScramLogin;
    /** Every PostgreSQL role's login (those PgBouncer does not log in as are ignored). */
    logins: Readonly<Record<string, ScramLogin>>;
    /** With monitoring on: the volume PgBouncer writes its log file to (components/monitoring.ts). */
    logVolume?: docker.Volume;
    dockerHost?: string;
    /** TLS of the client side (issue 11), with the network's addresses for its HBA file; absent when tls.enabled is false. */
    tls?: { material: ServerTlsMaterial; network: pulumi.Output<NetworkAddresses> };
}

/** The admin console as the live-change resources reach it (docker exec, inside the container). */
export function pgbouncerConsole(plan: StackPlan, adminPassword: pulumi.Output<string>): pulumi.Output<PgbouncerConsoleAccess> {
    return adminPassword.apply((password) => ({
        container: plan.pgbouncer.containerName,
        port: plan.pgbouncer.port,
        adminUser: plan.pgbouncer.adminUser,
        adminPassword: password,
    }));
}

/** Per pooled role: its login and a PgBouncer database it may use, to apply a rotation. */
function rotationLogins(plan: StackPlan, logins: Readonly<Record<string, ScramLogin>>): pulumi.Output<Record<string, RotatedLogin>> {
    const entries = plan.pgbouncer.users.map((user) => {
        const database = plan.pools.find((pool) => pool.role === user.role)?.alias ?? "pgbouncer";
        const login = logins[user.role];
        return pulumi.all([login.verifier, login.password]).apply(([verifier, password]): [string, RotatedLogin] => [user.role, { role: user.role, verifier, password, database }]);
    });
    return pulumi.all(entries).apply((pairs) => Object.fromEntries(pairs));
}

export class PgBouncer extends pulumi.ComponentResource {
    readonly container: docker.Container;
    readonly configVolume: docker.Volume;
    readonly config: ServerConfig;
    readonly pgbouncerIni: string;
    readonly userlist: pulumi.Output<string>;

    constructor(name: string, args: PgBouncerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zentoria:index:PgBouncer", name, {}, opts);
        const { plan } = args;
        const pgbouncer = plan.pgbouncer;
        const layout = CONTAINER_LAYOUT;
        const labels = serviceLabels(plan, "pgbouncer");
        const owner = `${PGBOUNCER_OS_USER}:${PGBOUNCER_OS_USER}`;
        const fileName = (path: string) => path.slice(layout.pgbouncer.configDirectory.length + 1);

        this.pgbouncerIni = renderPgbouncerIni(plan, layout);
        const roleVerifiers = pulumi.all(Object.fromEntries(Object.entries(args.logins).map(([role, login]) => [role, login.verifier])));
        this.userlist = pulumi.secret(
            pulumi.all([args.admin.verifier, roleVerifiers]).apply(([adminVerifier, verifiers]) => renderUserlist(pgbouncerUserlistEntries(plan, adminVerifier, verifiers))),
        );
        this.configVolume = configVolume(`${name}-config-volume`, pgbouncer.configVolumeName, plan.postgres.retainDataOnDestroy, labels, this);
        const image = localImage(`${name}-image`, pgbouncer.image, this);

        this.config = new ServerConfig(
            `${name}-config`,
            {
                kind: "pgbouncer",
                dockerHost: args.dockerHost,
                container: pgbouncer.containerName,
                volume: this.configVolume.name,
                image: image.imageId,
                files: pulumi.all([this.userlist, tlsVolumeFiles(args.tls?.material, owner), hbaFiles(plan, args.tls?.network, owner)]).apply(([userlist, tlsFiles, hba]) => [
                    { name: fileName(layout.pgbouncer.configFile), content: this.pgbouncerIni, mode: "0644", owner },
                    { name: fileName(layout.pgbouncer.userlistFile), content: userlist, mode: "0600", owner },
                    ...hba,
                    ...tlsFiles,
                ]),
                live: certificateFingerprint(args.tls?.material).apply((fingerprint) => ({ ...pgbouncerLiveSettings(plan), ...rotationCounters(plan), ...fingerprint })),
                restart: {},
                access: pulumi.all([pgbouncerConsole(plan, args.admin.password), rotationLogins(plan, args.logins)]).apply(([adminConsole, logins]) => ({
                    kind: "pgbouncer" as const,
                    pgbouncer: {
                        console: adminConsole,
                        postgres: { container: plan.postgres.containerName, superuser: plan.postgres.superuser, socketDirectory: layout.postgres.socketDirectory, port: plan.postgres.port },
                        logins,
                    },
                })),
            },
            { parent: this },
        );

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
                volumes: [
                    { volumeName: this.configVolume.name, containerPath: layout.pgbouncer.configDirectory, readOnly: true },
                    ...(args.logVolume ? [{ volumeName: args.logVolume.name, containerPath: MONITORING_LAYOUT.pgbouncerLog.directory }] : []),
                ],
                // Every client and server connection is a file descriptor (pitfall 8).
                ulimits: [{ name: "nofile", soft: pgbouncer.fileDescriptorLimit, hard: pgbouncer.fileDescriptorLimit }],
                ...hardened(plan.containers, { memory: pgbouncer.memory, tmpfs: { "/tmp": "rw,mode=1777" } }),
                healthcheck: healthcheck(["CMD", "pg_isready", "-h", "127.0.0.1", "-p", String(pgbouncer.port), "-d", "pgbouncer", "-U", pgbouncer.adminUser]),
                stopSignal: PGBOUNCER_STOP_SIGNAL,
                stopTimeout: PGBOUNCER_STOP_SECONDS,
                destroyGraceSeconds: PGBOUNCER_STOP_SECONDS,
                restart: "unless-stopped",
                wait: true,
                waitTimeout: 120,
                labels: containerLabels(labels),
            },
            containerOptions(this, { dependsOn: [this.config] }),
        );
        this.registerOutputs({ containerName: this.container.name });
    }
}

/** PgBouncer's HBA file, which only a TLS stack has (it tells TLS from plain text by source address). */
function hbaFiles(plan: StackPlan, network: pulumi.Output<NetworkAddresses> | undefined, owner: string): pulumi.Output<VolumeFile[]> {
    if (!network) {
        return pulumi.output([]);
    }
    return network.apply((addresses) => [{ name: PGBOUNCER_HBA_FILE_NAME, content: renderPgbouncerHba(plan, addresses), mode: "0640", owner }]);
}

/** Each pooled role's rotation counter: a rotation shows in the preview by name, its secret does not. */
function rotationCounters(plan: StackPlan): Record<string, number> {
    return Object.fromEntries(
        plan.roles.filter((role) => role.pooled).map((role) => [`password rotation of ${role.name}`, role.rotation]),
    );
}
