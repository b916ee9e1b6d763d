// TLS of the data tier (issue 11), the pure part: which servers get a certificate, the names
// each certificate carries, where the files live on the servers' config volumes, and who must
// speak TLS to whom. Issuing the certificates is components/live/certificates.ts.
import { StackPlan } from "../config/plan";

export type TlsServer = "postgres" | "pgbouncer" | "redis" | "qdrant";

/** File names on each server's config volume, next to its other rendered files. */
export const TLS_FILE_NAMES = { certificate: "server.crt", key: "server.key", ca: "ca.crt" } as const;

export interface TlsFiles {
    certificateFile: string;
    keyFile: string;
    caFile: string;
}

/** Paths of a server's TLS files under its config directory (the config volume's mount point). */
export function tlsFiles(configDirectory: string): TlsFiles {
    return {
        certificateFile: `${configDirectory}/${TLS_FILE_NAMES.certificate}`,
        keyFile: `${configDirectory}/${TLS_FILE_NAMES.key}`,
        caFile: `${configDirectory}/${TLS_FILE_NAMES.ca}`,
    };
}

export interface SubjectNames {
    commonName: string;
    dnsNames: string[];
    ipAddresses: string[];
}

const LOOPBACK_IPV4 = "127.0.0.1";
const LOOPBACK_IPV6 = "::1";

function isIpAddress(name: string): boolean {
    return /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.includes(":");
}

/** Whether the plan publishes its ports beyond the Docker host (a non-loopback bind address). */
export function publishedBeyondHost(plan: Pick<StackPlan, "bindAddress">): boolean {
    return !(plan.bindAddress === LOOPBACK_IPV6 || plan.bindAddress.startsWith("127."));
}

/** The bind address as a certificate name: a concrete address, not a wildcard. */
function concreteBindAddress(bindAddress: string): string | undefined {
    return bindAddress === "0.0.0.0" || bindAddress === "::" ? undefined : bindAddress;
}

export function tlsServers(plan: StackPlan): TlsServer[] {
    return plan.qdrant.enabled ? ["pgbouncer", "postgres", "qdrant", "redis"] : ["pgbouncer", "postgres", "redis"];
}

/**
 * Every name a client may use for a server: its host name on the network (the alias), its
 * container name (Docker's DNS answers it too), the bind address of its published port, the
 * loopback addresses (clients on the Docker host, and the server's own tools in its container)
 * and `tls.extraNames`.
 */
export function tlsSubjectNames(plan: StackPlan, server: TlsServer): SubjectNames {
    const hostname = server === "qdrant" ? plan.qdrant.hostname : plan[server].hostname;
    const container = server === "qdrant" ? plan.qdrant.containerName : plan[server].containerName;
    const names = [hostname, container, "localhost", LOOPBACK_IPV4, LOOPBACK_IPV6, concreteBindAddress(plan.bindAddress), ...plan.tls.extraNames].filter(
        (name): name is string => name !== undefined,
    );
    const unique = [...new Set(names)];
    return {
        commonName: hostname,
        dnsNames: unique.filter((name) => !isIpAddress(name)).sort(),
        ipAddresses: unique.filter(isIpAddress).sort(),
    };
}

/** Which connections must (or may) use TLS. */
export interface TlsUse {
    /** The servers speak TLS (certificates on their config volumes). */
    servers: boolean;
    /** Clients on the stack's network must use TLS to PostgreSQL and PgBouncer, and PgBouncer verifies PostgreSQL. */
    inNetwork: boolean;
    /** Clients from outside the network (through a published port on a non-loopback address) must use TLS. */
    published: boolean;
}

export function tlsUse(plan: StackPlan): TlsUse {
    const servers = plan.tls.enabled;
    return { servers, inNetwork: servers && plan.tls.inNetwork, published: servers && publishedBeyondHost(plan) };
}

/**
 * Whether the program's own superuser connections (the Pulumi provider) go to PostgreSQL's
 * address on the stack's network instead of its published port: on a specific public bind
 * address. A connection from the Docker host to its own public address reaches the container
 * with whatever source the kernel and Docker's NAT give it (the bind address, the gateway,
 * another interface's address): nothing pg_hba.conf can name. To the container's address it
 * comes from the network's gateway, the one address the superuser may come from. (A second
 * binding of the port on 127.0.0.1 would do it too, but Docker reports two bindings of one
 * port in an order of its own, and the docker provider then replaces the container on every up.)
 */
export function providerUsesNetworkAddress(plan: Pick<StackPlan, "bindAddress">): boolean {
    return publishedBeyondHost(plan) && !isWildcard(plan.bindAddress);
}

function isWildcard(address: string): boolean {
    return address === "0.0.0.0" || address === "::";
}
