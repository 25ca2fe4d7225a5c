import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';

/**
 * A forward proxy on 127.0.0.1 that tunnels CONNECT requests (what undici's proxy agents send) and
 * records where each tunnel went, so a test can tell that traffic really went through it.
 */
export class ConnectProxy {
  readonly tunnels: string[] = [];
  /** A status to answer every CONNECT with instead of opening the tunnel (407: a proxy that wants credentials). */
  refuse: number | undefined;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();

  async listen(): Promise<string> {
    const server = createServer((_req, res) => res.writeHead(405).end('CONNECT only'));
    server.on('connect', (req, client: Socket, head: Buffer) => {
      const target = req.url ?? '';
      if (this.refuse !== undefined) {
        client.end(`HTTP/1.1 ${this.refuse} No\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      this.tunnels.push(target);
      const at = target.lastIndexOf(':');
      const upstream = connect(Number(target.slice(at + 1)), target.slice(0, at).replace(/^\[|\]$/g, ''), () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length) upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    this.#server = server;
    return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()));
  }
}
