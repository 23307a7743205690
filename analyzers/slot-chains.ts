/**
 * Numbers kept per slot (an open flow's slot) in chains of fixed blocks, in pages of Float64Array outside
 * V8's heap. An open flow's ladder (the numbers of its first packets) was most of what it held: as a
 * growing JS array per flow it was copied by every scavenge until promoted, then marked by every full
 * collection for as long as the flow stayed open (minutes for UDP). Blocks of ended flows are used again.
 */
const BLOCK = 64;
/** blocks per page: pages are added as chains grow, never copied (a doubled array was copied whole) */
const PAGE_SHIFT = 10;
const PAGE_BLOCKS = 1 << PAGE_SHIFT;
const NONE = -1;

export class SlotChains {
  private readonly pages: Float64Array[] = [];
  /** the page of the block `reserve` gave last */
  private page: Float64Array = new Float64Array(0);
  /** per block: the next block of its chain (NONE: last) and how many numbers it holds */
  private next = new Int32Array(256);
  private fill = new Uint8Array(256);
  /** blocks handed out so far; below it, the free ones are on the free stack */
  private top = 0;
  private freeStack = new Int32Array(256);
  private freeCount = 0;
  /** per slot: its chain's first and last block (NONE: empty) and its count of numbers */
  private first = new Int32Array(0);
  private last = new Int32Array(0);
  private counts = new Int32Array(0);
  /** slots handed out by `take`, and those given back */
  private slotsTaken = 0;
  private readonly freeSlots: number[] = [];

  /** The numbers' page `reserve`'s offset is in: read it after each `reserve`. */
  get numbers(): Float64Array {
    return this.page;
  }

  /** Blocks ever taken (the free ones among them included). */
  get blocks(): number {
    return this.top;
  }

  /** Numbers in slot's chain. */
  count(slot: number): number {
    return slot < this.counts.length ? this.counts[slot]! : 0;
  }

  /**
   * Where `n` (at most 64) numbers go next in slot's chain, side by side in `numbers` (the page it
   * returns them in): the caller writes them there at once. A block without room for all `n` is left
   * part-full.
   */
  reserve(slot: number, n: number): number {
    if (n > BLOCK) throw new RangeError(`at most ${BLOCK} numbers at a time, not ${n}`);
    if (slot >= this.first.length) this.growSlots(slot + 1);
    let b = this.last[slot]!;
    if (b === NONE || this.fill[b]! + n > BLOCK) {
      const added = this.takeBlock();
      if (b === NONE) this.first[slot] = added;
      else this.next[b] = added;
      this.last[slot] = added;
      b = added;
    }
    this.page = this.pages[b >> PAGE_SHIFT]!;
    const at = (b & (PAGE_BLOCKS - 1)) * BLOCK + this.fill[b]!;
    this.fill[b] = this.fill[b]! + n;
    this.counts[slot] = this.counts[slot]! + n;
    return at;
  }

  /** A copy of slot's numbers in the order they were reserved. */
  read(slot: number): Float64Array {
    const out = new Float64Array(this.count(slot));
    this.readInto(slot, out);
    return out;
  }

  /**
   * slot's numbers copied into `out` from its start (it must hold `count(slot)` of them); their count.
   * For a caller that reads many slots through one buffer: a typed array made per read costs a backing
   * store outside the heap (allocated, zeroed, and tracked until a collection frees it).
   */
  readInto(slot: number, out: Float64Array): number {
    let at = 0;
    for (let b = slot < this.first.length ? this.first[slot]! : NONE; b !== NONE; b = this.next[b]!) {
      const from = (b & (PAGE_BLOCKS - 1)) * BLOCK;
      out.set(this.pages[b >> PAGE_SHIFT]!.subarray(from, from + this.fill[b]!), at);
      at += this.fill[b]!;
    }
    return at;
  }

  /** Empties slot's chain; its blocks go to the next chains. */
  release(slot: number): void {
    if (slot >= this.first.length) return;
    for (let b = this.first[slot]!; b !== NONE; ) {
      const after = this.next[b]!;
      if (this.freeCount === this.freeStack.length)
        this.freeStack = grown(this.freeStack, 2 * this.freeCount);
      this.freeStack[this.freeCount++] = b;
      b = after;
    }
    this.first[slot] = NONE;
    this.last[slot] = NONE;
    this.counts[slot] = 0;
  }

  /**
   * A slot no chain holds, for chains that number their own slots (an open flow's ladder has its flow's
   * slot instead): used again once `drop`ped.
   */
  take(): number {
    return this.freeSlots.pop() ?? this.slotsTaken++;
  }

  /** Empties a slot from `take` and gives it back. */
  drop(slot: number): void {
    this.release(slot);
    this.freeSlots.push(slot);
  }

  private takeBlock(): number {
    const b = this.freeCount > 0 ? this.freeStack[--this.freeCount]! : this.top++;
    if (b >= this.next.length) {
      const n = 2 * this.next.length;
      this.next = grown(this.next, n);
      this.fill = grown(this.fill, n);
    }
    if (b >> PAGE_SHIFT >= this.pages.length) this.pages.push(new Float64Array(PAGE_BLOCKS * BLOCK));
    this.next[b] = NONE;
    this.fill[b] = 0;
    return b;
  }

  private growSlots(min: number): void {
    const n = Math.max(min, 2 * this.first.length, 64);
    const from = this.first.length;
    this.first = grown(this.first, n);
    this.last = grown(this.last, n);
    this.counts = grown(this.counts, n);
    this.first.fill(NONE, from);
    this.last.fill(NONE, from);
  }
}

function grown<T extends Int32Array | Uint8Array>(a: T, n: number): T {
  const out = new (a.constructor as new (n: number) => T)(n);
  out.set(a);
  return out;
}
