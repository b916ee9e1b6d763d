// Redis (container 410): redis.conf and its ACL file on a config volume, applied to the running
// server with CONFIG SET and ACL LOAD; append-only persistence on a named data volume, and a
// healthcheck that logs in as a user that may only PING.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { StackPlan } from "../config/plan";
import { serviceLabels } from "../render/labels";
import { CONTAINER_LAYOUT } from "../render/layout";
import { redisLiveSettings, redisRestartSettings, redisTlsDirectives, renderRedisAcl, renderRedisConf } from "../render/redis";
import { tlsFiles } from "../render/tls";
import { certificateFingerprint, ServerTlsMaterial, tlsVolumeFiles } from "./tls";
import { RedisLogin } from "./credentials";
import { ServerConfig } from "./live/serverConfig";
import { configVolume, containerLabels, containerOptions, dataVolume, hardened, healthcheck, localImage, publishedPort } from "./docker";

/** The official image's redis user and group. */
export const REDIS_OS_USER = "redis";
export const REDIS_STOP_SECONDS = 30;

export interface RedisArgs {
    plan: StackPlan;
    network: docker.Network;
    logins: Readonly<Record<string, RedisLogin>>;
    dockerHost?: string;
    /** TLS certificate and key (issue 11): the service port then speaks TLS only. */
    tls?: ServerTlsMaterial;
}

export class Redis extends pulumi.ComponentResource {
    readonly container: docker.Container;
    readonly volume: docker.Volume;
    readonly configVolume: docker.Volume;
    readonly config: ServerConfig;
    readonly redisConf: string;
    readonly usersAcl: pulumi.Output<string>;

    constructor(name: string, args: RedisArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zentoria:index:Redis", name, {}, opts);
        const { plan } = args;
        const redis = plan.redis;
        const layout = CONTAINER_LAYOUT;
        const labels = serviceLabels(plan, "redis");
        const owner = `${REDIS_OS_USER}:${REDIS_OS_USER}`;
        const fileName = (path: string) => path.slice(layout.redis.configDirectory.length + 1);

        const hashes = pulumi.all(Object.fromEntries(Object.entries(args.logins).map(([user, login]) => [user, login.hash])));
        const tls = args.tls ? tlsFiles(layout.redis.configDirectory) : undefined;
        this.redisConf = renderRedisConf(redis, layout, tls);
        this.usersAcl = pulumi.secret(hashes.apply((byUser) => renderRedisAcl(redis, byUser)));
        this.volume = dataVolume(`${name}-data`, redis.volumeName, redis.retainDataOnDestroy, labels, this);
        this.configVolume = configVolume(`${name}-config-volume`, redis.configVolumeName, redis.retainDataOnDestroy, labels, this);
        const image = localImage(`${name}-image`, redis.image, this);
        const passwordFile = layout.redis.healthcheckPasswordFile;

        this.config = new ServerConfig(
            `${name}-config`,
            {
                kind: "redis",
                dockerHost: args.dockerHost,
                container: redis.containerName,
                volume: this.configVolume.name,
                image: image.imageId,
                files: pulumi.all([this.usersAcl, args.logins.healthcheck.password, tlsVolumeFiles(args.tls, owner)]).apply(([acl, healthcheckPassword, tlsVolume]) => [
                    { name: fileName(layout.redis.configFile), content: this.redisConf, mode: "0644", owner },
                    { name: fileName(layout.redis.aclFile), content: acl, mode: "0600", owner },
                    // The healthcheck user may run PING and nothing else.
                    { name: fileName(passwordFile), content: healthcheckPassword, mode: "0600", owner },
                    ...tlsVolume,
                ]),
                live: { ...redisLiveSettings(redis), ...aclSummary(plan) },
                // Redis reads its certificate at start: a new one (or TLS switched) restarts it.
                restart: certificateFingerprint(args.tls).apply((fingerprint) => ({ ...redisRestartSettings(redis), ...redisTlsDirectives(redis, tls), ...fingerprint })),
                access: args.logins.admin.password.apply((adminPassword) => ({
                    kind: "redis" as const,
                    redis: {
                        admin: { container: redis.containerName, port: redis.port, adminUser: "admin", adminPassword, tlsCaFile: tls?.caFile },
                        stopSeconds: REDIS_STOP_SECONDS,
                        aclFile: fileName(layout.redis.aclFile),
                    },
                })),
            },
            { parent: this },
        );

        this.container = new docker.Container(
            name,
            {
                name: redis.containerName,
                image: image.imageId,
                hostname: redis.hostname,
                command: ["redis-server", layout.redis.configFile],
                volumes: [
                    { volumeName: this.volume.name, containerPath: layout.redis.dataDirectory },
                    { volumeName: this.configVolume.name, containerPath: layout.redis.configDirectory, readOnly: true },
                ],
                networksAdvanced: [{ name: args.network.name, aliases: [redis.hostname] }],
                ports: [publishedPort(redis.port, redis.publish)],
                // Fixed, so that maxclients can be raised at run time (CONFIG SET) up to it.
                ulimits: [{ name: "nofile", soft: redis.fileDescriptorLimit, hard: redis.fileDescriptorLimit }],
                // The image's redis user from the start: no root entrypoint, so no capabilities.
                ...hardened(plan.containers, { memory: redis.memory, user: REDIS_OS_USER, tmpfs: { "/tmp": "rw,mode=1777" } }),
                healthcheck: healthcheck([
                    "CMD-SHELL",
                    // The password reaches redis-cli in its environment, not on a command line `ps` shows.
                    `REDISCLI_AUTH="$(cat ${passwordFile})" redis-cli --no-auth-warning${tls ? ` --tls --cacert ${tls.caFile}` : ""} -p ${redis.port} --user healthcheck ping | grep -q PONG`,
                ]),
                restart: "unless-stopped",
                wait: true,
                waitTimeout: 120,
                stopTimeout: REDIS_STOP_SECONDS,
                destroyGraceSeconds: REDIS_STOP_SECONDS,
                labels: containerLabels(labels),
            },
            containerOptions(this, { dependsOn: [this.config] }),
        );
        this.registerOutputs({ containerName: this.container.name, volumeName: this.volume.name });
    }
}

/** Users and what their clients may touch, for the preview (the hashes stay in the secret file). */
function aclSummary(plan: StackPlan): Record<string, string> {
    return Object.fromEntries(
        plan.redis.clients.map((client) => [
            `client ${client.name}`,
            `user ${client.user}, ${client.access}, keys ${client.keyPatterns.join(" ") || "none"}, channels ${client.channelPatterns.join(" ") || "none"}`,
        ]),
    );
}
