/**
 * MurmurHash3 x86_128 (Austin Appleby's algorithm, seed 0) over the UTF-16LE bytes of several
 * strings joined by U+0000, fed one code unit at a time so no joined string is ever built.
 * Written here from the algorithm; a test checks it against an independent implementation.
 *
 * Not a cryptographic hash: used for ids whose inputs nobody but Daily and the domain owner can
 * choose (room names, session ids). Anything a participant can set goes through SHA-256 instead.
 */

const C1 = 0x239b961b;
const C2 = 0xab0e9789;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93;

// The running state of the one hash in progress (this module is synchronous, so one suffices;
// module-level numbers keep it free of allocation).
let h1 = 0;
let h2 = 0;
let h3 = 0;
let h4 = 0;
let w0 = 0;
let w1 = 0;
let w2 = 0;
let w3 = 0;
/** Complete 32-bit words in the current 16-byte block (0..3). */
let words = 0;
/** The low half of a word whose high half (the next code unit) has not come yet, or -1. */
let low = -1;
let bytes = 0;

const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));

function mixK1(k: number): number {
  return Math.imul(rotl(Math.imul(k, C1), 15), C2);
}
function mixK2(k: number): number {
  return Math.imul(rotl(Math.imul(k, C2), 16), C3);
}
function mixK3(k: number): number {
  return Math.imul(rotl(Math.imul(k, C3), 17), C4);
}
function mixK4(k: number): number {
  return Math.imul(rotl(Math.imul(k, C4), 18), C1);
}

function block(): void {
  h1 ^= mixK1(w0);
  h1 = (Math.imul(rotl(h1, 19) + h2, 5) + 0x561ccd1b) | 0;
  h2 ^= mixK2(w1);
  h2 = (Math.imul(rotl(h2, 17) + h3, 5) + 0x0bcaa747) | 0;
  h3 ^= mixK3(w2);
  h3 = (Math.imul(rotl(h3, 15) + h4, 5) + 0x96cd1c35) | 0;
  h4 ^= mixK4(w3);
  h4 = (Math.imul(rotl(h4, 13) + h1, 5) + 0x32ac3b17) | 0;
  w0 = w1 = w2 = w3 = 0;
  words = 0;
}

/** One little-endian 32-bit word of input (two UTF-16 code units). */
function word(w: number): void {
  switch (words) {
    case 0:
      w0 = w;
      break;
    case 1:
      w1 = w;
      break;
    case 2:
      w2 = w;
      break;
    default:
      w3 = w;
  }
  if (++words === 4) block();
}

/** The code units of `s`, paired into words across calls. */
function feed(s: string): void {
  const len = s.length;
  let i = 0;
  if (low >= 0 && len > 0) {
    word(low | (s.charCodeAt(0) << 16));
    low = -1;
    i = 1;
  }
  for (; i + 1 < len; i += 2) word(s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16));
  if (i < len) low = s.charCodeAt(i);
  bytes += 2 * len;
}

const SEPARATOR = '\u0000';

function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const ch = (i: number) => B64URL.charCodeAt(i & 63);

/** `evt_` + the unpadded base64url of the 16-byte digest (22 characters). */
function digest(): string {
  // the tail: the last partial block (a pending half word is its final two bytes)
  if (low >= 0) {
    // into the tail, never through block(): a tail is mixed without the block's rounds
    if (words === 0) w0 = low;
    else if (words === 1) w1 = low;
    else if (words === 2) w2 = low;
    else w3 = low;
    words++;
    low = -1;
  }
  if (words > 0) {
    if (words > 3) h4 ^= mixK4(w3);
    if (words > 2) h3 ^= mixK3(w2);
    if (words > 1) h2 ^= mixK2(w1);
    h1 ^= mixK1(w0);
  }
  h1 ^= bytes;
  h2 ^= bytes;
  h3 ^= bytes;
  h4 ^= bytes;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h3 = fmix(h3);
  h4 = fmix(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  // 16 bytes, each word little-endian: 5 groups of 3 bytes (4 characters each), then 1 byte (2)
  const b = (i: number) => ((i < 4 ? h1 : i < 8 ? h2 : i < 12 ? h3 : h4) >>> ((i & 3) * 8)) & 0xff;
  const g = (i: number) => (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
  const x0 = g(0);
  const x1 = g(3);
  const x2 = g(6);
  const x3 = g(9);
  const x4 = g(12);
  const x5 = b(15);
  // one flat string: `prefix + fromCharCode(...)` would be a cons string over two
  return String.fromCharCode(
      101, 118, 116, 95, // evt_
      ch(x0 >>> 18), ch(x0 >>> 12), ch(x0 >>> 6), ch(x0),
      ch(x1 >>> 18), ch(x1 >>> 12), ch(x1 >>> 6), ch(x1),
      ch(x2 >>> 18), ch(x2 >>> 12), ch(x2 >>> 6), ch(x2),
      ch(x3 >>> 18), ch(x3 >>> 12), ch(x3 >>> 6), ch(x3),
      ch(x4 >>> 18), ch(x4 >>> 12), ch(x4 >>> 6), ch(x4),
      ch(x5 >>> 2), ch(x5 << 4),
  );
}

function reset(): void {
  h1 = h2 = h3 = h4 = 0;
  w0 = w1 = w2 = w3 = 0;
  words = 0;
  low = -1;
  bytes = 0;
}

/** `evt_` + base64url(MurmurHash3_x86_128(utf16le(`${a}\0${b}\0${c}`), seed 0)), words little-endian. */
export function murmur3Id(a: string, b: string, c: string): string {
  reset();
  feed(a);
  feed(SEPARATOR);
  feed(b);
  feed(SEPARATOR);
  feed(c);
  return digest();
}
