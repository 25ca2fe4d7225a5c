import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EventEmitter } from 'eventemitter3';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** A node script as a child process, with its output collected as it arrives. */
export class NodeRun extends EventEmitter<{ output: () => void }> {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  /** `launcher`: a command that runs node (`['unshare', '--pid', …]`), or none. */
  constructor(script: string, args: string[], env: Record<string, string | undefined> = {}, nodeArgs: string[] = [], launcher: string[] = []) {
    super();
    const base: Record<string, string | undefined> = { PATH: process.env.PATH, HOME: process.env.HOME };
    const argv = [process.execPath, ...nodeArgs, script, ...args];
    const [cmd, ...rest] = [...launcher, ...argv];
    this.child = spawn(cmd!, rest, { env: { ...base, ...env } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d) => {
      this.stdout += d;
      this.emit('output');
    });
    this.child.stderr!.on('data', (d) => {
      this.stderr += d;
      this.emit('output');
    });
    this.exit = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Complete stdout lines so far. */
  get lines(): string[] {
    const parts = this.stdout.split('\n');
    parts.pop();
    return parts;
  }

  /** Parsed stderr JSON log lines (non-JSON lines are skipped). */
  get logs(): Record<string, unknown>[] {
    return this.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** Wait until `check()` is truthy, re-checking on output; fails if the process exits first. */
  until<T>(check: () => T | undefined | false, timeoutMs = 15_000, what = 'output'): Promise<T> {
    return new Promise((resolve, reject) => {
      const done = (fn: () => void) => {
        clearTimeout(timer);
        this.off('output', on);
        fn();
      };
      const on = () => {
        const v = check();
        if (v) done(() => resolve(v));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`timed out waiting for ${what}\nstderr: ${this.stderr.slice(-2000)}`))), timeoutMs);
      this.on('output', on);
      void this.exit.then(() => {
        const v = check();
        done(() => (v ? resolve(v) : reject(new Error(`process exited while waiting for ${what}\nstderr: ${this.stderr.slice(-2000)}`))));
      });
      on();
    });
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    this.child.kill(signal);
  }

  /** The exit code, or null if it had to be killed after `timeoutMs` (a safety net, not a sleep). */
  async exitCode(timeoutMs = 15_000): Promise<number | null> {
    const timer = setTimeout(() => this.kill('SIGKILL'), timeoutMs);
    const { code } = await this.exit;
    clearTimeout(timer);
    return code;
  }
}

/** The CLI (dist/cli.js) as a child process. */
export class CliRun extends NodeRun {
  constructor(args: string[], env: Record<string, string | undefined> = {}, launcher: string[] = []) {
    super(CLI, args, env, [], launcher);
  }
}

/** Run to completion (for usage errors and other short runs). */
export async function runCli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 15_000) {
  const run = new CliRun(args, env);
  const code = await run.exitCode(timeoutMs);
  return { code, stdout: run.stdout, stderr: run.stderr };
}
