/**
 * Copies chosen rows of a PacketColumns batch into another, for the rare batch whose rows belong to
 * several partitions. Works over every typed-array field, found once from an instance, so a column
 * added to PacketColumns is carried along without a change here.
 */
import type { PacketColumns } from '../../columns/packet-columns.ts';

type Lanes = Uint8Array | Uint16Array | Uint32Array | Float64Array;

interface FieldPair {
  src: Lanes;
  dst: Lanes;
  /** elements per row */
  stride: number;
}

function typedFields(c: PacketColumns): Map<string, Lanes> {
  const out = new Map<string, Lanes>();
  for (const [key, value] of Object.entries(c)) {
    if (
      value instanceof Uint8Array ||
      value instanceof Uint16Array ||
      value instanceof Uint32Array ||
      value instanceof Float64Array
    )
      out.set(key, value);
  }
  return out;
}

/** `dst` rows [0, m) := `src` rows `rows[0..m)`; `dst.length` is set to m. */
export function gatherRows(src: PacketColumns, dst: PacketColumns, rows: Uint32Array, m: number): void {
  const from = typedFields(src);
  const to = typedFields(dst);
  const pairs: FieldPair[] = [];
  for (const [key, s] of from) {
    const d = to.get(key);
    if (!d) continue;
    pairs.push({ src: s, dst: d, stride: s.length / src.capacity });
  }
  for (const { src: s, dst: d, stride } of pairs) {
    if (stride === 1) {
      for (let i = 0; i < m; i++) d[i] = s[rows[i]!]!;
      continue;
    }
    for (let i = 0; i < m; i++) {
      const from = rows[i]! * stride;
      const to = i * stride;
      for (let k = 0; k < stride; k++) d[to + k] = s[from + k]!;
    }
  }
  dst.length = m;
}
