import { decodePart } from '../util/url.js';

/**
 * A room's URL given where its name belongs (`https://acme.daily.co/standup`, copied from the
 * browser): what to show of it, without its query (a meeting token can ride there), and the name
 * it stands for when its path is one segment. Undefined for anything else: Daily does not say which
 * characters a name may hold, so only what cannot be a name is caught (a scheme, a daily.co host).
 */
export function roomAsUrl(room: string): { shown: string; name: string | undefined } | undefined {
  if (!/^(?:https?:\/\/|[^\s/]+\.daily\.co\/)/i.test(room)) return undefined;
  const bare = room.replace(/[?#].*$/s, '');
  const path = bare.replace(/^https?:\/\//i, '').split('/').slice(1).filter((p) => p !== '');
  const name = path.length === 1 ? decodePart(path[0]!) : undefined;
  return { shown: bare.length < room.length ? `${bare}…` : bare, name: name === '' ? undefined : name };
}

/**
 * What a room name looks like it was meant to be, when it looks like a slip: a pattern, a room's
 * URL, a list, a name with a stray space; else undefined. Never a refusal up front (which
 * characters Daily allows in a room name is not documented): added to a 404, where it saves a trip
 * to the docs, and a warning at start and in --check-config.
 */
export function roomNameSlip(name: string): string | undefined {
  if (name.includes('*')) return 'Rooms are polled by name ("*" is not a wildcard there): to watch every room that matches, use --all-rooms (allRooms) with a sink rooms filter';
  const url = roomAsUrl(name.trim());
  if (url) return `That is a room's URL: --room (rooms) takes the room's name, the last part of it${url.name === undefined ? '' : ` ("${url.name}")`}`;
  if (name.includes(',')) return `One room per --room: repeat the flag (${name.split(',').map((r) => `--room ${r.trim()}`).join(' ')}), or list them under rooms: in a config file`;
  if (name !== name.trim()) return 'The name starts or ends with a space: is it quoted with one by mistake?';
  return undefined;
}
