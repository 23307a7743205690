/**
 * A column chunk's dictionary of 64-bit values, for the MAC columns, which a capture repeats a lot: a
 * row then costs a 1- or 2-byte id instead of 8 bytes (the bench's MAC columns go from 80 to 10 MB
 * each, for about the CPU the PLAIN copy took; IPv4 addresses, 4 bytes to 1 or 2, cost more in lookups
 * than their smaller writes saved). Ids are given in order of first sight; the entries, in id order,
 * are the dictionary page. An open-addressing table (ids by slot, keys compared in the entry list)
 * grows with the entries, so a chunk with few distinct values costs little memory; a repeat of the
 * previous value skips the lookup. At most MAX_ENTRIES entries (ids fit 16 bits): a page that would
 * pass that stays PLAIN, and so do the chunk's later pages.
 */

const MAX_ENTRIES = 65536;
const FIRST_SLOTS = 256;

export class ValueDictionary {
  /** the entries in id order, as (lo, hi) word pairs */
  private entries = new Uint32Array(2 * FIRST_SLOTS);
  /** id + 1 per slot, 0 for an empty slot */
  private slots = new Int32Array(FIRST_SLOTS);
  private shift = 32 - Math.log2(FIRST_SLOTS);
  size = 0;
  /** a page went over MAX_ENTRIES: the rest of the chunk is PLAIN */
  full = false;
  /** some page of the chunk uses the dictionary */
  used = false;

  /**
   * The ids of the m values `vals` (lo, hi word pairs) into `ids`; false when the dictionary would
   * pass MAX_ENTRIES (the ids are then incomplete; the entries added stay, unused).
   */
  encode(vals: Uint32Array, m: number, ids: Uint16Array): boolean {
    if (this.full) return false;
    let prevLo = 0;
    let prevHi = 0;
    let prevId = -1;
    for (let k = 0; k < m; k++) {
      const lo = vals[2 * k]!;
      const hi = vals[2 * k + 1]!;
      if (lo === prevLo && hi === prevHi && prevId >= 0) {
        ids[k] = prevId;
        continue;
      }
      const id = this.idOf(lo, hi);
      if (id < 0) {
        this.full = true;
        return false;
      }
      ids[k] = id;
      prevLo = lo;
      prevHi = hi;
      prevId = id;
    }
    this.used = true;
    return true;
  }

  /** The id of `hi:lo`, added when new; -1 when the dictionary is full. */
  private idOf(lo: number, hi: number): number {
    const slots = this.slots;
    const mask = slots.length - 1;
    const entries = this.entries;
    let slot = Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> this.shift;
    for (;;) {
      const s = slots[slot]!;
      if (s === 0) break;
      const id = s - 1;
      if (entries[2 * id] === lo && entries[2 * id + 1] === hi) return id;
      slot = (slot + 1) & mask;
    }
    if (this.size >= MAX_ENTRIES) return -1;
    const id = this.size++;
    entries[2 * id] = lo;
    entries[2 * id + 1] = hi;
    slots[slot] = id + 1;
    // at most half full: short probe runs
    if (2 * this.size > slots.length) this.grow();
    return id;
  }

  private grow(): void {
    const n = this.slots.length * 4;
    const entries = new Uint32Array(2 * n);
    entries.set(this.entries.subarray(0, 2 * this.size));
    this.entries = entries;
    this.slots = new Int32Array(n);
    this.shift = 32 - Math.log2(n);
    const size = this.size;
    this.size = 0;
    for (let id = 0; id < size; id++) this.idOf(entries[2 * id]!, entries[2 * id + 1]!);
  }

  /** The dictionary page body: the entries, PLAIN (little-endian INT64). */
  page(): Uint8Array {
    return new Uint8Array(this.entries.buffer, 0, 8 * this.size);
  }

  /** Empties the dictionary for the chunk's next row group (the table keeps its size). */
  reset(): void {
    if (this.size > 0) this.slots.fill(0);
    this.size = 0;
    this.full = false;
    this.used = false;
  }
}
