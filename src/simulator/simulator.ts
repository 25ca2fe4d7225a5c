import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { EventEmitter } from 'eventemitter3';
import type { Participant } from '../events.js';
import { NAMES, randomUuid, ROOM_NAMES, seededRandom } from './random.js';
import { didYouMean, unknownOption, type SameKeys } from '../util/options.js';
import { setOwn } from '../util/record.js';
import { shownValue } from '../util/text.js';

/** Ways the simulator can misbehave on purpose. */
export type SimulatorFault =
  | { kind: 'status'; status: number; retryAfter?: string; body?: string }
  | { kind: 'malformed' } // 200 whose body is not JSON
  | { kind: 'truncated' } // 200 whose JSON stops halfway
  | { kind: 'wrong-schema' } // 200, JSON, not the documented shape
  | { kind: 'bad-entry' } // 200, the right shape, but the last participant listed has no id (an empty answer gets one such)
  | { kind: 'bad-list' } // 200, the right shape, but the last list is not valid JSON (a stray comma)
  | { kind: 'partial' } // a subset of participants, with the full total_count (room endpoint only)
  | { kind: 'delay'; ms: number } // the right answer, late
  | { kind: 'hang' } // never answer
  | { kind: 'reset' }; // destroy the connection without answering

/** Every fault kind, once (the Record makes the compiler hold it to SimulatorFault). */
const FAULT_KIND_SET: Record<SimulatorFault['kind'], true> = {
  status: true,
  malformed: true,
  truncated: true,
  'wrong-schema': true,
  'bad-entry': true,
  'bad-list': true,
  partial: true,
  delay: true,
  hang: true,
  reset: true,
};
const FAULT_KINDS: readonly string[] = Object.keys(FAULT_KIND_SET);

/**
 * What `faults` draws from: what Daily, or the network and proxies between it and the watcher, can
 * answer for a while. Not the answers that are no passing trouble (401, 403, 404, 400), which stop
 * the watcher or the room, nor a hang, which holds a room for the whole request timeout.
 */
const RANDOM_FAULTS: readonly SimulatorFault[] = [
  { kind: 'status', status: 500 },
  { kind: 'status', status: 502 },
  { kind: 'status', status: 503 },
  { kind: 'status', status: 504 },
  { kind: 'status', status: 429, retryAfter: '1' },
  { kind: 'reset' },
  { kind: 'truncated' },
  { kind: 'malformed' },
  { kind: 'delay', ms: 2000 },
  { kind: 'partial' },
];
// GET /presence has no total_count, so no partial answer of it can be told apart from a full one
const RANDOM_DOMAIN_FAULTS = RANDOM_FAULTS.filter((f) => f.kind !== 'partial');

export interface FaultRule {
  fault: SimulatorFault;
  /** `room` (any room), `domain` (GET /presence), a room name, or `any`. Default `any`. */
  on?: string;
  /** How many requests it applies to. Default 1. */
  times?: number;
}

export interface SimulatorRequest {
  at: number;
  path: string;
  /** Room name, `*` for GET /presence, or undefined for anything else. */
  target: string | undefined;
  /** The HTTP status sent; `delayed` for a delay fault (logged when the request arrives). */
  status: number | 'reset' | 'hang' | 'delayed';
  fault?: SimulatorFault['kind'];
  /** The answer went gzipped (`compress`, and the request accepted gzip). */
  gzip?: true;
}

export interface SimulatedParticipant {
  id: string;
  userId: string | null;
  userName: string | null;
  joinTimeMs: number;
}

export interface SimulatorOptions {
  apiKey?: string;
  /** Room names to create, or a count (named standup, design-review, …). Default 3. */
  rooms?: string[] | number;
  /**
   * Random joins, leaves and renames per second across all rooms. Default 0 (scripted only). The
   * number of people present drifts back towards max(initialParticipants, 2 a room), so a long run
   * neither empties nor fills up.
   */
  churn?: number;
  /**
   * The share of random departures (0–1) that are reconnects instead: the person is back at once
   * in a new session with the same userId and name, as Daily shows a dropped connection or a
   * reload. Default 0.
   */
  reconnects?: number;
  /**
   * People placed in rooms at start, as in a call under way: they joined over the minutes before
   * (the last 47 s before the start, the one before 94 s, …). Default 0.
   */
  initialParticipants?: number;
  seed?: number;
  /** Cap on participants a room answer returns when no limit is sent (Daily's is undocumented). Default unlimited. */
  defaultLimit?: number;
  /** Gzip the answer to a request that accepts it, as a server or proxy in front of Daily may. Default false. */
  compress?: boolean;
  /**
   * The share of requests (0–1) answered with a random passing fault: a 500, 502, 503 or 504, a 429
   * asking for 1 s, a reset connection, a 200 cut off halfway or not JSON, the answer 2 s late, or a
   * room's list with half its people missing (and the full `total_count`). Drawn from a generator of
   * its own, from `seed`, so a seed gives the same people with faults or without. A fault queued
   * with `inject` comes first. Default 0.
   */
  faults?: number;
  now?: () => number;
}

export interface SimulatorEvents {
  /** A scripted or random change of presence (for latency measurements and scripted timelines). */
  change: (change: { type: 'join' | 'leave' | 'update'; room: string; participant: SimulatedParticipant; at: number }) => void;
  request: (req: SimulatorRequest) => void;
}

/** The API key a DailySimulator accepts unless given its own `apiKey`: any other is answered 401. */
export const SIMULATOR_API_KEY = 'sim_local_key';

const SIMULATOR_OPTIONS = ['apiKey', 'rooms', 'churn', 'reconnects', 'initialParticipants', 'seed', 'defaultLimit', 'compress', 'faults', 'now'] as const;
const simulatorOptionsChecked: SameKeys<keyof SimulatorOptions, (typeof SIMULATOR_OPTIONS)[number]> = true;
void simulatorOptionsChecked;

/**
 * The options a test gets wrong, said at construction (RangeError or TypeError, "simulator: …"):
 * `churn: '2'` or `rooms: -1` were taken as given, and a simulator with no rooms, or whose churn
 * never fires, looked like a watcher that sees nothing.
 */
function checkSimulatorOptions(opts: SimulatorOptions): void {
  const unknown = unknownOption(opts as Record<string, unknown>, SIMULATOR_OPTIONS);
  if (unknown) throw new TypeError(`simulator: ${unknown}`);
  const whole = (name: keyof SimulatorOptions, min: number) => {
    const v = opts[name];
    if (v !== undefined && !(typeof v === 'number' && Number.isSafeInteger(v) && v >= min)) throw new RangeError(`simulator: ${name} must be a whole number ≥ ${min}, got ${shownValue(v)}`);
  };
  if (opts.apiKey !== undefined && !(typeof opts.apiKey === 'string' && /^[\x21-\x7e]+$/.test(opts.apiKey))) {
    throw new TypeError('simulator: apiKey must be a non-empty string of printable ASCII without spaces (a key a Bearer header can carry)');
  }
  const rooms = opts.rooms;
  if (typeof rooms === 'number' || rooms === undefined) whole('rooms', 0);
  else if (!Array.isArray(rooms) || !rooms.every((r) => typeof r === 'string' && r !== '')) throw new TypeError('simulator: rooms must be a number of rooms or an array of non-empty room names');
  if (opts.churn !== undefined && !(typeof opts.churn === 'number' && Number.isFinite(opts.churn) && opts.churn >= 0)) {
    throw new RangeError(`simulator: churn must be a number of changes a second ≥ 0, got ${shownValue(opts.churn)}`);
  }
  whole('initialParticipants', 0);
  whole('seed', 0);
  whole('defaultLimit', 1);
  if (opts.now !== undefined && typeof opts.now !== 'function') throw new TypeError('simulator: now must be a function returning ms since the epoch');
  if (opts.compress !== undefined && typeof opts.compress !== 'boolean') throw new TypeError(`simulator: compress must be true or false, got ${shownValue(opts.compress)}`);
  if (opts.faults !== undefined && !(typeof opts.faults === 'number' && opts.faults >= 0 && opts.faults <= 1)) {
    throw new RangeError(`simulator: faults must be a share of requests from 0 to 1, got ${shownValue(opts.faults)}`);
  }
}

/**
 * A local, Daily-compatible presence API (`GET /v1/rooms/:name/presence`, `GET /v1/presence`), with
 * Bearer auth, Daily-shaped error bodies, scripted or random presence, and fault injection.
 */
export class DailySimulator extends EventEmitter<SimulatorEvents> {
  readonly apiKey: string;
  readonly requests: SimulatorRequest[] = [];
  readonly #rooms = new Map<string, Map<string, SimulatedParticipant>>();
  readonly #sessions = new Map<string, string>();
  readonly #faults: Required<FaultRule>[] = [];
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #churn: number;
  readonly #reconnects: number;
  /** How many people random churn keeps present, give or take. */
  readonly #population: number;
  readonly #defaultLimit: number | undefined;
  readonly #compress: boolean;
  readonly #faultShare: number;
  readonly #faultRandom: () => number;
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #churnTimer: NodeJS.Timeout | undefined;
  #url: string | undefined;
  /** Keep the request log bounded in long runs. */
  maxRequestLog = 10_000;

  constructor(opts: SimulatorOptions = {}) {
    super();
    checkSimulatorOptions(opts);
    this.apiKey = opts.apiKey ?? SIMULATOR_API_KEY;
    this.#random = seededRandom(opts.seed ?? 1);
    this.#now = opts.now ?? Date.now;
    this.#churn = opts.churn ?? 0;
    this.#reconnects = opts.reconnects ?? 0;
    if (!(typeof this.#reconnects === 'number' && this.#reconnects >= 0 && this.#reconnects <= 1)) throw new RangeError(`simulator: reconnects must be a share from 0 to 1, got ${shownValue(opts.reconnects)}`);
    this.#defaultLimit = opts.defaultLimit;
    this.#compress = opts.compress === true;
    this.#faultShare = opts.faults ?? 0;
    // its own stream: drawing from the presence's would make a seed's people depend on the faults
    this.#faultRandom = seededRandom((opts.seed ?? 1) ^ 0x5bd1e995);
    const rooms = opts.rooms ?? 3;
    const names =
      typeof rooms === 'number'
        ? Array.from({ length: rooms }, (_, i) => ROOM_NAMES[i] ?? `room-${i + 1}`)
        : rooms;
    for (const name of names) this.createRoom(name);
    // no draw for the join times: a seed's people stay the ones it always gave
    const present = opts.initialParticipants ?? 0;
    const start = Math.floor(this.#now() / 1000) * 1000;
    for (let i = 0; i < present; i++) this.#randomJoin(start - (present - i) * 47_000);
    this.#population = Math.max(opts.initialParticipants ?? 0, 2 * names.length);
  }

  /** Base URL to give the watcher as apiUrl (ends in /v1). Available after listen(). */
  get url(): string {
    if (!this.#url) throw new Error('simulator is not listening; call listen() first');
    return this.#url;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    const server = createServer((req, res) => this.#handle(req, res));
    server.keepAliveTimeout = 30_000;
    server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.#server = server;
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new Error('simulator: no TCP address');
    const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.#url = `http://${h}:${addr.port}/v1`;
    if (this.#churn > 0) {
      const tickMs = 100;
      this.#churnTimer = setInterval(() => this.#churnTick(tickMs), tickMs);
      this.#churnTimer.unref();
    }
    return this.#url;
  }

  async close(): Promise<void> {
    if (this.#churnTimer) clearInterval(this.#churnTimer);
    this.#churnTimer = undefined;
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- scripting -------------------------------------------------------------------------------

  createRoom(name: string): void {
    if (!this.#rooms.has(name)) this.#rooms.set(name, new Map());
  }

  deleteRoom(name: string): void {
    this.#rooms.delete(name);
  }

  get roomNames(): string[] {
    return [...this.#rooms.keys()];
  }

  join(room: string, who: { id?: string; userName?: string | null; userId?: string | null; joinTimeMs?: number } = {}): SimulatedParticipant {
    const members = this.#rooms.get(room);
    if (!members) throw new Error(`simulator: no room "${room}"`);
    if (members.size === 0) this.#sessions.set(room, randomUuid(this.#random));
    const p: SimulatedParticipant = {
      id: who.id ?? randomUuid(this.#random),
      userName: who.userName === undefined ? NAMES[Math.floor(this.#random() * NAMES.length)]! : who.userName,
      userId: who.userId === undefined ? randomUuid(this.#random).slice(0, 8) : who.userId,
      joinTimeMs: who.joinTimeMs ?? Math.floor(this.#now() / 1000) * 1000,
    };
    members.set(p.id, p);
    this.emit('change', { type: 'join', room, participant: p, at: this.#now() });
    return p;
  }

  leave(room: string, id: string): boolean {
    const members = this.#rooms.get(room);
    const p = members?.get(id);
    if (!members || !p) return false;
    members.delete(id);
    this.emit('change', { type: 'leave', room, participant: p, at: this.#now() });
    return true;
  }

  /**
   * A reconnect as Daily shows it: the session ends and the same user (userId, userName) is back in
   * a new session with a new id, at once (`overlap: false`) or with the old session still listed
   * until `leave` ends it (`overlap: true`, as when Daily has not yet timed the old one out).
   * Returns the new session, or undefined when there is no such participant.
   */
  reconnect(room: string, id: string, opts: { overlap?: boolean } = {}): SimulatedParticipant | undefined {
    const p = this.#rooms.get(room)?.get(id);
    if (!p) return undefined;
    // the new session first (the 'change' events come join, then leave): a room left empty for a
    // moment would start a new meeting session, which a reconnect does not
    const back = this.join(room, { userId: p.userId, userName: p.userName });
    if (!opts.overlap) this.leave(room, id);
    return back;
  }

  rename(room: string, id: string, userName: string): boolean {
    const p = this.#rooms.get(room)?.get(id);
    if (!p) return false;
    p.userName = userName;
    this.emit('change', { type: 'update', room, participant: p, at: this.#now() });
    return true;
  }

  /** Who is in a room now, in Daily's shape. */
  presence(room: string): Participant[] {
    const members = this.#rooms.get(room);
    if (!members) return [];
    const now = this.#now();
    const session = this.#sessions.get(room) ?? null;
    return [...members.values()].map((p) => ({
      id: p.id,
      userId: p.userId,
      userName: p.userName,
      mtgSessionId: session,
      joinTime: new Date(p.joinTimeMs).toISOString(),
      duration: Math.max(0, Math.floor((now - p.joinTimeMs) / 1000)),
    }));
  }

  /** Queue a fault for the next matching request(s). */
  inject(rule: FaultRule | SimulatorFault): void {
    const r: FaultRule = 'kind' in rule ? { fault: rule } : rule;
    // a fault it does not know would be served as a normal answer, and the test would pass for nothing
    const kind = (r.fault as { kind?: unknown } | undefined)?.kind;
    if (typeof kind !== 'string' || !FAULT_KINDS.includes(kind)) {
      throw new TypeError(`simulator: inject: fault kind ${shownValue(kind)} is not one of ${FAULT_KINDS.join(', ')}${typeof kind === 'string' ? didYouMean(kind, FAULT_KINDS) : ''}`);
    }
    if (r.fault.kind === 'status' && !(Number.isInteger(r.fault.status) && r.fault.status >= 100 && r.fault.status <= 599)) {
      throw new TypeError(`simulator: inject: a status fault needs an HTTP status (100–599), got ${shownValue(r.fault.status)}`);
    }
    this.#faults.push({ fault: r.fault, on: r.on ?? 'any', times: r.times ?? 1 });
  }

  /** Faults queued and not yet served. */
  get pendingFaults(): number {
    return this.#faults.reduce((n, f) => n + f.times, 0);
  }

  clearFaults(): void {
    this.#faults.length = 0;
  }

  /** Apply one random change (join, leave or rename) somewhere. */
  randomChange(): void {
    const r = this.#random();
    const occupied = [...this.#rooms].filter(([, m]) => m.size > 0);
    // joins outnumber leaves below the population and the other way round above it: with a fixed
    // split the people present drifted (+5% of all changes), which a long soak read as a leak
    let present = 0;
    for (const [, m] of occupied) present += m.size;
    const join = present < this.#population ? 0.55 : present > this.#population ? 0.3 : 0.45;
    if (r < join || occupied.length === 0) this.#randomJoin();
    else if (r < 0.85) {
      const [room, members] = occupied[Math.floor(this.#random() * occupied.length)]!;
      const ids = [...members.keys()];
      const id = ids[Math.floor(this.#random() * ids.length)]!;
      // (no draw when there are no reconnects: a seed's sequence stays what it was)
      if (this.#reconnects > 0 && this.#random() < this.#reconnects) this.reconnect(room, id);
      else this.leave(room, id);
    } else {
      const [room, members] = occupied[Math.floor(this.#random() * occupied.length)]!;
      const ids = [...members.keys()];
      this.rename(room, ids[Math.floor(this.#random() * ids.length)]!, NAMES[Math.floor(this.#random() * NAMES.length)]! + ' ' + Math.floor(this.#random() * 100));
    }
  }

  #randomJoin(joinTimeMs?: number): void {
    const rooms = this.roomNames;
    if (rooms.length === 0) return;
    this.join(rooms[Math.floor(this.#random() * rooms.length)]!, joinTimeMs === undefined ? {} : { joinTimeMs });
  }

  #churnTick(tickMs: number): void {
    const expected = (this.#churn * tickMs) / 1000;
    let n = Math.floor(expected);
    if (this.#random() < expected - n) n++;
    for (let i = 0; i < n; i++) this.randomChange();
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  #log(req: SimulatorRequest): void {
    this.requests.push(req);
    if (this.requests.length > this.maxRequestLog) this.requests.splice(0, this.requests.length - this.maxRequestLog);
    this.emit('request', req);
  }

  #takeFault(target: string): SimulatorFault | undefined {
    const i = this.#faults.findIndex(
      (f) => f.on === 'any' || f.on === target || (f.on === 'domain' && target === '*') || (f.on === 'room' && target !== '*'),
    );
    if (i < 0) return undefined;
    const rule = this.#faults[i]!;
    if (--rule.times <= 0) this.#faults.splice(i, 1);
    return rule.fault;
  }

  #randomFault(target: string): SimulatorFault | undefined {
    if (this.#faultShare === 0 || this.#faultRandom() >= this.#faultShare) return undefined;
    const kinds = target === '*' ? RANDOM_DOMAIN_FAULTS : RANDOM_FAULTS;
    return kinds[Math.floor(this.#faultRandom() * kinds.length)];
  }

  /** An answer, gzipped when the simulator compresses and the request accepts it. */
  #write(req: IncomingMessage, res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): boolean {
    const gzip = this.#compress && /\bgzip\b/i.test(String(req.headers['accept-encoding'] ?? ''));
    const payload = gzip ? gzipSync(text) : text;
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...(gzip ? { 'content-encoding': 'gzip' } : {}), ...headers });
    res.end(payload);
    return gzip;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const rawUrl = req.url ?? '/';
    const path = rawUrl.split('?')[0]!;
    const query = new URLSearchParams(rawUrl.slice(path.length + 1));
    const send = (status: number, body: unknown, headers: Record<string, string> = {}, fault?: SimulatorFault['kind']) => {
      const gzip = this.#write(req, res, status, typeof body === 'string' ? body : JSON.stringify(body), headers);
      this.#log({ at: this.#now(), path, target, status, ...(fault ? { fault } : {}), ...(gzip ? { gzip: true as const } : {}) });
    };

    const segments = path.split('/');
    let target: string | undefined;
    if (req.method === 'GET' && segments.length === 3 && segments[1] === 'v1' && segments[2] === 'presence') {
      target = '*';
    } else if (req.method === 'GET' && segments.length === 5 && segments[1] === 'v1' && segments[2] === 'rooms' && segments[4] === 'presence') {
      try {
        target = decodeURIComponent(segments[3]!);
      } catch {
        send(400, { error: 'invalid-request-error', info: 'bad room name encoding' });
        return;
      }
    }

    const auth = req.headers.authorization;
    if (!auth) {
      send(401, { error: 'authorization-header-error', info: 'Authorization header missing' });
      return;
    }
    if (auth !== `Bearer ${this.apiKey}`) {
      send(401, { error: 'authentication-error' });
      return;
    }
    if (target === undefined) {
      send(404, { error: 'not-found', info: `no route ${req.method} ${path}` });
      return;
    }

    const fault = this.#takeFault(target) ?? this.#randomFault(target);
    if (fault) {
      switch (fault.kind) {
        case 'status': {
          const type = fault.status === 429 ? 'rate-limit-error' : fault.status >= 500 ? 'server-error' : 'invalid-request-error';
          const headers: Record<string, string> = fault.retryAfter === undefined ? {} : { 'retry-after': fault.retryAfter };
          send(fault.status, fault.body ?? { error: type, info: `simulated ${fault.status}` }, headers, 'status');
          return;
        }
        case 'malformed':
          send(200, '<html><body>502 Bad Gateway</body></html>', { 'content-type': 'text/html' }, 'malformed');
          return;
        case 'truncated': {
          const full = JSON.stringify(this.#body(target, query));
          send(200, full.slice(0, Math.max(1, Math.floor(full.length / 2))), {}, 'truncated');
          return;
        }
        case 'wrong-schema':
          send(200, target === '*' ? [{ room: 'x' }] : { total_count: 1, data: [{ name: 'no id here' }] }, {}, 'wrong-schema');
          return;
        case 'bad-entry': {
          // deep in the answer, so a reader that parses GET /presence room by room meets it last
          const bad = { userName: 'no id here' };
          if (target === '*') {
            const body = this.#body(target, query) as Record<string, unknown[]>;
            const last = Object.values(body).at(-1);
            if (last !== undefined) last[last.length - 1] = bad;
            else body['no-id-room'] = [bad];
            send(200, body, {}, 'bad-entry');
          } else {
            const body = this.#body(target, query) as { total_count: number; data: unknown[] };
            if (body.data.length > 0) body.data[body.data.length - 1] = bad;
            else {
              body.data.push(bad);
              body.total_count++;
            }
            send(200, body, {}, 'bad-entry');
          }
          return;
        }
        case 'bad-list': {
          const text = JSON.stringify(this.#body(target, query));
          const at = text.lastIndexOf('}]');
          send(200, at < 0 ? `${text},` : `${text.slice(0, at)}},]${text.slice(at + 2)}`, {}, 'bad-list');
          return;
        }
        case 'partial': {
          if (target === '*') break; // GET /presence has no total_count: a partial answer cannot be told apart
          const body = this.#body(target, query);
          if ('data' in body && body.data.length > 0) {
            body.data = body.data.slice(0, Math.floor(body.data.length / 2));
          }
          send(200, body, {}, 'partial');
          return;
        }
        case 'delay': {
          this.#log({ at: this.#now(), path, target, status: 'delayed', fault: 'delay' });
          const quiet = (status: number, body: unknown) => void this.#write(req, res, status, JSON.stringify(body));
          setTimeout(() => {
            if (!res.destroyed) this.#answer(target, query, quiet);
          }, fault.ms).unref();
          return;
        }
        case 'hang':
          this.#log({ at: this.#now(), path, target, status: 'hang', fault: 'hang' });
          return;
        case 'reset':
          this.#log({ at: this.#now(), path, target, status: 'reset', fault: 'reset' });
          req.socket.destroy();
          return;
      }
    }
    this.#answer(target, query, send);
  }

  #answer(target: string, query: URLSearchParams, send: (status: number, body: unknown) => void): void {
    if (target !== '*' && !this.#rooms.has(target)) {
      send(404, { error: 'not-found', info: `room ${target} not found` });
      return;
    }
    send(200, this.#body(target, query));
  }

  #body(target: string, query: URLSearchParams): { total_count: number; data: unknown[] } | Record<string, unknown[]> {
    if (target === '*') {
      const out: Record<string, unknown[]> = {};
      for (const room of this.#rooms.keys()) {
        const list = this.presence(room);
        if (list.length > 0) setOwn(out, room, list.map((p) => ({ room, ...p })));
      }
      return out;
    }
    let list = this.presence(target);
    const total = list.length;
    const userId = query.get('userId');
    const userName = query.get('userName');
    if (userId !== null) list = list.filter((p) => p.userId === userId);
    if (userName !== null) list = list.filter((p) => p.userName === userName);
    const limitParam = query.get('limit');
    const limit = limitParam !== null && /^\d+$/.test(limitParam) ? Number(limitParam) : this.#defaultLimit;
    const data = limit === undefined ? list : list.slice(0, limit);
    return { total_count: userId !== null || userName !== null ? list.length : total, data: data.map((p) => ({ room: target, ...p })) };
  }
}
