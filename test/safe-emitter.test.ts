import { describe, expect, it } from 'vitest';
import { ListenerError, SafeEmitter } from '../src/util/safe-emitter.js';

interface Events {
  none: [];
  one: [number];
  two: [string, number];
}

class Emitter extends SafeEmitter<Events> {
  readonly failures: ListenerError[] = [];
  protected override onListenerError(error: ListenerError): void {
    this.failures.push(error);
  }
  emit0(): boolean {
    return this.safeEmit('none');
  }
  emit1(n: number): boolean {
    return this.safeEmit('one', n);
  }
  emit2(s: string, n: number): boolean {
    return this.safeEmit('two', s, n);
  }
}

describe('SafeEmitter', () => {
  it('a listener gets exactly the arguments emitted, as many as were emitted', () => {
    const e = new Emitter();
    const got: unknown[][] = [];
    e.on('none', (...args: unknown[]) => void got.push(args));
    e.on('one', (...args: unknown[]) => void got.push(args));
    e.on('two', (...args: unknown[]) => void got.push(args));
    expect([e.emit0(), e.emit1(7), e.emit2('x', 2)]).toEqual([true, true, true]);
    expect(got).toEqual([[], [7], ['x', 2]]);
    // nobody listening: false, as eventemitter3's emit says
    expect(new Emitter().emit1(1)).toBe(false);
  });

  it('a listener that throws or rejects does not stop the others; each failure is reported once, named', async () => {
    const e = new Emitter();
    const heard: string[] = [];
    e.on('one', () => {
      throw new Error('boom');
    });
    e.on('one', async () => {
      throw new Error('later');
    });
    e.on('one', (n) => void heard.push(`third ${n}`));
    expect(e.emit1(3)).toBe(true);
    expect(heard).toEqual(['third 3']);
    await Promise.resolve();
    expect(e.failures.map((f) => [f.event, f.message])).toEqual([
      ['one', 'a "one" listener failed: boom'],
      ['one', 'a "one" listener failed: later'],
    ]);
  });

  it('once listeners hear one emit; listeners added or removed during an emit change the next one, not this one', () => {
    const e = new Emitter();
    const heard: string[] = [];
    const late = (n: number) => void heard.push(`late ${n}`);
    const second = (n: number) => void heard.push(`second ${n}`);
    e.once('one', (n) => void heard.push(`once ${n}`));
    e.on('one', (n) => {
      heard.push(`first ${n}`);
      e.on('one', late);
      e.off('one', second);
    });
    e.on('one', second);
    e.emit1(1);
    e.emit1(2);
    expect(heard).toEqual(['once 1', 'first 1', 'second 1', 'first 2', 'late 2']);
    // a lone once listener (no array behind it) too
    const lone = new Emitter();
    let count = 0;
    lone.once('none', () => void count++);
    lone.emit0();
    lone.emit0();
    expect(count).toBe(1);
    expect(lone.listenerCount('none')).toBe(0);
  });
});
