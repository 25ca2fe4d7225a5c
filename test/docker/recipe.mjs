#!/usr/bin/env node
// The Docker image's recipe, run without Docker: CI has no Docker engine, and an image nobody builds
// can rot unnoticed (a file the build needs left out of a COPY, a dependency pruned that the
// daemon imports, an ENTRYPOINT path that moved, a HEALTHCHECK script with a typo).
//
// It reads the Dockerfile and carries out its instructions in a temporary directory standing in
// for each stage's filesystem: FROM starts a stage, WORKDIR/COPY (from the build context, minus
// .dockerignore, or --from an earlier stage)/RUN/ENV are done as written, with the node on PATH
// (CI runs this with the image's Node major). Then, on the final stage, with the image's ENV:
//   1. ENTRYPOINT + CMD exits 0;
//   2. the image's own simulator and a daemon started from ENTRYPOINT, with PRESENCE_HEALTH on a
//      free loopback port: the HEALTHCHECK command passes once the daemon polls, fails once the
//      simulator is gone, and passes with PRESENCE_HEALTH empty (the check turned off);
//   3. the daemon stops with exit 0 on SIGTERM (docker stop), its --state saved on the /data volume;
//   4. `demo` (the README's `docker run --rm presence-watcher demo`) prints events and exits 0;
//   5. its node_modules holds the dependencies and none of the dev dependencies.
// Not emulated, and said so: a RUN that touches an absolute path outside the stage's WORKDIR (it
// needs root: the /data volume's ownership) and USER (this runs as the CI user). An instruction it
// does not know fails the run, so a new one in the Dockerfile gets emulated here too.
//
// Usage: node test/docker/recipe.mjs   (~10 s with npm's cache warm, most of it npm ci and the build)
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';

const context = resolve(dirname(new URL(import.meta.url).pathname), '../..');
const work = mkdtempSync(join(tmpdir(), 'pw-docker-recipe-'));
const children = new Set();
let failed = false;

function say(line) {
  process.stdout.write(`docker recipe: ${line}\n`);
}
function fail(line) {
  process.stdout.write(`docker recipe: FAILED: ${line}\n`);
  failed = true;
}
function cleanUp() {
  for (const c of children) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}

/** The Dockerfile as instructions: comments dropped, continued lines joined. */
function instructions(text) {
  const out = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    const whole = `${pending}${line}`.trim();
    pending = '';
    const m = /^(\S+)\s*(.*)$/s.exec(whole);
    out.push({ op: m[1].toUpperCase(), args: m[2] });
  }
  return out;
}

/** .dockerignore as a predicate on context-relative paths (patterns as filepath.Match: * within one segment). */
function ignoredBy(patterns) {
  const unknown = patterns.find((p) => p.startsWith('!') || p.includes('**') || p.includes('?') || p.includes('['));
  if (unknown !== undefined) throw new Error(`.dockerignore pattern "${unknown}" is not emulated: teach test/docker/recipe.mjs its meaning`);
  const res = patterns.map((p) => new RegExp(`^${p.replace(/^\/+|\/+$/g, '').split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}(/|$)`));
  return (rel) => res.some((re) => re.test(rel));
}

const dockerignore = existsSync(join(context, '.dockerignore'))
  ? readFileSync(join(context, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
  : [];
let ignored;

/** ENV's k=v pairs (the form this Dockerfile uses; "k v" is the legacy one-variable form). */
function envPairs(args) {
  const pairs = {};
  const tokens = args.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g) ?? [];
  if (tokens.length >= 2 && !tokens[0].includes('=')) return { [tokens[0]]: args.slice(tokens[0].length).trim() };
  for (const t of tokens) {
    const i = t.indexOf('=');
    pairs[t.slice(0, i)] = t.slice(i + 1).replace(/^"(.*)"$|^'(.*)'$/s, '$1$2');
  }
  return pairs;
}

function execForm(args, what) {
  try {
    const v = JSON.parse(args);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  } catch {
    // falls through
  }
  throw new Error(`${what} is not in exec form (a JSON list): ${args}`);
}

const stages = [];
const byName = new Map();
let stage;

function inStage(s, p) {
  return isAbsolute(p) ? join(s.root, p) : join(s.cwd, p);
}

function copy(s, args) {
  const words = args.split(/\s+/);
  let from;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift();
    const m = /^--from=(.+)$/.exec(flag);
    if (!m) throw new Error(`COPY flag ${flag} is not emulated`);
    from = byName.get(m[1]) ?? stages[Number(m[1])];
    if (!from) throw new Error(`COPY --from=${m[1]}: no such stage`);
  }
  const dest = words.pop();
  const many = words.length > 1 || dest.endsWith('/');
  for (const src of words) {
    const source = from ? join(from.root, src) : join(context, src);
    if (!existsSync(source)) throw new Error(`COPY ${src}: not in the ${from ? 'earlier stage' : 'build context'}`);
    if (!from && ignored(relative(context, source))) throw new Error(`COPY ${src}: excluded by .dockerignore`);
    const isDir = statSync(source).isDirectory();
    const target = many && !isDir ? join(inStage(s, dest), src.split('/').pop()) : inStage(s, dest);
    mkdirSync(isDir ? target : dirname(target), { recursive: true });
    cpSync(source, target, {
      recursive: true,
      filter: (p) => from !== undefined || !ignored(relative(context, p)),
    });
  }
}

/**
 * The stage's env with the node running this on PATH (the image has its node there). The image's
 * commands get nothing else of this machine's; a RUN gets all of it, as a builder's network setup
 * (a proxy, NODE_EXTRA_CA_CERTS) is what lets `npm ci` reach the registry.
 */
function envOf(s, extra = {}, host = {}) {
  return { ...host, PATH: `${dirname(process.execPath)}:${process.env.PATH}`, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR ?? '/tmp', ...s.env, ...extra };
}

function run(s, command) {
  // an absolute path that is not the stage's own WORKDIR needs the real filesystem, and root
  const outside = [...new Set((command.match(/(?:^|\s)(\/[^\s;&|]*)/g) ?? []).map((t) => t.trim()).filter((p) => !p.startsWith(s.workdir)))];
  if (outside.length > 0) {
    say(`  not emulated (touches ${outside.join(', ')} outside the stage, as root): RUN ${command}`);
    return;
  }
  const r = spawnSync('sh', ['-c', command], { cwd: s.cwd, env: envOf(s, {}, process.env), stdio: ['ignore', 'inherit', 'inherit'], timeout: 600_000 });
  if (r.status !== 0) throw new Error(`RUN ${command}: ${r.error?.code === 'ETIMEDOUT' ? 'still running after 10 min' : `exit ${r.status ?? r.signal}`}`);
}

function build(dockerfile) {
  ignored = ignoredBy(dockerignore);
  for (const { op, args } of instructions(dockerfile)) {
    if (op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      const root = join(work, `stage-${stages.length}`);
      mkdirSync(root);
      stage = { image: m[1], root, cwd: root, workdir: '/', env: {}, user: undefined, entrypoint: [], cmd: [], healthcheck: undefined };
      stages.push(stage);
      if (m[2]) byName.set(m[2], stage);
      say(`FROM ${args} (a fresh directory; Node ${process.version} stands in for ${m[1]})`);
      continue;
    }
    if (!stage) throw new Error(`${op} before FROM`);
    say(`${op} ${args.length > 100 ? `${args.slice(0, 100)}…` : args}`);
    switch (op) {
      case 'WORKDIR':
        stage.workdir = isAbsolute(args) ? args : join(stage.workdir, args);
        stage.cwd = join(stage.root, stage.workdir);
        mkdirSync(stage.cwd, { recursive: true });
        break;
      case 'COPY':
        copy(stage, args);
        break;
      case 'RUN':
        run(stage, args);
        break;
      case 'ENV':
        Object.assign(stage.env, envPairs(args));
        break;
      case 'USER':
        stage.user = args;
        say(`  not emulated: runs as the CI user, not ${args}`);
        break;
      case 'EXPOSE':
        break;
      case 'ENTRYPOINT':
        stage.entrypoint = execForm(args, 'ENTRYPOINT');
        break;
      case 'CMD':
        stage.cmd = execForm(args, 'CMD');
        break;
      case 'HEALTHCHECK': {
        const m = /^((?:--\S+\s+)*)CMD\s+(.*)$/s.exec(args);
        if (!m) throw new Error(`HEALTHCHECK form not emulated: ${args}`);
        stage.healthcheck = execForm(m[2], 'HEALTHCHECK CMD');
        break;
      }
      default:
        throw new Error(`instruction ${op} is not emulated: teach test/docker/recipe.mjs what it does`);
    }
  }
  return stage;
}

/** An exec-form command of the image, its absolute paths (those under a directory the stage has) taken inside the stage's filesystem. */
function imageCommand(s, argv) {
  const mapped = argv.map((a) => (a.startsWith('/') && existsSync(join(s.root, a.split('/')[1])) ? join(s.root, a) : a));
  return { file: mapped[0] === 'node' ? process.execPath : mapped[0], args: mapped.slice(1) };
}

function start(s, argv, extraEnv = {}) {
  const { file, args } = imageCommand(s, argv);
  const child = spawn(file, args, { cwd: s.cwd, env: envOf(s, extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (err += c));
  const exit = new Promise((res) => child.on('exit', (code, signal) => (children.delete(child), res({ code, signal }))));
  return { child, exit, out: () => out, err: () => err };
}

function healthcheck(s, extraEnv) {
  const { file, args } = imageCommand(s, s.healthcheck);
  return spawnSync(file, args, { cwd: s.cwd, env: envOf(s, extraEnv), timeout: 5000 }).status;
}

async function until(what, test, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await test()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  fail(`${what} (waited ${ms / 1000}s)`);
  return false;
}

async function freePort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

async function check(image) {
  if (image.entrypoint.length === 0) return fail('no ENTRYPOINT');
  const plain = spawnSync(imageCommand(image, [...image.entrypoint, ...image.cmd]).file, imageCommand(image, [...image.entrypoint, ...image.cmd]).args, {
    cwd: image.cwd,
    env: envOf(image),
    encoding: 'utf8',
  });
  if (plain.status === 0) say(`ENTRYPOINT + CMD (${[...image.entrypoint, ...image.cmd].join(' ')}): exit 0`);
  else fail(`ENTRYPOINT + CMD exited ${plain.status}: ${plain.stderr.trim().split('\n')[0]}`);

  // only production dependencies ship (the build stage prunes the rest)
  const pkg = JSON.parse(readFileSync(join(context, 'package.json'), 'utf8'));
  const devShipped = Object.keys(pkg.devDependencies ?? {}).filter((d) => existsSync(join(image.cwd, 'node_modules', d)));
  const depsMissing = Object.keys(pkg.dependencies ?? {}).filter((d) => !existsSync(join(image.cwd, 'node_modules', d)));
  if (devShipped.length > 0) fail(`dev dependencies in the image: ${devShipped.join(', ')}`);
  else if (depsMissing.length > 0) fail(`dependencies missing from the image: ${depsMissing.join(', ')}`);
  else say(`node_modules: the ${Object.keys(pkg.dependencies ?? {}).length} dependencies, none of the ${Object.keys(pkg.devDependencies ?? {}).length} dev dependencies`);

  // the README's `docker run --rm presence-watcher demo`
  const demo = imageCommand(image, [...image.entrypoint, 'demo', '--duration', '3s']);
  const shown = spawnSync(demo.file, demo.args, { cwd: image.cwd, env: envOf(image), encoding: 'utf8', timeout: 30_000 });
  const events = shown.stdout.split('\n').filter((l) => l.startsWith('{"id":"evt_')).length;
  if (shown.status === 0 && events > 0) say(`ENTRYPOINT demo --duration 3s: exit 0, ${events} events`);
  else fail(`ENTRYPOINT demo exited ${shown.status ?? shown.error?.code} with ${events} events: ${shown.stderr.trim().split('\n').pop()}`);

  if (!image.healthcheck) return fail('no HEALTHCHECK');
  const sim = start(image, [...image.entrypoint, 'simulate', '--port', '0']);
  let api;
  await until('the image\'s simulator to print its URL', () => (api = /DAILY_API_URL=(\S+) DAILY_API_KEY=(\S+)/.exec(sim.out())) !== null, 20_000);
  if (!api) return;
  const health = `127.0.0.1:${await freePort()}`;
  const env = { DAILY_API_URL: api[1], DAILY_API_KEY: api[2], PRESENCE_HEALTH: health };
  // the README's durable run: state and dead-letter on a volume at /data (here a directory of the
  // stage's, as a mounted volume would be; its ownership, the skipped RUN's job, is not checked)
  mkdirSync(join(image.root, 'data'), { recursive: true });
  const daemon = start(image, [...image.entrypoint, '--all-rooms', '--interval', '1s', '--state', '/data/state.json', '--dead-letter', '/data/dead.ndjson'], env);
  if (await until('HEALTHCHECK to pass with the daemon polling', () => healthcheck(image, env) === 0, 30_000)) say(`HEALTHCHECK passes against a polling daemon (PRESENCE_HEALTH=${health})`);
  sim.child.kill('SIGTERM');
  if (await until('HEALTHCHECK to fail once the Daily API is gone', () => healthcheck(image, env) === 1, 30_000)) say('HEALTHCHECK fails once the daemon cannot poll');
  if (healthcheck(image, { ...env, PRESENCE_HEALTH: '' }) === 0) say('HEALTHCHECK passes with PRESENCE_HEALTH empty (the check turned off)');
  else fail('HEALTHCHECK with PRESENCE_HEALTH empty did not exit 0');
  daemon.child.kill('SIGTERM');
  const { code, signal } = await daemon.exit;
  if (code === 0) say('the daemon exits 0 on SIGTERM (docker stop)');
  let saved;
  try {
    saved = JSON.parse(readFileSync(join(image.root, 'data/state.json'), 'utf8'));
  } catch (err) {
    fail(`no state saved at /data/state.json (${err.code ?? err.message})`);
  }
  if (saved) say(`--state /data/state.json saved (${Object.keys(saved.rooms ?? {}).length} rooms)`);
  else fail(`the daemon exited ${code ?? signal} on SIGTERM: ${daemon.err().trim().split('\n').slice(-2).join(' | ')}`);
  if (daemon.out().trim() === '') fail('the daemon printed no event from the simulator');
}

try {
  const image = build(readFileSync(join(context, 'Dockerfile'), 'utf8'));
  await check(image);
} catch (err) {
  fail(err.message);
} finally {
  cleanUp();
}
say(failed ? 'FAILED' : 'ok');
process.exit(failed ? 1 : 0);
