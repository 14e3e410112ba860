// Test helper: a webhook receiver (node:http on 127.0.0.1) that records every delivery and verifies its
// Standard Webhooks signature with the openai SDK's `webhooks.unwrap`, as a customer's receiver would.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import OpenAI from 'openai';

const sdk = new OpenAI({ apiKey: 'x' });

export interface Delivery {
  headers: IncomingMessage['headers'];
  body: string;
  payload: { id: string; type: string; created: number; data: Record<string, unknown> };
}

export interface Receiver {
  url: string;
  port: number;
  /** Every request, verified or not. */
  requests: { headers: IncomingMessage['headers']; body: string }[];
  /** The requests whose signature the SDK verified, parsed. */
  verified: Delivery[];
  close(): Promise<void>;
}

/** A receiver answering with `answer(n)` (n counts requests from 0); an answer that never ends leaves the request hanging. */
export async function startReceiver(secret: string, answer: (n: number, res: ServerResponse, req: IncomingMessage) => void = (_n, res) => res.end('ok'), port = 0): Promise<Receiver> {
  const requests: Receiver['requests'] = [];
  const verified: Delivery[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      const n = requests.push({ headers: req.headers, body }) - 1;
      sdk.webhooks
        .unwrap(body, req.headers as Record<string, string>, secret)
        .then((payload) => void verified.push({ headers: req.headers, body, payload: payload as unknown as Delivery['payload'] }))
        .catch(() => undefined)
        .finally(() => answer(n, res, req));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as { port: number }).port;
  const receiver: Receiver = {
    url: `http://127.0.0.1:${bound}/floodgate`,
    port: bound,
    requests,
    verified,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return receiver;
}

