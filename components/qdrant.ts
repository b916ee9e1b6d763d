// Qdrant (host zentoria-embeddings): HTTP 6333, gRPC 6334, API keys in the rendered config
// file rather than in environment variables, storage on a named volume.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { StackPlan } from "../config/plan";
import { CONTAINER_LAYOUT } from "../render/layout";
import { serviceLabels } from "../render/labels";
import { renderQdrantConfig } from "../render/qdrant";
import { containerLabels, containerOptions, dataVolume, healthcheck, localImage, publishedPort, uploads } from "./docker";

export interface QdrantArgs {
    plan: StackPlan;
    network: docker.Network;
    apiKey: pulumi.Output<string>;
    readOnlyApiKey: pulumi.Output<string>;
}

/** The official image has neither curl nor wget: ask /readyz through bash's /dev/tcp. */
export function qdrantReadinessProbe(port: number): string {
    return `exec 3<>/dev/tcp/127.0.0.1/${port} && printf 'GET /readyz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '`;
}

export class Qdrant extends pulumi.ComponentResource {
    readonly container: docker.Container;
    readonly volume: docker.Volume;
    readonly configFile: pulumi.Output<string>;

    constructor(name: string, args: QdrantArgs, opts?: pulumi.ComponentResourceOptions) {
        super("zentoria:index:Qdrant", name, {}, opts);
        const { plan } = args;
        const qdrant = plan.qdrant;
        const layout = CONTAINER_LAYOUT;
        const labels = serviceLabels(plan, "qdrant");

        this.configFile = pulumi.secret(
            pulumi.all([args.apiKey, args.readOnlyApiKey]).apply(([apiKey, readOnlyApiKey]) => renderQdrantConfig(qdrant, layout, { apiKey, readOnlyApiKey })),
        );
        this.volume = dataVolume(`${name}-storage`, qdrant.volumeName, qdrant.retainDataOnDestroy, labels, this);
        const image = localImage(`${name}-image`, qdrant.image, this);

        this.container = new docker.Container(
            name,
            {
                name: qdrant.containerName,
                image: image.imageId,
                hostname: qdrant.hostname,
                uploads: uploads([{ path: layout.qdrant.configFile, content: this.configFile }]),
                volumes: [{ volumeName: this.volume.name, containerPath: layout.qdrant.storageDirectory }],
                networksAdvanced: [{ name: args.network.name, aliases: [qdrant.hostname] }],
                ports: [publishedPort(qdrant.httpPort, qdrant.publishHttp), publishedPort(qdrant.grpcPort, qdrant.publishGrpc)],
                healthcheck: healthcheck(["CMD", "bash", "-c", qdrantReadinessProbe(qdrant.httpPort)]),
                restart: "unless-stopped",
                wait: true,
                waitTimeout: 180,
                destroyGraceSeconds: 30,
                labels: containerLabels(labels),
            },
            containerOptions(this, { additionalSecretOutputs: ["uploads"] }),
        );
        this.registerOutputs({ containerName: this.container.name, volumeName: this.volume.name });
    }
}
