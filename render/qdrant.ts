// Qdrant's production.yaml: ports, storage, and the API keys (in the file, not in env vars).
import * as YAML from "yaml";
import { QdrantPlan } from "../config/plan";
import { renderedHeader } from "./header";
import { ServerLayout } from "./layout";

export interface QdrantKeys {
    apiKey: string;
    readOnlyApiKey: string;
}

export function renderQdrantConfig(qdrant: QdrantPlan, layout: ServerLayout, keys: QdrantKeys): string {
    const document = {
        service: {
            api_key: keys.apiKey,
            grpc_port: qdrant.grpcPort,
            host: layout.listenAddress,
            http_port: qdrant.httpPort,
            read_only_api_key: keys.readOnlyApiKey,
        },
        storage: {
            snapshots_path: layout.qdrant.snapshotsDirectory,
            storage_path: layout.qdrant.storageDirectory,
        },
        telemetry_disabled: true,
    };
    return renderedHeader("#", "config.yaml") + YAML.stringify(document, { sortMapEntries: true, defaultStringType: "QUOTE_DOUBLE", defaultKeyType: "PLAIN" });
}
