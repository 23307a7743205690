/** Values as small numbers, in order of first sight: each distinct value stored once, in `values`. */
export class Interned<T> {
  private readonly ids = new Map<T, number>();
  readonly values: T[] = [];

  /** The id of `v`, if it has one. */
  find(v: T): number | undefined {
    return this.ids.get(v);
  }

  /** The id of `v` (given the next id when new). */
  id(v: T): number {
    let id = this.ids.get(v);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(v);
      this.ids.set(v, id);
    }
    return id;
  }
}

/**
 * Distinct texts numbered in order of first sight: a table's text columns are written as ids into
 * `values` (table-file.ts keeps, per row group, the texts its rows use).
 */
export class TextDict extends Interned<string> {
  /** ids of `values` (0 where null, which `valid` marks) */
  encode(values: readonly (string | null)[]): { ids: Uint32Array; valid: Uint8Array } {
    const ids = new Uint32Array(values.length);
    const valid = new Uint8Array(values.length);
    for (let r = 0; r < values.length; r++) {
      const v = values[r];
      if (v === null || v === undefined) continue;
      ids[r] = this.id(v);
      valid[r] = 1;
    }
    return { ids, valid };
  }
}
