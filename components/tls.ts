// The stack's TLS material as a resource (issue 11): a CA and one certificate per server,
// issued on create, issued again on `pulumi up` when a server's names change or its
// certificate nears its end (the CA stays, so clients keep trusting the same CA). The private
// keys are secret outputs (encrypted in state, `[secret]` in previews); the CA certificate is
// not secret and is exported for clients.
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { StackPlan } from "../config/plan";
import { TLS_FILE_NAMES, tlsServers, tlsSubjectNames, TlsServer } from "../render/tls";
import { VolumeFile } from "./live/volumeFiles";
import { CertificateRequest, issueCertificateAuthority, issueServerCertificate, needsIssuing } from "./live/certificates";

export interface TlsInputs {
    caName: string;
    requests: Record<string, CertificateRequest>;
    validityDays: number;
}

export interface TlsOutputs extends TlsInputs {
    caCertificate: string;
    caPrivateKey: string;
    certificates: Record<string, { certificate: string; notAfter: string }>;
    privateKeys: Record<string, string>;
}

/** Issues what `news` asks for; keeps from `olds` the CA and every certificate still good for its names. */
export function issueAll(news: TlsInputs, olds?: TlsOutputs, now = new Date()): TlsOutputs {
    const authority = olds && olds.caName === news.caName ? { certificate: olds.caCertificate, privateKey: olds.caPrivateKey } : issueCertificateAuthority(news.caName, now);
    const sameAuthority = olds !== undefined && authority.certificate === olds.caCertificate;
    const certificates: TlsOutputs["certificates"] = {};
    const privateKeys: TlsOutputs["privateKeys"] = {};
    for (const [server, request] of Object.entries(news.requests).sort(([a], [b]) => a.localeCompare(b))) {
        const old = sameAuthority && olds.certificates[server] ? { ...olds.certificates[server], privateKey: olds.privateKeys[server] } : undefined;
        const keep = old !== undefined && olds?.validityDays === news.validityDays && !needsIssuing(old, olds?.requests[server], request, now);
        const issued = keep ? old : issueServerCertificate(authority, request, news.validityDays, now);
        certificates[server] = { certificate: issued.certificate, notAfter: issued.notAfter };
        privateKeys[server] = issued.privateKey;
    }
    return { ...news, caCertificate: authority.certificate, caPrivateKey: authority.privateKey, certificates, privateKeys };
}

const tlsProvider: pulumi.dynamic.ResourceProvider = {
    async diff(_id: string, olds: TlsOutputs, news: TlsInputs): Promise<pulumi.dynamic.DiffResult> {
        const now = new Date();
        const expiring = Object.entries(news.requests).some(([server, request]) => {
            const old = olds.certificates?.[server];
            return needsIssuing(old ? { ...old, privateKey: "" } : undefined, olds.requests?.[server], request, now);
        });
        const changes = expiring || JSON.stringify(olds.requests) !== JSON.stringify(news.requests) || olds.validityDays !== news.validityDays || olds.caName !== news.caName;
        return { changes, replaces: olds.caName !== news.caName ? ["caName"] : [] };
    },

    async create(inputs: TlsInputs): Promise<pulumi.dynamic.CreateResult> {
        return { id: inputs.caName, outs: issueAll(inputs) };
    },

    async update(_id: string, olds: TlsOutputs, news: TlsInputs): Promise<pulumi.dynamic.UpdateResult> {
        return { outs: issueAll(news, olds) };
    },

    // Nothing outside the state holds them: the config volumes go with their servers.
    async delete(): Promise<void> {},
};

export class TlsCertificates extends pulumi.dynamic.Resource {
    declare readonly caCertificate: pulumi.Output<string>;
    declare readonly caPrivateKey: pulumi.Output<string>;
    declare readonly certificates: pulumi.Output<Record<string, { certificate: string; notAfter: string }>>;
    declare readonly privateKeys: pulumi.Output<Record<string, string>>;

    constructor(name: string, inputs: TlsInputs, opts?: pulumi.CustomResourceOptions) {
        super(
            tlsProvider,
            name,
            { ...inputs, caCertificate: undefined, caPrivateKey: undefined, certificates: undefined, privateKeys: undefined },
            { ...opts, additionalSecretOutputs: ["caPrivateKey", "privateKeys"] },
        );
    }
}

/** What a server's config volume gets: its certificate and key, and the CA (for PgBouncer's check of PostgreSQL). */
export interface ServerTlsMaterial {
    certificate: pulumi.Output<string>;
    /** Secret. */
    privateKey: pulumi.Output<string>;
    caCertificate: pulumi.Output<string>;
}

/** The stack's TLS: the resource and each server's material. Absent when tls.enabled is false. */
export interface StackTls {
    certificates: TlsCertificates;
    servers: Partial<Record<TlsServer, ServerTlsMaterial>>;
    caCertificate: pulumi.Output<string>;
}

export function stackTls(name: string, plan: StackPlan, parent: pulumi.Resource): StackTls | undefined {
    if (!plan.tls.enabled) {
        return undefined;
    }
    const requests = Object.fromEntries(tlsServers(plan).map((server) => [server, tlsSubjectNames(plan, server)]));
    const certificates = new TlsCertificates(`${name}-tls`, { caName: `${plan.prefix} data tier CA`, requests, validityDays: plan.tls.validityDays }, { parent });
    const servers: StackTls["servers"] = {};
    for (const server of tlsServers(plan)) {
        servers[server] = {
            certificate: certificates.certificates.apply((byServer) => byServer[server].certificate),
            // Secret under mocks too, where the engine does not apply additionalSecretOutputs.
            privateKey: pulumi.secret(certificates.privateKeys.apply((byServer) => byServer[server])),
            caCertificate: certificates.caCertificate,
        };
    }
    return { certificates, servers, caCertificate: certificates.caCertificate };
}

/** A server's TLS files for its config volume: the key 0600 and owned by the server's user. */
export function tlsVolumeFiles(material: ServerTlsMaterial | undefined, owner: string): pulumi.Output<VolumeFile[]> {
    if (!material) {
        return pulumi.output([]);
    }
    return pulumi.all([material.certificate, material.privateKey, material.caCertificate]).apply(([certificate, privateKey, caCertificate]) => [
        { name: TLS_FILE_NAMES.certificate, content: certificate, mode: "0644", owner },
        { name: TLS_FILE_NAMES.key, content: privateKey, mode: "0600", owner },
        { name: TLS_FILE_NAMES.ca, content: caCertificate, mode: "0644", owner },
    ]);
}

/** A short fingerprint of a server's certificate, for a preview entry that says "issued again" without the PEM. */
export function certificateFingerprint(material: ServerTlsMaterial | undefined): pulumi.Output<Record<string, string>> {
    if (!material) {
        return pulumi.output<Record<string, string>>({});
    }
    return material.certificate.apply((certificate): Record<string, string> => ({ "tls certificate": createHash("sha256").update(certificate).digest("hex").slice(0, 16) }));
}
