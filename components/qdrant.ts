// Qdrant (host zentoria-embeddings): HTTP 6333, gRPC 6334, API keys in a rendered config file
// on a config volume rather than in environment variables, storage and snapshots on named
// volumes, the image variant that runs as an unprivileged user. Qdrant reads its configuration
// only at start: a change restarts the same container (its data stays on the volumes).
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { StackPlan } from "../config/plan";
import { serviceLabels } from "../render/labels";
import { CONTAINER_LAYOUT } from "../render/layout";
import { renderQdrantConfig } from "../render/qdrant";
import { tlsFiles } from "../render/tls";
import { certificateFingerprint, ServerTlsMaterial, tlsVolumeFiles } from "./tls";
import { ServerConfig } from "./live/serverConfig";
import { configVolume, containerLabels, containerOptions, dataVolume, hardened, healthcheck, localImage, publishedPort } from "./docker";

/** The user of the `-unprivileged` image variant (uid 1000). */
export const QDRANT_OS_USER = "qdrant";
export const QDRANT_STOP_SECONDS = 30;

export interface QdrantArgs {
    plan: StackPlan;
    network: docker.Network;
    apiKey: pulumi.Output<string>;
    readOnlyApiKey: pulumi.Output<string>;
    dockerHost?: string;
    /** TLS certificate and key (issue 11): HTTPS and gRPC over TLS on both ports. */
    tls?: ServerTlsMaterial;
}

/**
 * The official image has neither curl nor wget: ask /readyz through bash's /dev/tcp. With TLS
 * there is no client in the image that speaks it, so the probe only sees the port accept.
 */
export function qdrantReadinessProbe(port: number, tls = false): string {
    if (tls) {
        return `exec 3<>/dev/tcp/127.0.0.1/${port}`;
    }
    return `exec 3<>/dev/tcp/127.0.0.1/${port} && printf 'GET /readyz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '`;
}

export class Qdrant extends pulumi.ComponentResource {
    readonly container: docker.Container;
    readonly volume: docker.Volume;
    readonly snapshotsVolume: docker.Volume;
    readonly configVolume: docker.Volume;
    readonly config: ServerConfig;
    readonly configFile: pulumi.Output<string>;

    constructor(name: string, args: QdrantArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zentoria:index:Qdrant", name, {}, opts);
        const { plan } = args;
        const qdrant = plan.qdrant;
        const layout = CONTAINER_LAYOUT;
        const labels = serviceLabels(plan, "qdrant");
        const fileName = (path: string) => path.slice(layout.qdrant.configDirectory.length + 1);
        const owner = `${QDRANT_OS_USER}:${QDRANT_OS_USER}`;

        const tls = args.tls ? tlsFiles(layout.qdrant.configDirectory) : undefined;
        this.configFile = pulumi.secret(
            pulumi.all([args.apiKey, args.readOnlyApiKey]).apply(([apiKey, readOnlyApiKey]) => renderQdrantConfig(qdrant, layout, { apiKey, readOnlyApiKey }, tls)),
        );
        this.volume = dataVolume(`${name}-storage`, qdrant.volumeName, qdrant.retainDataOnDestroy, labels, this);
        this.snapshotsVolume = dataVolume(`${name}-snapshots`, qdrant.snapshotsVolumeName, qdrant.retainDataOnDestroy, labels, this);
        this.configVolume = configVolume(`${name}-config-volume`, qdrant.configVolumeName, qdrant.retainDataOnDestroy, labels, this);
        const image = localImage(`${name}-image`, qdrant.image, this);

        this.config = new ServerConfig(
            `${name}-config`,
            {
                kind: "qdrant",
                dockerHost: args.dockerHost,
                container: qdrant.containerName,
                volume: this.configVolume.name,
                image: image.imageId,
                files: pulumi.all([this.configFile, tlsVolumeFiles(args.tls, owner)]).apply(([content, tlsVolume]) => [
                    { name: fileName(layout.qdrant.configFile), content, mode: "0600", owner },
                    ...tlsVolume,
                ]),
                live: {},
                // Every change restarts Qdrant; the fingerprints name the change without showing the keys.
                restart: pulumi.all([this.configFile, certificateFingerprint(args.tls)]).apply(([content, fingerprint]) => ({
                    "config.yaml": createHash("sha256").update(content).digest("hex").slice(0, 16),
                    ...fingerprint,
                })),
                access: { kind: "qdrant", stopSeconds: QDRANT_STOP_SECONDS },
            },
            { parent: this },
        );

        this.container = new docker.Container(
            name,
            {
                name: qdrant.containerName,
                image: image.imageId,
                hostname: qdrant.hostname,
                command: ["./entrypoint.sh", "--config-path", layout.qdrant.configFile],
                // Qdrant touches a start marker in its working directory unless told otherwise.
                envs: ["QDRANT_INIT_FILE_PATH=/tmp/.qdrant-initialized"],
                volumes: [
                    { volumeName: this.volume.name, containerPath: layout.qdrant.storageDirectory },
                    { volumeName: this.snapshotsVolume.name, containerPath: layout.qdrant.snapshotsDirectory },
                    { volumeName: this.configVolume.name, containerPath: layout.qdrant.configDirectory, readOnly: true },
                ],
                networksAdvanced: [{ name: args.network.name, aliases: [qdrant.hostname] }],
                ports: [publishedPort(qdrant.httpPort, qdrant.publishHttp), publishedPort(qdrant.grpcPort, qdrant.publishGrpc)],
                ...hardened(plan.containers, { memory: qdrant.memory, tmpfs: { "/tmp": "rw,mode=1777" } }),
                healthcheck: healthcheck(["CMD", "bash", "-c", qdrantReadinessProbe(qdrant.httpPort, tls !== undefined)]),
                restart: "unless-stopped",
                wait: true,
                waitTimeout: 180,
                stopTimeout: QDRANT_STOP_SECONDS,
                destroyGraceSeconds: QDRANT_STOP_SECONDS,
                labels: containerLabels(labels),
            },
            containerOptions(this, { dependsOn: [this.config] }),
        );
        this.registerOutputs({ containerName: this.container.name, volumeName: this.volume.name });
    }
}
