import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { DailyApiError } from '../src/daily/errors.js';
import { SinksDisabledError } from '../src/daemon.js';
import { createLogger, defaultLogFormat, SecretRegistry } from '../src/log.js';
import { DeliveryError } from '../src/sinks/sink.js';
import { StateError } from '../src/state/store.js';
import { networkFailure } from '../src/util/http-agent.js';
import { capturingLogger } from './support/helpers.js';

/** A logger, and the lines it wrote so far, parsed. */
function capture(registry = new SecretRegistry()) {
  const { logger, lines } = capturingLogger('info', registry);
  return { logger, written: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('createLogger', () => {
  it("names a level or format it does not know, instead of pino's words or a silent json", () => {
    expect(() => createLogger({ level: 'verbose' as never })).toThrow(/^createLogger: level must be one of trace, debug, info, warn, error, fatal, silent, got "verbose"$/);
    expect(() => createLogger({ level: 'warning' as never })).toThrow(/got "warning" \(did you mean "warn"\?\)$/);
    expect(() => createLogger({ format: 'pretty' as never })).toThrow(/^createLogger: format must be json or text, got "pretty"$/);
    expect(() => createLogger({ levle: 'info' } as never)).toThrow(/^createLogger: unknown option "levle" \(did you mean level\?\)$/);
    expect(createLogger({ level: 'silent', format: 'text' }).level).toBe('silent');
  });
});

describe('logged errors', () => {
  it('an error from the outside world is logged with its code and message, no stack', () => {
    const { logger, written } = capture();
    const refused = new Error('connect ECONNREFUSED 127.0.0.1:9');
    const errors = [
      new DailyApiError({ code: 'DAILY_NETWORK_ERROR', target: 'standup', message: 'network error talking to Daily for room "standup": connect ECONNREFUSED 127.0.0.1:9', cause: refused }),
      new DeliveryError('hooks.example answered HTTP 500', 'retry', 500),
      new StateError('state.json is not valid JSON'),
      new SinksDisabledError('every sink is disabled, nothing can be delivered (stdout: EPIPE)'),
    ];
    for (const err of errors) logger.warn({ err }, err.message);
    const lines = written();
    expect(lines).toHaveLength(4);
    lines.forEach((line, i) => {
      const err = line.err as Record<string, unknown>;
      expect(err.stack).toBeUndefined();
      // the message once: pino would append the cause's, which ours already contains
      expect(err.message).toBe(errors[i]!.message);
      expect(err.code).toBe((errors[i] as { code: string }).code);
    });
    expect(JSON.stringify(lines)).not.toMatch(/\\n\s+at /);
  });

  it('any other error (a bug) keeps its stack', () => {
    const { logger, written } = capture();
    logger.error({ err: new TypeError('cannot read properties of undefined') }, 'poll loop crashed');
    const sys = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    logger.error({ err: sys }, 'cannot write');
    const lines = written();
    expect((lines[0]!.err as { stack: string }).stack).toMatch(/^TypeError: cannot read properties of undefined\n\s+at /);
    expect((lines[1]!.err as { stack: string }).stack).toMatch(/\n\s+at /);
  });

  it('secrets in an error are scrubbed like the rest of the line', () => {
    const registry = new SecretRegistry();
    registry.add('sk_live_abcdef123456');
    const { logger, written } = capture(registry);
    logger.warn({ err: new DeliveryError('receiver said: bad token sk_live_abcdef123456', 'permanent', 400) }, 'failed');
    const lines = written();
    expect(JSON.stringify(lines)).not.toContain('sk_live_abcdef123456');
    expect((lines[0]!.err as { message: string }).message).toBe('receiver said: bad token [REDACTED]');
  });

  it('a secret holding a quote, a backslash or a control character is scrubbed as JSON writes it too (before: the line held it escaped, unscrubbed)', () => {
    const registry = new SecretRegistry();
    const secret = 'raw"se\\cret\tvalue';
    registry.add(secret);
    const { logger, written } = capture(registry);
    logger.warn({ body: `the receiver echoed ${secret}` }, `and the message too: ${secret}`);
    const [line] = written();
    expect(line!.body).toBe('the receiver echoed [REDACTED]');
    expect(line!.msg).toBe('and the message too: [REDACTED]');
    // and a plain text, not JSON, is scrubbed of the secret as it is
    expect(registry.scrub(`x ${secret} y`)).toBe('x [REDACTED] y');
  });
});

describe('networkFailure', () => {
  const refused = ' (nothing accepts connections on that port there: is it running, and is the port right?)';
  it('says the code and message once', () => {
    expect(networkFailure(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }), false)).toBe(`connect ECONNREFUSED 127.0.0.1:9${refused}`);
    expect(networkFailure(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }))).toBe('UND_ERR_SOCKET other side closed (the server, or something in between, closed the connection before its answer was complete)');
    expect(networkFailure(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe('read ECONNRESET (the connection was cut by the server or by something in between (a firewall, a load balancer, a proxy))');
    // Node's AggregateError when every address of a host refused: no message
    expect(networkFailure(Object.assign(new AggregateError([], ''), { code: 'ECONNREFUSED' }), false)).toBe(`ECONNREFUSED${refused}`);
    expect(networkFailure(new Error('socket hang up'))).toBe('socket hang up');
    expect(networkFailure(new Error(''))).toBe('unknown error');
    expect(networkFailure('weird')).toBe('weird');
  });

  it("a proxy that would not open the tunnel, in words for its status (undici's own: 'UND_ERR_ABORTED Proxy response (407) !== 200 when HTTP Tunneling')", () => {
    const refusal = (status: number) => networkFailure(Object.assign(new Error(`Proxy response (${status}) !== 200 when HTTP Tunneling`), { code: 'UND_ERR_ABORTED' }));
    expect(refusal(407)).toBe("the proxy answered HTTP 407 to its tunnel request (CONNECT): it wants credentials (407 Proxy Authentication Required): give them in the proxy's URL, http://user:password@host:port (or the ones there are wrong)");
    expect(refusal(403)).toBe('the proxy answered HTTP 403 to its tunnel request (CONNECT): it does not allow this host (403 Forbidden): ask whoever runs it to allow it, or list the host in NO_PROXY if it is reachable without the proxy');
    for (const status of [502, 503, 504]) expect(refusal(status)).toMatch(/: it could not reach the host itself \(the host down, or the proxy's own network\)$/);
    expect(refusal(400)).toBe('the proxy answered HTTP 400 to its tunnel request (CONNECT)');
  });

  it('the codes that send people searching, in words; in a container, a refused 127.0.0.1 says where the host machine is', () => {
    const err = (code: string, message: string) => Object.assign(new Error(message), { code });
    expect(networkFailure(err('ENOTFOUND', 'getaddrinfo ENOTFOUND hooks.exmaple.com'))).toBe("getaddrinfo ENOTFOUND hooks.exmaple.com (the host name does not resolve: check the URL's host (or this machine's DNS))");
    expect(networkFailure(err('EAI_AGAIN', 'getaddrinfo EAI_AGAIN api.daily.co'))).toMatch(/\(the host name could not be looked up for now: this machine's DNS resolver did not answer\)$/);
    expect(networkFailure(err('EHOSTUNREACH', 'connect EHOSTUNREACH 10.0.0.9:443'))).toMatch(/\(no route to that host from this machine/);
    // a receiver on the host, given to a daemon in Docker as localhost: the container's own loopback refuses
    const local = err('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:8080');
    expect(networkFailure(local, 'docker')).toBe(
      `connect ECONNREFUSED 127.0.0.1:8080 (nothing accepts connections on that port there: is it running, and is the port right?; this process runs in a container, where 127.0.0.1 is the container itself (unless it runs with --network host): a server on the host machine is host.docker.internal (Docker Desktop; on Linux add --add-host=host.docker.internal:host-gateway))`,
    );
    expect(networkFailure(err('ECONNREFUSED', 'connect ECONNREFUSED ::1:8080'), 'docker')).toContain('host.docker.internal');
    // in a pod, 127.0.0.1 is the pod, sidecars included: host.docker.internal would be the wrong advice
    expect(networkFailure(local, 'pod')).toMatch(/; this process runs in a Kubernetes pod, where 127\.0\.0\.1 is the pod: only its own containers answer there \(a sidecar that has not started yet\?\); a receiver elsewhere is reached by its Service's name\)$/);
    expect(networkFailure(local, false)).not.toContain('container');
    // another machine's refusal is not about the container's loopback
    expect(networkFailure(err('ECONNREFUSED', 'connect ECONNREFUSED 10.1.2.3:8080'), 'docker')).not.toContain('container');
  });

  it("https:// to a port that serves plain HTTP: OpenSSL's reason and what to do, not its dump of hex, source paths and a line break", async () => {
    const server = createServer((_req, res) => res.end('plain'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const err = await request(`https://127.0.0.1:${port}/v1/presence`).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((err as Error).message).toMatch(/:error:.*wrong version number/); // what it was
      expect(networkFailure(err)).toBe(
        'ERR_SSL_WRONG_VERSION_NUMBER wrong version number (the server there does not speak TLS: if it serves plain HTTP, the URL should start with http://)',
      );
    } finally {
      server.close();
    }
  });
});

describe('--log-format text', () => {
  /** A text logger and what it wrote. */
  function textLogger(registry = new SecretRegistry()) {
    const written: string[] = [];
    const logger = createLogger({ level: 'info', registry, format: 'text', destination: { write: (s: string) => void written.push(s) } });
    return { logger, written };
  }

  it('a line a person reads: time, level, message, then the other fields as key=value', () => {
    const { logger, written } = textLogger();
    logger.info({ rooms: ['standup', 'retro'], interval: '15s', targets: 2 }, 'watching 2 room(s) every 15s');
    expect(written).toEqual([expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} INFO  watching 2 room\(s\) every 15s  rooms=\["standup","retro"\] interval=15s targets=2\n$/)]);
  });

  it('an outside failure shows its code; a bug its stack, indented under the line', () => {
    const { logger, written } = textLogger();
    const failed = new DailyApiError({ code: 'DAILY_NOT_FOUND', target: 'a', message: 'room "a" not found (HTTP 404)' });
    logger.warn({ target: 'a', err: failed }, failed.message);
    expect(written[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN  room "a" not found \(HTTP 404\)  target=a err=DAILY_NOT_FOUND\n$/);
    const bug = new TypeError('cannot read properties of undefined');
    logger.error({ err: bug }, 'listener failed');
    const lines = written[1]!.split('\n');
    expect(lines[0]).toMatch(/ERROR listener failed  err=TypeError$/);
    expect(lines[1]).toBe('    TypeError: cannot read properties of undefined');
    expect(lines[2]).toMatch(/^    +at /);
  });

  it('control characters in a message or field are shown, not obeyed: a receiver\'s text cannot forge a line or drive the terminal', () => {
    const { logger, written } = textLogger();
    logger.warn({ reason: 'bad\r\n\u001b[2J' }, 'receiver said "ok\n12:00:00.000 INFO  all fine \u001b[32m"');
    expect(written).toHaveLength(1);
    expect(written[0]!.split('\n')).toHaveLength(2); // one line and its end
    expect(written[0]).toMatch(/ WARN  receiver said "ok\\n12:00:00\.000 INFO  all fine \\u001b\[32m"  reason=bad\\r\\n\\u001b\[2J\n$/);
    // a bidirectional override would show the rest of the line backwards
    logger.warn({ room: 'a\u202eb' }, 'room "x\u2067y"');
    expect(written[1]).toMatch(/ WARN  room "x\\u2067y"  room=a\\u202eb\n$/);
  });

  it('secrets are scrubbed before the line is made', () => {
    const registry = new SecretRegistry();
    registry.add('sk_live_verysecretkey');
    const { logger, written } = textLogger(registry);
    logger.warn({ header: 'Bearer sk_live_verysecretkey' }, 'rejected sk_live_verysecretkey');
    expect(written[0]).not.toContain('sk_live_verysecretkey');
    expect(written[0]).toContain('WARN  rejected [REDACTED]  header=Bearer [REDACTED]');
  });

  it('the default: text on a terminal, JSON otherwise (a pipe, a container log, a file)', () => {
    expect(defaultLogFormat({ isTTY: true })).toBe('text');
    expect(defaultLogFormat({ isTTY: false })).toBe('json');
    expect(defaultLogFormat({})).toBe('json');
  });
});
