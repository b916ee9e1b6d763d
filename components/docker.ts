// Docker building blocks shared by the service components.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ContainersPlan, Publish } from "../config/plan";
import { CONFIG_VOLUME, LABEL, volumeLabels } from "../render/labels";

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

function labelList(labels: Record<string, string>): docker.types.input.VolumeLabel[] {
    return Object.entries(labels).map(([label, value]) => ({ label, value }));
}

/**
 * A named data volume. Retained volumes stay in Docker when the stack is destroyed, and a
 * later `pulumi up` with the same name picks the data up again.
 */
export function dataVolume(name: string, volumeName: string, retainOnDestroy: boolean, labels: Record<string, string>, parent: pulumi.Resource): docker.Volume {
    // Identity labels only: a volume is replaced when its labels change (see render/labels.ts).
    return new docker.Volume(name, { name: volumeName, labels: labelList(volumeLabels(labels)) }, { parent, retainOnDelete: retainOnDestroy });
}

/**
 * A server's config volume: the rendered files of record, written by its ServerConfig and
 * mounted read-only into the server. It is kept on destroy with its server's data, so that the
 * stack's state from before a destroy brings the servers back as they were (README:
 * "Recovering after destroy").
 */
export function configVolume(name: string, volumeName: string, retainOnDestroy: boolean, labels: Record<string, string>, parent: pulumi.Resource): docker.Volume {
    return new docker.Volume(
        name,
        { name: volumeName, labels: labelList({ ...volumeLabels(labels), [LABEL.volume]: CONFIG_VOLUME }) },
        { parent, retainOnDelete: retainOnDestroy },
    );
}

export function containerLabels(labels: Record<string, string>): docker.types.input.ContainerLabel[] {
    return Object.entries(labels)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([label, value]) => ({ label, value }));
}

export interface Hardening {
    /** Capabilities the image's entrypoint needs; everything else is dropped. */
    capabilities?: string[];
    /** Paths the server writes outside its volumes, as tmpfs (with mount options). */
    tmpfs?: Record<string, string>;
    memory: string;
    /** Run as this user (name or uid) instead of the image's default. */
    user?: string;
}

/** Docker sizes ("512m", "2g") in MB, as the provider's `memory` wants them. */
export function megabytes(size: string): number {
    const match = /^([1-9][0-9]*)([bkmg]?)$/.exec(size);
    if (!match) {
        throw new Error(`not a Docker size: ${JSON.stringify(size)}`);
    }
    const bytes = Number(match[1]) * { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2] as "" | "b" | "k" | "m" | "g"];
    return Math.max(6, Math.ceil(bytes / 1024 ** 2));
}

/**
 * What every server container gets: no new privileges, only the capabilities it needs, a
 * read-only root filesystem (where the plan keeps it on) with tmpfs for the paths it writes,
 * a memory limit without extra swap, and rotated logs.
 */
export function hardened(containers: ContainersPlan, hardening: Hardening): Partial<docker.ContainerArgs> {
    const memory = megabytes(hardening.memory);
    return {
        securityOpts: ["no-new-privileges:true"],
        capabilities: { drops: ["ALL"], adds: hardening.capabilities ?? [] },
        readOnly: containers.readOnlyRootFilesystem,
        tmpfs: hardening.tmpfs,
        memory,
        memorySwap: memory,
        user: hardening.user,
        logDriver: "json-file",
        logOpts: { "max-size": containers.logMaxSize, "max-file": String(containers.logMaxFiles) },
    };
}
