// Docker building blocks shared by the service components.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { Publish } from "../config/plan";
import { volumeLabels } from "../render/labels";

export interface HealthcheckTiming {
    interval: string;
    timeout: string;
    retries: number;
    startPeriod: string;
}

export const DEFAULT_HEALTHCHECK_TIMING: HealthcheckTiming = { interval: "5s", timeout: "5s", retries: 12, startPeriod: "20s" };

export function healthcheck(tests: string[], timing: HealthcheckTiming = DEFAULT_HEALTHCHECK_TIMING): docker.types.input.ContainerHealthcheck {
    return { tests, ...timing };
}

export function publishedPort(internal: number, publish: Publish): docker.types.input.ContainerPort {
    return { internal, external: publish.port, ip: publish.address, protocol: "tcp" };
}

/**
 * Containers have fixed names, so a replacement must delete the old one first; Docker's
 * provider ignores healthcheck edits on update, so they replace (pitfall 15).
 */
export function containerOptions(parent: pulumi.Resource, extra: pulumi.CustomResourceOptions = {}): pulumi.CustomResourceOptions {
    return { parent, deleteBeforeReplace: true, replaceOnChanges: ["healthcheck"], ...extra };
}

/** The image, kept on the host when the stack is destroyed (pitfall 17). */
export function localImage(name: string, image: string, parent: pulumi.Resource): docker.RemoteImage {
    return new docker.RemoteImage(name, { name: image, keepLocally: true }, { parent });
}

/**
 * A named data volume. Retained volumes stay in Docker when the stack is destroyed, and a
 * later `pulumi up` with the same name picks the data up again.
 */
export function dataVolume(name: string, volumeName: string, retainOnDestroy: boolean, labels: Record<string, string>, parent: pulumi.Resource): docker.Volume {
    return new docker.Volume(
        name,
        { name: volumeName, labels: Object.entries(volumeLabels(labels)).map(([label, value]) => ({ label, value })) },
        { parent, retainOnDelete: retainOnDestroy },
    );
}

export function containerLabels(labels: Record<string, string>): docker.types.input.ContainerLabel[] {
    return Object.entries(labels)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([label, value]) => ({ label, value }));
}

export interface FileUpload {
    path: string;
    content: pulumi.Input<string>;
}

export function uploads(files: readonly FileUpload[]): docker.types.input.ContainerUpload[] {
    return files.map((file) => ({ file: file.path, content: file.content, permissions: "0644" }));
}
