// A loopback TCP proxy in front of a real server, so `pnpm chaos` can take it away and bring it back
// without touching it: the same modes as test-support/tcp-proxy.ts (which the tests use, in
// TypeScript), here for a plain Node script.
import { connect, createServer } from 'node:net';

/** Forwards 127.0.0.1:<port> to `host:port`; `cut()` refuses, `hang()` accepts and never answers. */
export async function tcpProxy(host, port) {
  let mode = 'forward';
  const open = new Set();
  const track = (socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  };
  const server = createServer((client) => {
    track(client);
    client.on('error', () => client.destroy());
    if (mode === 'cut') return void client.destroy();
    if (mode === 'hang') return;
    const upstream = connect(port, host);
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dropConnections = () => open.forEach((socket) => socket.destroy());
  return {
    port: server.address().port,
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
      new Promise((resolve) => {
        dropConnections();
        server.close(() => resolve());
      }),
  };
}
