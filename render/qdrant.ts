// Qdrant's production.yaml: ports, storage, and the API keys (in the file, not in env vars).
import * as YAML from "yaml";
import { QdrantPlan } from "../config/plan";
import { renderedHeader } from "./header";
import { ServerLayout } from "./layout";
import { qdrantKey, RenderError } from "./quote";
import { TlsFiles } from "./tls";

export interface QdrantKeys {
    apiKey: string;
    readOnlyApiKey: string;
}

function tcpPort(port: number, what: string): number {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new RenderError("production.yaml", what, "not a TCP port", port);
    }
    return port;
}

export function renderQdrantConfig(qdrant: QdrantPlan, layout: ServerLayout, keys: QdrantKeys, tls?: TlsFiles): string {
    const document: Record<string, unknown> = {
        service: {
            // TLS (issue 11): HTTPS and gRPC over TLS on both ports, no client certificates.
            ...(tls ? { enable_tls: true, verify_https_client_certificate: false } : {}),
            api_key: qdrantKey(keys.apiKey, "api_key"),
            grpc_port: tcpPort(qdrant.grpcPort, "grpc_port"),
            host: layout.listenAddress,
            http_port: tcpPort(qdrant.httpPort, "http_port"),
            read_only_api_key: qdrantKey(keys.readOnlyApiKey, "read_only_api_key"),
        },
        storage: {
            snapshots_path: layout.qdrant.snapshotsDirectory,
            storage_path: layout.qdrant.storageDirectory,
        },
        telemetry_disabled: true,
    };
    if (tls) {
        document.tls = { cert: tls.certificateFile, key: tls.keyFile, ca_cert: tls.caFile };
    }
    return renderedHeader("#", "config.yaml") + YAML.stringify(document, { sortMapEntries: true, defaultStringType: "QUOTE_DOUBLE", defaultKeyType: "PLAIN" });
}
