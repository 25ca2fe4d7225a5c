import { describe, expect, it } from 'vitest';
import { DailyApiError } from '../src/daily/errors.js';
import { SinksDisabledError } from '../src/daemon.js';
import { SecretRegistry } from '../src/log.js';
import { DeliveryError } from '../src/sinks/sink.js';
import { StateError } from '../src/state/store.js';
import { networkFailure } from '../src/util/http-agent.js';
import { capturingLogger } from './support/helpers.js';

/** A logger, and the lines it wrote so far, parsed. */
function capture(registry = new SecretRegistry()) {
  const { logger, lines } = capturingLogger('info', registry);
  return { logger, written: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

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
});

describe('networkFailure', () => {
  it('says the code and message once', () => {
    expect(networkFailure(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }))).toBe('connect ECONNREFUSED 127.0.0.1:9');
    expect(networkFailure(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }))).toBe('UND_ERR_SOCKET other side closed');
    // Node's AggregateError when every address of a host refused: no message
    expect(networkFailure(Object.assign(new AggregateError([], ''), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
    expect(networkFailure(new Error('socket hang up'))).toBe('socket hang up');
    expect(networkFailure(new Error(''))).toBe('unknown error');
    expect(networkFailure('weird')).toBe('weird');
  });
});
