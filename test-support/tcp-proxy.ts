import { connect, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A loopback TCP proxy in front of a real server (Redis, RabbitMQ, a neighbour service), so a test can
 * take that server away and bring it back without touching it.
 */
export interface TcpProxy {
  /** `target` with its host and port replaced by the proxy's. */
  url: string;
  port: number;
  /** Cuts every connection through the proxy, as a network failure or a broker restart would. */
  dropConnections(): void;
  /** Cuts every connection and refuses new ones (the server is down) until `restore()`. */
  cut(): void;
  /** Cuts every connection; new ones are accepted and never answered (the server hangs) until `restore()`. */
  hang(): void;
  restore(): void;
  close(): Promise<void>;
}

/** A loopback TCP proxy in front of `target` (a URL with a host and port), so a test can cut the line. */
export async function tcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  let mode: 'forward' | 'cut' | 'hang' = 'forward';
  const open = new Set<Socket>();
  const track = (socket: Socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  };
  const server = createServer((client) => {
    track(client);
    client.on('error', () => client.destroy());
    if (mode === 'cut') return void client.destroy();
    if (mode === 'hang') return; // accepted, never answered
    const upstream = connect(Number(port), hostname);
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxyPort = (server.address() as AddressInfo).port;
  const proxied = new URL(target);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(proxyPort);
  const dropConnections = () => {
    for (const socket of open) socket.destroy();
  };
  return {
    url: proxied.toString().replace(/\/$/, ''),
    port: proxyPort,
    dropConnections,
    cut() {
      mode = 'cut';
      dropConnections();
    },
    hang() {
      mode = 'hang';
      dropConnections();
    },
    restore() {
      mode = 'forward';
    },
    close: () =>
      new Promise<void>((resolve) => {
        dropConnections();
        server.close(() => resolve());
      }),
  };
}
