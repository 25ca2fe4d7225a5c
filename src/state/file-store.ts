import { open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Participant } from '../events.js';
import { makeDirs } from '../util/dirs.js';
import { followLinks, specialKind } from '../util/file-kind.js';
import { isRecord } from '../util/record.js';
import { StateError, type SavedState, type StateStore } from './store.js';

function isParticipant(p: unknown): p is Participant {
  if (!p || typeof p !== 'object') return false;
  const r = p as Record<string, unknown>;
  const s = (v: unknown) => v === null || typeof v === 'string';
  return typeof r.id === 'string' && s(r.userId) && s(r.userName) && s(r.mtgSessionId) && s(r.joinTime) && (r.duration === null || typeof r.duration === 'number');
}

/** What is wrong with an optional room → participant id → value field (`pendingLeaves`, `updates`), or undefined. */
function byRoomProblem(field: string, v: unknown, ok: (value: unknown) => boolean, what: string): string | undefined {
  if (v === undefined) return undefined;
  if (!isRecord(v)) return `"${field}" must be an object`;
  for (const [room, ids] of Object.entries(v)) {
    if (!isRecord(ids) || !Object.values(ids).every(ok)) return `"${field}" of room "${room}" must map participant ids to ${what}`;
  }
  return undefined;
}

/** The version of the state file this build writes and reads. */
export const STATE_VERSION = 1;

/** What is wrong with a parsed saved state, or undefined when it is a SavedState. */
export function savedStateProblem(raw: unknown): string | undefined {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return 'not a JSON object';
  const r = raw as Record<string, unknown>;
  if (r.version !== STATE_VERSION) return `unknown version ${JSON.stringify(r.version)}`;
  if (r.mode !== 'rooms' && r.mode !== 'domain') return '"mode" must be "rooms" or "domain"';
  if (!r.rooms || typeof r.rooms !== 'object' || Array.isArray(r.rooms)) return '"rooms" must be an object';
  if (r.journalSeq !== undefined && !(Number.isSafeInteger(r.journalSeq) && (r.journalSeq as number) >= 0)) return '"journalSeq" must be a non-negative integer';
  for (const [room, list] of Object.entries(r.rooms as object)) {
    if (!Array.isArray(list) || !list.every(isParticipant)) return `room "${room}" is not a list of participants`;
  }
  if (r.source !== undefined && typeof r.source !== 'string') return '"source" must be a string';
  if (r.partialRooms !== undefined && !(r.partialRooms !== null && typeof r.partialRooms === 'object' && !Array.isArray(r.partialRooms) && Object.values(r.partialRooms).every((v) => v === true))) {
    return '"partialRooms" must map room names to true';
  }
  return (
    byRoomProblem('pendingLeaves', r.pendingLeaves, (t) => typeof t === 'string' && !Number.isNaN(Date.parse(t)), 'times') ??
    byRoomProblem('updates', r.updates, (n) => Number.isSafeInteger(n) && (n as number) > 0, 'counts')
  );
}

/** Check a parsed state file; throws StateError naming what is wrong. */
export function validateSavedState(raw: unknown, where: string): SavedState {
  // a later version's file is not corrupt: "move it away" would throw away what a downgrade (a
  // rollback of a deploy) could have kept by running the version that wrote it
  const version = (raw as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && Number.isSafeInteger(version) && version > STATE_VERSION) {
    throw new StateError(
      `state file ${where} was written by a newer presence-watcher (state version ${version}; this one reads version ${STATE_VERSION}): run that version or a later one, or move the file away to start fresh`,
    );
  }
  const problem = savedStateProblem(raw);
  if (problem !== undefined) throw new StateError(`state file ${where} is corrupt: ${problem} (move it away to start fresh)`);
  return raw as SavedState;
}

/**
 * The state as one JSON file, replaced atomically: write a temp file, fsync it, rename it over the
 * old one, fsync the directory. Saves are serialised (the watcher coalesces its requests).
 */
export class FileStateStore implements StateStore {
  readonly path: string;
  #tail: Promise<void> = Promise.resolve();

  constructor(path: string) {
    if (typeof path !== 'string' || path === '') throw new TypeError('FileStateStore: give the state file\'s path');
    this.path = path;
  }

  async load(): Promise<SavedState | undefined> {
    // a FIFO would hold the read (and the daemon's start) until something wrote to it
    const kind = specialKind(this.path);
    if (kind) throw new StateError(`state file ${this.path} is ${kind}, not a regular file`);
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      throw new StateError(`cannot read state file ${this.path}: ${code ?? (err as Error).message}`);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new StateError(`state file ${this.path} is corrupt: not valid JSON (move it away to start fresh)`);
    }
    return validateSavedState(raw, this.path);
  }

  save(state: SavedState): Promise<void> {
    // serialised: two writes must never share the temp file
    const run = this.#tail.then(() => this.#write(state));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #write(state: SavedState): Promise<void> {
    // a state file that is a symbolic link is written where it points (renamed over the link, the
    // new file replaced the link, and the file it pointed to was left behind as it was)
    const path = followLinks(this.path);
    const dir = dirname(path);
    await makeDirs(dir);
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(JSON.stringify(state));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
    } catch (err) {
      // a failed write (a full disk) or rename leaves no temp file behind: the next pid's would be
      // another, and a full disk is no place to leave them
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    const d = await open(dir, 'r').catch(() => undefined);
    if (d) {
      await d.sync().catch(() => undefined);
      await d.close();
    }
  }
}
