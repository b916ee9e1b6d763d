// Every credential a deployed stack holds, read from its state with the secrets shown (the
// Automation API's export runs `pulumi stack export --show-secrets`), and the places where none
// of them may appear in clear (issue 11).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Deployment } from "./deployment";

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** A value of the exported state with its secrets decrypted. */
function unwrap(value: any): any {
    if (value && typeof value === "object" && SECRET_SIG in value) {
        return typeof value.plaintext === "string" ? JSON.parse(value.plaintext) : value.plaintext;
    }
    return value;
}

export interface StackCredential {
    /** Where it comes from (resource and property), never the value. */
    what: string;
    /** The text that must not appear anywhere in clear. */
    needle: string;
}

/** Strings inside a private key's PEM that identify it: its first two base64 lines. */
function pemNeedles(pem: string): string[] {
    return pem
        .split("\n")
        .filter((line) => line.length >= 40 && !line.startsWith("-----"))
        .slice(0, 2);
}

/**
 * Every generated credential: each RandomPassword's result (PostgreSQL roles, PgBouncer's admin,
 * every Redis user including the healthcheck's, Qdrant's keys), every SCRAM verifier, and with
 * TLS the CA's and every server's private key.
 */
export async function stackCredentials(deployment: Deployment): Promise<StackCredential[]> {
    const exported = await deployment.stack.exportStack();
    const resources: any[] = exported.deployment?.resources ?? [];
    const found: StackCredential[] = [];
    for (const resource of resources) {
        const outputs = resource.outputs ?? {};
        const name = String(resource.urn).split("::").pop();
        if (resource.type === "random:index/randomPassword:RandomPassword") {
            found.push({ what: `${name}.result`, needle: unwrap(outputs.result) });
        }
        if (resource.type === "pulumi-nodejs:dynamic:Resource" && outputs.caPrivateKey !== undefined) {
            for (const line of pemNeedles(unwrap(outputs.caPrivateKey))) {
                found.push({ what: `${name}.caPrivateKey`, needle: line });
            }
            for (const [server, pem] of Object.entries(unwrap(outputs.privateKeys) as Record<string, string>)) {
                for (const line of pemNeedles(pem)) {
                    found.push({ what: `${name}.privateKeys.${server}`, needle: line });
                }
            }
        }
        if (resource.type === "postgresql:index/role:Role" && outputs.password !== undefined) {
            found.push({ what: `${name}.password (SCRAM verifier)`, needle: unwrap(outputs.password) });
        }
    }
    return found.filter((credential) => typeof credential.needle === "string" && credential.needle.length >= 12);
}

/** The credentials (by `what`) found in `text`. */
export function leaked(credentials: readonly StackCredential[], text: string): string[] {
    return credentials.filter((credential) => text.includes(credential.needle)).map((credential) => credential.what);
}

/** Every file of the file backend's state: the stack's checkpoint, its history and backups. */
export function stateFilesText(stateDir: string): { files: number; text: string } {
    const files = (fs.readdirSync(stateDir, { recursive: true }) as string[]).map((file) => path.join(stateDir, file)).filter((file) => fs.statSync(file).isFile());
    return { files: files.length, text: files.map((file) => fs.readFileSync(file, "utf8")).join("\n") };
}

export function commandOutput(command: string, args: string[]): string {
    const result = spawnSync(command, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
    if (result.status !== 0) {
        throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr}`);
    }
    return `${result.stdout}${result.stderr}`;
}
