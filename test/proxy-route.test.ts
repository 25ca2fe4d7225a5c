import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noProxyEntry, originDispatcher, proxyRoute } from '../src/util/http-agent.js';
import { ConnectProxy } from './support/proxy.js';

const VARS = ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'no_proxy', 'NO_PROXY'] as const;

/**
 * --check-config says where each request goes, from proxyRoute: a copy of undici's
 * EnvHttpProxyAgent rules. Each case here sends a real request through the daemon's own dispatcher
 * (originDispatcher) with the variables set, and checks that the proxy that saw it, or none, is the
 * one proxyRoute names: a drift between the copy and undici (an upgrade) fails here.
 */
describe('proxyRoute agrees with where undici sends the request', () => {
  let target: Server;
  let port = 0;
  const a = new ConnectProxy();
  const b = new ConnectProxy();
  let aUrl = '';
  let bUrl = '';

  beforeAll(async () => {
    target = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    port = (target.address() as { port: number }).port;
    aUrl = await a.listen();
    bUrl = await b.listen();
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await new Promise<void>((r) => target.close(() => r()));
  });

  /** Which proxy tunnelled a request for `url` with these variables: 'a', 'b' or 'direct'. */
  async function actual(url: string, env: Partial<Record<(typeof VARS)[number], string>>): Promise<string> {
    const saved = Object.fromEntries(VARS.map((k) => [k, process.env[k]]));
    for (const k of VARS) delete process.env[k];
    Object.assign(process.env, env);
    const before = [a.tunnels.length, b.tunnels.length];
    const { origin, pathname } = new URL(url);
    const d = originDispatcher(origin, 1);
    try {
      // an https request to the plain-http target fails its handshake: where it went is all we want
      const res = await d.request({ origin, path: pathname, method: 'GET' }).catch(() => undefined);
      await res?.body.dump();
    } finally {
      await d.close();
      for (const k of VARS) delete process.env[k];
      for (const [k, v] of Object.entries(saved)) if (v !== undefined) process.env[k] = v;
    }
    if (a.tunnels.length > before[0]!) return 'a';
    if (b.tunnels.length > before[1]!) return 'b';
    return 'direct';
  }

  function predicted(url: string, env: Record<string, string>): string {
    const route = proxyRoute(url, env);
    if (!route) return 'direct';
    return `http://${route.host}` === aUrl ? 'a' : `http://${route.host}` === bUrl ? 'b' : `elsewhere (${route.host})`;
  }

  it('for every variable, case, NO_PROXY form and scheme', async () => {
    const A = () => aUrl;
    const B = () => bUrl;
    const cases: [string, (host: string) => Record<string, string>][] = [
      ['HTTP_PROXY', () => ({ HTTP_PROXY: A() })],
      ['http_proxy before HTTP_PROXY', () => ({ http_proxy: A(), HTTP_PROXY: B() })],
      ['an empty http_proxy hides HTTP_PROXY', () => ({ http_proxy: '', HTTP_PROXY: B() })],
      ['HTTPS_PROXY alone', () => ({ HTTPS_PROXY: A() })],
      ['HTTPS_PROXY and HTTP_PROXY', () => ({ HTTPS_PROXY: A(), HTTP_PROXY: B() })],
      ['https_proxy before HTTPS_PROXY', () => ({ https_proxy: B(), HTTPS_PROXY: A() })],
      ['NO_PROXY 127.0.0.1', () => ({ HTTP_PROXY: A(), HTTPS_PROXY: A(), NO_PROXY: '127.0.0.1' })],
      ['NO_PROXY localhost', () => ({ HTTP_PROXY: A(), HTTPS_PROXY: A(), NO_PROXY: 'localhost' })],
      ['NO_PROXY with the port', () => ({ HTTP_PROXY: A(), HTTPS_PROXY: A(), NO_PROXY: `127.0.0.1:${port},localhost:${port}` })],
      ['NO_PROXY with another port', () => ({ HTTP_PROXY: A(), HTTPS_PROXY: A(), NO_PROXY: '127.0.0.1:1,localhost:1' })],
      ['NO_PROXY *', () => ({ HTTP_PROXY: A(), NO_PROXY: '*' })],
      ['NO_PROXY spaced, a leading dot', () => ({ HTTP_PROXY: A(), NO_PROXY: ' example.com  .localhost , x' })],
      ['NO_PROXY *.0.0.1 (a suffix)', () => ({ HTTP_PROXY: A(), NO_PROXY: '*.0.0.1' })],
      ['an empty no_proxy hides NO_PROXY', () => ({ HTTP_PROXY: A(), no_proxy: '', NO_PROXY: '127.0.0.1,localhost' })],
      ['no_proxy before NO_PROXY', () => ({ HTTP_PROXY: A(), no_proxy: 'localhost', NO_PROXY: '127.0.0.1' })],
    ];
    const seen = new Set<string>();
    for (const [name, env] of cases) {
      for (const scheme of ['http', 'https']) {
        for (const host of ['127.0.0.1', 'localhost']) {
          const url = `${scheme}://${host}:${port}/`;
          const e = env(host);
          const got = await actual(url, e);
          seen.add(got);
          expect({ name, url, route: predicted(url, e) }).toEqual({ name, url, route: got });
        }
      }
    }
    // the cases reach all three outcomes, so agreement is not agreement on one answer
    expect([...seen].sort()).toEqual(['a', 'b', 'direct']);
  });

  it('noProxyEntry names the entry that matched', () => {
    expect(noProxyEntry('https://api.hooks.internal/x', { NO_PROXY: 'example.com, .hooks.internal' })).toBe('.hooks.internal');
    expect(noProxyEntry('https://api.daily.co/v1', { NO_PROXY: 'daily.co:80' })).toBeUndefined();
    expect(noProxyEntry('https://api.daily.co/v1', { NO_PROXY: 'daily.co:443' })).toBe('daily.co:443');
    expect(noProxyEntry('https://api.daily.co/v1', {})).toBeUndefined();
  });
});
