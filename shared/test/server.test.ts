import { IncomingMessage, ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createHttpServer, defaultServerTimeouts } from '@capcheck/shared';
import { listen } from '../../test-support/http';

test("an Express app's requests and responses are made with its own prototypes, and Express still works on them", async () => {
  const app = express();
  app.get('/who', (req, res) => {
    res.json({ ip: req.ip, query: req.query, host: req.hostname });
  });
  const started = await listen(app);
  const bornWith: boolean[] = [];
  // Runs before Express does: what the server made, not what Express moved it to.
  started.server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    bornWith.push(Object.getPrototypeOf(req) === app.request && Object.getPrototypeOf(res) === app.response);
  });
  try {
    const answer = await fetch(`${started.baseUrl}/who?name=x`);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ ip: '127.0.0.1', query: { name: 'x' }, host: '127.0.0.1' });
    expect(bornWith).toEqual([true]);
  } finally {
    await started.close();
  }
});

/** Serves one request with `listener` and gives back whether it got Node's own request and response. */
async function gotNodesOwn(listener: Parameters<typeof createHttpServer>[0] & object): Promise<boolean> {
  const server = await new Promise<Server>((resolve) => {
    const s = createHttpServer(listener, defaultServerTimeouts).listen(0, '127.0.0.1', () => resolve(s));
  });
  try {
    const { port } = server.address() as AddressInfo;
    const body = (await (await fetch(`http://127.0.0.1:${port}/`)).json()) as { plain: boolean };
    return body.plain;
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

const answerWhetherPlain = (req: IncomingMessage, res: ServerResponse) => {
  const plain = Object.getPrototypeOf(req) === IncomingMessage.prototype;
  res.end(JSON.stringify({ plain: plain && Object.getPrototypeOf(res) === ServerResponse.prototype }));
};

test("a plain request listener gets Node's own request and response", async () => {
  expect(await gotNodesOwn(answerWhetherPlain)).toBe(true);
});

test("a listener whose request and response are not Node's kinds gets Node's own", async () => {
  const lookalike = Object.assign((req: IncomingMessage, res: ServerResponse) => answerWhetherPlain(req, res), {
    request: {} as IncomingMessage,
    response: {} as ServerResponse,
  });
  expect(await gotNodesOwn(lookalike)).toBe(true);
});
