import { connect, type Socket } from 'node:net';

/** What came back on a raw connection: the first response (if any) and how the socket ended. */
export interface RawExchange {
  status: number | null;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
  /** 'end': the server closed cleanly; 'reset': ECONNRESET/EPIPE; 'open': still open when we stopped. */
  ending: 'end' | 'reset' | 'open';
}

/**
 * A client that speaks HTTP/1.1 by hand, the way a hostile or careless one would: it can stall, trickle,
 * or write a whole body before reading anything.
 */
export function rawConnection(baseUrl: string) {
  const { hostname, port } = new URL(baseUrl);
  const socket: Socket = connect(Number(port), hostname);
  let received = Buffer.alloc(0);
  let ending: RawExchange['ending'] = 'open';
  let writeError: Error | undefined;
  const closed = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
    socket.on('end', () => (ending = ending === 'reset' ? 'reset' : 'end'));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') ending = 'reset';
      else writeError = err;
    });
    socket.on('close', () => resolve());
  });
  const connected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));

  const parse = (): RawExchange => {
    const text = received.toString('latin1');
    const split = text.indexOf('\r\n\r\n');
    if (split < 0) return { status: null, headers: {}, body: '', ending };
    const [statusLine, ...lines] = text.slice(0, split).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return { status: Number(statusLine.split(' ')[1]), headers, body: text.slice(split + 4), ending };
  };

  return {
    socket,
    connected,
    closed,
    /** Writes and waits until the kernel has taken the bytes (false: the server had already closed). */
    write(data: string | Buffer): Promise<boolean> {
      return new Promise((resolve) => {
        if (socket.destroyed || !socket.writable) return resolve(false);
        socket.write(data, (err) => resolve(!err));
      });
    },
    received: () => received.toString('latin1'),
    parse,
    /** Resolves when the server has closed the connection (the test's own timeout bounds it). */
    async untilClosed(): Promise<RawExchange> {
      await closed;
      if (writeError) throw writeError;
      return parse();
    },
    destroy: () => socket.destroy(),
  };
}

/** The head of a request, CRLF-terminated, with the given headers (Host is added). */
export function requestHead(method: string, path: string, headers: Record<string, string | number> = {}): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/**
 * Writes `total` bytes of body in 64 KiB chunks, each only after the previous was accepted, as a client
 * that sends its whole body before reading would. Returns how many bytes the connection accepted.
 */
export async function writeBody(conn: ReturnType<typeof rawConnection>, total: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let written = 0;
  while (written < total) {
    const piece = chunk.subarray(0, Math.min(chunk.length, total - written));
    if (!(await conn.write(piece))) break;
    written += piece.length;
  }
  return written;
}
