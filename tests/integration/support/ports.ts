// Free TCP ports on 127.0.0.1, allocated together so that they differ from each other.
import * as net from "net";

export async function freePorts(count: number): Promise<number[]> {
    const servers: net.Server[] = [];
    try {
        const ports: number[] = [];
        for (let index = 0; index < count; index++) {
            const server = net.createServer();
            servers.push(server);
            await new Promise<void>((resolve, reject) => {
                server.once("error", reject);
                server.listen(0, "127.0.0.1", () => resolve());
            });
            ports.push((server.address() as net.AddressInfo).port);
        }
        return ports;
    } finally {
        await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    }
}
