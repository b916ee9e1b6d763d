// Redis (container 410): rendered redis.conf with ACL users, append-only persistence on a
// named volume, and a healthcheck that logs in.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { StackPlan } from "../config/plan";
import { CONTAINER_LAYOUT } from "../render/layout";
import { serviceLabels } from "../render/labels";
import { renderRedisConf } from "../render/redis";
import { RedisLogin } from "./credentials";
import { containerLabels, containerOptions, dataVolume, healthcheck, localImage, publishedPort, uploads } from "./docker";

/** Redis needs a descriptor per client plus its own (listeners, AOF, RDB child). */
export const REDIS_SPARE_DESCRIPTORS = 32;

export interface RedisArgs {
    plan: StackPlan;
    network: docker.Network;
    logins: Readonly<Record<string, RedisLogin>>;
}

export class Redis extends pulumi.ComponentResource {
    readonly container: docker.Container;
    readonly volume: docker.Volume;
    readonly redisConf: pulumi.Output<string>;

    constructor(name: string, args: RedisArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zentoria:index:Redis", name, {}, opts);
        const { plan } = args;
        const redis = plan.redis;
        const layout = CONTAINER_LAYOUT;
        const labels = serviceLabels(plan, "redis");

        const hashes = pulumi.all(Object.fromEntries(Object.entries(args.logins).map(([user, login]) => [user, login.hash])));
        this.redisConf = pulumi.secret(hashes.apply((byUser) => renderRedisConf(redis, layout, byUser)));
        this.volume = dataVolume(`${name}-data`, redis.volumeName, redis.retainDataOnDestroy, labels, this);
        const image = localImage(`${name}-image`, redis.image, this);
        const passwordFile = layout.redis.healthcheckPasswordFile;

        this.container = new docker.Container(
            name,
            {
                name: redis.containerName,
                image: image.imageId,
                hostname: redis.hostname,
                command: ["redis-server", layout.redis.configFile],
                uploads: uploads([
                    { path: layout.redis.configFile, content: this.redisConf },
                    // The healthcheck user may run PING and nothing else.
                    { path: passwordFile, content: args.logins.healthcheck.password },
                ]),
                volumes: [{ volumeName: this.volume.name, containerPath: layout.redis.dataDirectory }],
                networksAdvanced: [{ name: args.network.name, aliases: [redis.hostname] }],
                ports: [publishedPort(redis.port, redis.publish)],
                ulimits: [{ name: "nofile", soft: redis.maxclients + REDIS_SPARE_DESCRIPTORS, hard: redis.maxclients + REDIS_SPARE_DESCRIPTORS }],
                healthcheck: healthcheck([
                    "CMD-SHELL",
                    `redis-cli --no-auth-warning -p ${redis.port} --user healthcheck --pass "$(cat ${passwordFile})" ping | grep -q PONG`,
                ]),
                restart: "unless-stopped",
                wait: true,
                waitTimeout: 120,
                destroyGraceSeconds: 30,
                labels: containerLabels(labels),
            },
            containerOptions(this, { additionalSecretOutputs: ["uploads"] }),
        );
        this.registerOutputs({ containerName: this.container.name, volumeName: this.volume.name });
    }
}
