import { describe, expect, it } from 'vitest';
import { seededRandom } from '../src/simulator/random.js';
import { hashKey, SlotTable, type TableEntry } from '../src/util/slot-table.js';

// The trackers' id table, against a Map as the model: random adds and deletes over a small pool of
// (room, id) keys, so cells are deleted and reused, the table grows and is rebuilt in place.

describe('SlotTable', () => {
  for (const collide of [false, true]) {
    it(`matches a Map through random adds and deletes${collide ? ' (every key the same hash)' : ''}`, () => {
      const random = seededRandom(collide ? 7 : 3);
      const table = new SlotTable<TableEntry>();
      const model = new Map<string, TableEntry>();
      const rooms = ['a', 'b', 'c'];
      const hash = (room: string, id: string) => (collide ? 12345 : hashKey(id, hashKey(room, 0)));
      for (let step = 0; step < 20_000; step++) {
        // a pool that grows and shrinks, so the table both grows and fills up with deleted cells
        const pool = 20 + Math.floor(300 * Math.abs(Math.sin(step / 2000)));
        const room = rooms[Math.floor(random() * rooms.length)]!;
        const id = `p${Math.floor(random() * pool)}`;
        const key = `${room}/${id}`;
        const found = table.get(room, id, hash(room, id));
        expect(found).toBe(model.get(key));
        if (found) {
          if (random() < 0.6) {
            table.delete(found);
            model.delete(key);
            expect(found.at).toBe(-1);
          }
        } else {
          const e: TableEntry = { room, id, at: -1 };
          table.add(e, hash(room, id));
          model.set(key, e);
        }
        expect(table.size).toBe(model.size);
      }
      // everything the model has is found, under its own room only
      for (const [key, e] of model) {
        const [room, id] = key.split('/') as [string, string];
        expect(table.get(room, id, hash(room, id))).toBe(e);
        for (const other of rooms) if (other !== room && !model.has(`${other}/${id}`)) expect(table.get(other, id, hash(other, id))).toBeUndefined();
      }
    });
  }

  it('deleting an entry twice, or one it does not hold, changes nothing', () => {
    const table = new SlotTable<TableEntry>();
    const a: TableEntry = { room: 'r', id: 'a', at: -1 };
    const b: TableEntry = { room: 'r', id: 'b', at: -1 };
    table.add(a, hashKey('a', 0));
    table.delete(a);
    table.delete(a);
    table.delete(b);
    expect(table.size).toBe(0);
    table.add(b, hashKey('b', 0));
    expect(table.get('r', 'b', hashKey('b', 0))).toBe(b);
    expect(table.get('r', 'a', hashKey('a', 0))).toBeUndefined();
  });

  it('hashKey: the same id hashes differently per room seed, and every character counts', () => {
    const ids = ['', 'a', 'ab', 'abc', 'ba', '3f2a0c1e-0000-4000-8000-000000000000', '3f2a0c1e-0000-4000-8000-000000000001', 'é', '\u0000'];
    const seen = new Set(ids.map((id) => hashKey(id, 0)));
    expect(seen.size).toBe(ids.length);
    expect(hashKey('x', hashKey('room-1', 0))).not.toBe(hashKey('x', hashKey('room-2', 0)));
    expect(hashKey('abc', 0)).toBe(hashKey('abc', 0));
  });
});
