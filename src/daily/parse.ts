import type { Participant } from '../events.js';
import { invalidResponse } from './errors.js';

/** A validated GET /rooms/:name/presence answer. */
export interface RoomPresence {
  room: string;
  /** Daily's `total_count`; when larger than `participants.length` the snapshot is partial. */
  totalCount: number;
  participants: Participant[];
  complete: boolean;
}

/** A validated GET /presence answer: room name → participants. Empty rooms are absent. */
export type DomainPresence = Map<string, Participant[]>;

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function participantOf(raw: unknown, target: string, where: string): Participant {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw invalidResponse(target, `${where} is not an object`);
  }
  const r = raw as Record<string, unknown>;
  const id = r.id;
  if (typeof id !== 'string' || id === '') {
    throw invalidResponse(target, `${where} has no string "id"`);
  }
  const d = r.duration;
  return {
    id,
    userId: str(r.userId),
    userName: str(r.userName),
    mtgSessionId: str(r.mtgSessionId),
    joinTime: str(r.joinTime),
    duration: typeof d === 'number' && Number.isFinite(d) ? d : null,
  };
}

/** Validate the parsed body of GET /rooms/:name/presence. Throws a retryable DailyApiError. */
export function parseRoomPresence(room: string, body: unknown): RoomPresence {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidResponse(room, 'body is not a JSON object');
  }
  const b = body as Record<string, unknown>;
  const data = b.data;
  if (!Array.isArray(data)) throw invalidResponse(room, '"data" is missing or not an array');
  const participants = new Array<Participant>(data.length);
  for (let i = 0; i < data.length; i++) participants[i] = participantOf(data[i], room, `data[${i}]`);
  const tc = b.total_count;
  let totalCount = participants.length;
  if (tc !== undefined) {
    if (typeof tc !== 'number' || !Number.isInteger(tc) || tc < 0) {
      throw invalidResponse(room, '"total_count" is not a non-negative integer');
    }
    totalCount = tc;
  }
  return { room, totalCount, participants, complete: totalCount <= participants.length };
}

/** Validate the parsed body of GET /presence. Throws a retryable DailyApiError. */
export function parseDomainPresence(body: unknown): DomainPresence {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidResponse('*', 'body is not a JSON object keyed by room name');
  }
  const out: DomainPresence = new Map();
  for (const room of Object.keys(body)) {
    const list = (body as Record<string, unknown>)[room];
    if (!Array.isArray(list)) throw invalidResponse('*', `room "${room}" is not an array of participants`);
    if (list.length === 0) continue;
    const participants = new Array<Participant>(list.length);
    for (let i = 0; i < list.length; i++) participants[i] = participantOf(list[i], '*', `"${room}"[${i}]`);
    out.set(room, participants);
  }
  return out;
}

/** Parse Daily's error body `{"error": type, "info": text}`; tolerant of anything else. */
export function parseErrorBody(text: string): { type?: string; info?: string } {
  try {
    const b = JSON.parse(text) as unknown;
    if (b && typeof b === 'object' && !Array.isArray(b)) {
      const r = b as Record<string, unknown>;
      const out: { type?: string; info?: string } = {};
      if (typeof r.error === 'string') out.type = r.error.slice(0, 100);
      if (typeof r.info === 'string') out.info = r.info.slice(0, 300);
      return out;
    }
  } catch {
    // not JSON: Daily's error bodies are JSON, a proxy's may not be
  }
  return {};
}
