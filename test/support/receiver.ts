import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { EventEmitter } from 'eventemitter3';

export interface ReceivedRequest {
  at: number;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** What the receiver answered. */
  status: number | 'dropped';
}

export type Reply =
  | { status: number; body?: string; headers?: Record<string, string> }
  | { drop: true } // destroy the connection without answering
  | { stream: number } // answer this status, then send body chunks without ever ending the response
  | { stall: number } // answer this status, then send nothing more, never ending the response
  | { delayMs: number; then: Reply }
  | { until: Promise<unknown>; then: Reply }; // hold the answer until the test lets it go

/**
 * A local HTTP receiver standing in for a webhook endpoint or a Slack incoming webhook: records every
 * request, and answers from a script of replies (then the default).
 */
export class Receiver extends EventEmitter<{ request: (r: ReceivedRequest) => void; arrival: () => void }> {
  readonly requests: ReceivedRequest[] = [];
  /** Requests whose body has arrived, answered or not yet (a delayed reply records its request only once it answers). */
  arrivals = 0;
  /** Requests arrived and not answered yet, and the most there were at once. */
  open = 0;
  maxOpen = 0;
  script: Reply[] = [];
  /** Decides a reply per request when set; wins over the script. */
  decide: ((req: { body: string; n: number }) => Reply | undefined) | undefined;
  fallback: Reply;
  #server: Server | undefined;
  #sockets = new Set<Socket>();
  url = '';

  constructor(fallback: Reply = { status: 200, body: 'ok' }) {
    super();
    this.fallback = fallback;
  }

  /** Successful requests, in order. */
  get accepted(): ReceivedRequest[] {
    return this.requests.filter((r) => typeof r.status === 'number' && r.status >= 200 && r.status < 300);
  }

  async listen(path = '/hook'): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        this.arrivals++;
        this.maxOpen = Math.max(this.maxOpen, ++this.open);
        this.emit('arrival');
        let reply = this.decide?.({ body, n: this.requests.length }) ?? this.script.shift() ?? this.fallback;
        const record = (status: number | 'dropped') => {
          this.open--;
          const r: ReceivedRequest = { at: Date.now(), path: req.url ?? '', headers: req.headers, body, status };
          this.requests.push(r);
          this.emit('request', r);
        };
        const answer = (r: Reply): void => {
          if ('delayMs' in r) {
            setTimeout(() => answer(r.then), r.delayMs).unref();
            return;
          }
          if ('until' in r) {
            void r.until.then(() => {
              if (!res.destroyed) answer(r.then);
            });
            return;
          }
          if ('stream' in r) {
            res.writeHead(r.stream, { 'content-type': 'text/event-stream' });
            res.write(`data: ${'x'.repeat(2048)}\n\n`);
            const t = setInterval(() => res.write(': still here\n\n'), 20);
            res.on('close', () => clearInterval(t));
            record(r.stream);
            return;
          }
          if ('stall' in r) {
            res.writeHead(r.stall, { 'content-type': 'text/plain' });
            res.flushHeaders();
            record(r.stall);
            return;
          }
          if ('drop' in r) {
            record('dropped');
            req.socket.destroy();
            return;
          }
          res.writeHead(r.status, { 'content-type': 'text/plain', ...(r.headers ?? {}) });
          res.end(r.body ?? '');
          record(r.status);
        };
        answer(reply);
        reply = this.fallback;
      });
    });
    server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    this.#server = server;
    const { port } = server.address() as { port: number };
    this.url = `http://127.0.0.1:${port}${path}`;
    return this.url;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}
