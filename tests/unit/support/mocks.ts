// Pulumi mocks that record every resource the program registers, with deterministic outputs
// for the random provider so rendered files are stable.
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";

export interface RecordedResource {
    type: string;
    name: string;
    inputs: Record<string, any>;
    provider?: string;
}

export const recorded: RecordedResource[] = [];

/** A stable fake secret per resource name: letters and digits, like RandomPassword's. */
export function fakePassword(name: string): string {
    return createHash("sha256").update(`password:${name}`).digest("hex").slice(0, 32);
}

export function fakeSaltBase64(name: string): string {
    return createHash("sha256").update(`salt:${name}`).digest().subarray(0, 16).toString("base64");
}

export async function installMocks(project = "zentoria", stack = "dev", preview = false): Promise<void> {
    recorded.length = 0;
    await pulumi.runtime.setMocks(
        {
            newResource(args: pulumi.runtime.MockResourceArgs) {
                recorded.push({ type: args.type, name: args.name, inputs: args.inputs, provider: args.provider });
                const state: Record<string, any> = { ...args.inputs };
                switch (args.type) {
                    case "random:index/randomPassword:RandomPassword":
                        state.result = fakePassword(args.name);
                        break;
                    case "random:index/randomBytes:RandomBytes":
                        state.base64 = fakeSaltBase64(args.name);
                        break;
                    case "docker:index/remoteImage:RemoteImage":
                        state.imageId = `sha256:${createHash("sha256").update(args.inputs.name).digest("hex")}`;
                        break;
                }
                return { id: `${args.name}-id`, state };
            },
            call(args: pulumi.runtime.MockCallArgs) {
                return args.inputs;
            },
        },
        project,
        stack,
        preview,
    );
}

export function outputValue<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((value) => resolve(value)));
}

/** Lets the mock monitor receive every registration the program made. */
export function settle(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, 50));
}

export function ofType(type: string): RecordedResource[] {
    return recorded.filter((resource) => resource.type === type);
}

export function named(type: string, name: string): RecordedResource {
    const found = recorded.find((resource) => resource.type === type && resource.name === name);
    if (!found) {
        throw new Error(`no ${type} named ${name}; have: ${ofType(type).map((r) => r.name).join(", ")}`);
    }
    return found;
}
