// What `npm install daily-presence-watcher` gives a user: the files `npm pack` ships (dist/ as
// built by `pretest`), resolved by package name from a directory outside the project's source,
// type-checked as a strict TypeScript consumer would and run as the installed bin. The examples
// import the package by name too, but through Node's self-reference, which sees the whole checkout
// and not what `files` in package.json lets into the tarball.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  main: string;
  types: string;
  exports: Record<string, Record<string, string>>;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
};

let packed: string[] = [];
let work = '';
let installed = '';

beforeAll(() => {
  // --ignore-scripts: prepack would build again, which `pretest` has just done
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  packed = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  // inside the checkout (.tmp/ is ignored by git) so that the package's own dependencies resolve
  // from the project's node_modules, as they would from the user's
  mkdirSync(join(root, '.tmp'), { recursive: true });
  work = mkdtempSync(join(root, '.tmp', 'consumer-'));
  // a project of its own: without this package.json the nearest one is the checkout's, and both
  // Node and TypeScript would resolve the package's name to the checkout itself (self-reference)
  writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'presence-consumer', private: true, type: 'module' }));
  installed = join(work, 'node_modules', pkg.name);
  for (const f of packed) {
    mkdirSync(dirname(join(installed, f)), { recursive: true });
    cpSync(join(root, f), join(installed, f));
  }
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

const rel = (p: string) => posix.normalize(p).replace(/^\.\//, '');

describe('the published package', () => {
  it('ships every entry point package.json names, and nothing of the tests, bench or CI', () => {
    const targets = [pkg.main, pkg.types, ...Object.values(pkg.exports).flatMap((e) => Object.values(e)), ...Object.values(pkg.bin)];
    for (const t of targets) expect(packed, `${t} is named in package.json`).toContain(rel(t));
    expect(packed).toContain('README.md');
    expect(packed).toContain('LICENSE');
    expect(packed.filter((p) => /^(test|bench|\.ci|examples|node_modules|\.tmp)\//.test(p))).toEqual([]);
    expect(readFileSync(join(root, rel(pkg.bin['presence-watcher']!)), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('every import in the shipped JavaScript and declarations is a shipped file, a Node builtin or a dependency', () => {
    const shipped = new Set(packed);
    // an install from the registry has the dependencies and not the devDependencies
    const deps = new Set(Object.keys(pkg.dependencies));
    const missing: string[] = [];
    const seen = new Set<string>();
    for (const f of packed.filter((p) => /\.(js|d\.ts)$/.test(p))) {
      const text = readFileSync(join(installed, f), 'utf8');
      // statements only (a comment may well say "from 'data' events"); dynamic and type-position import("…") too
      const specs = [
        ...text.matchAll(/^(?:import|export)\b[^'"\n]*?\bfrom\s*['"]([^'"\n]+)['"]/gm),
        ...text.matchAll(/^import\s*['"]([^'"\n]+)['"]/gm),
        ...text.matchAll(/^\}\s*from\s*['"]([^'"\n]+)['"]/gm),
        ...text.matchAll(/\bimport\(\s*['"]([^'"\n]+)['"]\s*\)/g),
      ].map((m) => m[1]!);
      for (const spec of specs) {
        seen.add(spec);
        if (!spec.startsWith('.')) {
          const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
          if (!spec.startsWith('node:') && !deps.has(name)) missing.push(`${f} → ${spec} (not in dependencies)`);
          continue;
        }
        let target = posix.join(posix.dirname(f), spec);
        // a declaration imports './x.js' and TypeScript reads './x.d.ts'
        if (f.endsWith('.d.ts') && target.endsWith('.js')) target = `${target.slice(0, -3)}.d.ts`;
        if (!shipped.has(target)) missing.push(`${f} → ${spec}`);
      }
    }
    expect(missing).toEqual([]);
    // the scan itself finds what is there: the HTTP client, and a module's sibling
    expect(seen).toContain('undici');
    expect(seen).toContain('./watcher.js');
  });

  it('type-checks a strict TypeScript consumer that imports it by name', { timeout: 60_000 }, () => {
    const good = [
      "import { PresenceWatcher, DailySimulator, RoomTracker, parseRoomEntries, verifyWebhook, webhookSecretKeys, type PresenceEvent, type JoinEvent } from 'daily-presence-watcher';",
      "const w = new PresenceWatcher({ apiKey: 'k', rooms: ['standup'], intervalMs: 15_000 });",
      "w.on('join', (e: JoinEvent) => console.log(e.room, e.participant.userName, e.initial));",
      "w.on('leave', (e) => console.log(e.participant.id));",
      "const answer = parseRoomEntries('standup', { total_count: 0, data: [] });",
      "const all: PresenceEvent[] = new RoomTracker('standup').apply(answer.entries, answer.complete, { at: new Date().toISOString() });",
      'console.log(all.length, typeof verifyWebhook, webhookSecretKeys, DailySimulator);',
      'export {};',
    ];
    // the check is real: misuses of the API are errors (a room list given as a string, an event
    // field that does not exist), reported against this file and not the good one
    const bad = [
      "import { PresenceWatcher } from 'daily-presence-watcher';",
      "new PresenceWatcher({ apiKey: 'k', rooms: 'standup' });",
      "new PresenceWatcher({ apiKey: 'k', rooms: ['a'] }).on('join', (e) => e.participant.nickname);",
      'export {};',
    ];
    writeFileSync(join(work, 'good.mts'), good.join('\n'));
    writeFileSync(join(work, 'bad.mts'), bad.join('\n'));
    writeFileSync(
      join(work, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true, types: ['node'], typeRoots: [join(root, 'node_modules', '@types')] }, files: ['good.mts', 'bad.mts'] }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    let out = '';
    try {
      execFileSync(process.execPath, [tsc, '-p', '.'], { cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      out = String((e as { stdout?: string }).stdout);
    }
    const errors = out.split('\n').filter((l) => /error TS\d+/.test(l));
    expect(errors.filter((l) => !l.startsWith('bad.mts(')), out).toEqual([]);
    expect(errors.map((l) => /^bad\.mts\((\d+),/.exec(l)?.[1])).toEqual(['2', '3']);
  });

  it('resolves by name to the installed copy, from ES modules and from CommonJS (require of an ES module, Node ≥ 20.19)', () => {
    const run = (file: string, code: string) => {
      writeFileSync(join(work, file), code);
      return execFileSync(process.execPath, [join(work, file)], { cwd: work, encoding: 'utf8', env: { PATH: process.env.PATH } }).trim();
    };
    const esm = run('resolve.mjs', "import { PresenceWatcher } from 'daily-presence-watcher';\nconsole.log(typeof PresenceWatcher, import.meta.resolve('daily-presence-watcher'));");
    expect(esm).toBe(`function ${pathToFileURL(join(installed, 'dist', 'index.js')).href}`);
    const cjs = run('bot.cjs', "const { PresenceWatcher, RoomTracker } = require('daily-presence-watcher');\nconsole.log(typeof PresenceWatcher, typeof RoomTracker, require.resolve('daily-presence-watcher'));");
    expect(cjs).toBe(`function function ${join(installed, 'dist', 'index.js')}`);
  });

  it('the installed bin runs from the package alone', () => {
    const bin = join(installed, rel(pkg.bin['presence-watcher']!));
    expect(existsSync(bin)).toBe(true);
    const version = execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(version.trim()).toBe(pkg.version);
    const help = execFileSync(process.execPath, [bin, '--help'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(help).toContain('presence-watcher --room <name>');
  });
});
