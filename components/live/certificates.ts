// The stack's certificate authority and one server certificate per server (issue 11), issued
// with Node's crypto (RSA keys) and node-forge (X.509). Runs inside Pulumi's dynamic provider,
// which receives these functions serialized: node-forge is required when called, not imported
// (see log.ts), and nothing here keeps module-level state.
import * as crypto from "crypto";

export interface CertificateRequest {
    commonName: string;
    dnsNames: string[];
    ipAddresses: string[];
}

export interface IssuedCertificate {
    certificate: string;
    privateKey: string;
    /** ISO time after which the certificate is no longer valid. */
    notAfter: string;
}

export interface CertificateAuthority {
    certificate: string;
    privateKey: string;
}

type Forge = typeof import("node-forge");

function forgeModule(): Forge {
    return require("node-forge") as Forge;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** The CA outlives many server certificates: those are re-issued from it, clients keep trusting it. */
export const CA_VALIDITY_DAYS = 3650;
/** `pulumi up` issues a server certificate again once it has fewer days left than this. */
export const RENEW_BEFORE_DAYS = 30;

/** A positive serial number of 16 random bytes, as node-forge wants it (hex). */
function serialNumber(): string {
    const bytes = crypto.randomBytes(16);
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    return bytes.toString("hex");
}

/** An RSA key pair from Node's crypto, the private key as PKCS#8 PEM (what every server reads). */
function rsaKeyPair(): { privateKeyPem: string; publicKeyPem: string } {
    const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", {
        modulusLength: 2048,
        privateKeyEncoding: { type: "pkcs8", format: "pem" },
        publicKeyEncoding: { type: "spki", format: "pem" },
    });
    return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

function validity(certificate: { validity: { notBefore: Date; notAfter: Date } }, days: number, now: Date): void {
    // An hour back, for clocks a little behind.
    certificate.validity.notBefore = new Date(now.getTime() - 60 * 60 * 1000);
    certificate.validity.notAfter = new Date(now.getTime() + days * DAY_MS);
}

export function issueCertificateAuthority(commonName: string, now = new Date()): CertificateAuthority {
    const forge = forgeModule();
    const keys = rsaKeyPair();
    const certificate = forge.pki.createCertificate();
    certificate.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
    certificate.serialNumber = serialNumber();
    validity(certificate, CA_VALIDITY_DAYS, now);
    const subject = [{ name: "commonName", value: commonName }];
    certificate.setSubject(subject);
    certificate.setIssuer(subject);
    certificate.setExtensions([
        { name: "basicConstraints", cA: true, pathLenConstraint: 0, critical: true },
        { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
        { name: "subjectKeyIdentifier" },
    ]);
    certificate.sign(forge.pki.privateKeyFromPem(keys.privateKeyPem), forge.md.sha256.create());
    return { certificate: forge.pki.certificateToPem(certificate), privateKey: keys.privateKeyPem };
}

export function issueServerCertificate(authority: CertificateAuthority, request: CertificateRequest, validityDays: number, now = new Date()): IssuedCertificate {
    const forge = forgeModule();
    const caCertificate = forge.pki.certificateFromPem(authority.certificate);
    const keys = rsaKeyPair();
    const certificate = forge.pki.createCertificate();
    certificate.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
    certificate.serialNumber = serialNumber();
    validity(certificate, validityDays, now);
    certificate.setSubject([{ name: "commonName", value: request.commonName }]);
    certificate.setIssuer(caCertificate.subject.attributes);
    const altNames = [...request.dnsNames.map((value) => ({ type: 2, value })), ...request.ipAddresses.map((ip) => ({ type: 7, ip }))];
    certificate.setExtensions([
        { name: "basicConstraints", cA: false, critical: true },
        { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
        { name: "extKeyUsage", serverAuth: true },
        { name: "subjectAltName", altNames },
        { name: "subjectKeyIdentifier" },
        { name: "authorityKeyIdentifier", keyIdentifier: caCertificate.generateSubjectKeyIdentifier().getBytes() },
    ]);
    certificate.sign(forge.pki.privateKeyFromPem(authority.privateKey), forge.md.sha256.create());
    return { certificate: forge.pki.certificateToPem(certificate), privateKey: keys.privateKeyPem, notAfter: certificate.validity.notAfter.toISOString() };
}

/** Whether a certificate must be issued again: gone, for other names, or close to its end. */
export function needsIssuing(issued: IssuedCertificate | undefined, oldRequest: CertificateRequest | undefined, request: CertificateRequest, now = new Date()): boolean {
    if (!issued || !oldRequest || JSON.stringify(oldRequest) !== JSON.stringify(request)) {
        return true;
    }
    return new Date(issued.notAfter).getTime() - now.getTime() < RENEW_BEFORE_DAYS * DAY_MS;
}
