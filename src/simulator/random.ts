/** A small seeded PRNG (mulberry32): simulations and chaos runs are reproducible from their seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A v4-shaped UUID drawn from `random`. */
export function randomUuid(random: () => number): string {
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 16).toString(16)).join('');
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${(8 + Math.floor(random() * 4)).toString(16)}${hex(3)}-${hex(12)}`;
}

export const NAMES = [
  'Moishe', 'Ada', 'Grace', 'Linus', 'Margaret', 'Alan', 'Barbara', 'Ken', 'Radia', 'Dennis',
  'Frances', 'Edsger', 'Hedy', 'Tim', 'Katherine', 'Vint', 'Shafi', 'Donald', 'Lynn', 'Guido',
];

export const ROOM_NAMES = [
  'standup', 'design-review', 'all-hands', 'pairing', 'support-queue', 'sales-demo', 'retro',
  'interviews', 'office-hours', 'lounge',
];
