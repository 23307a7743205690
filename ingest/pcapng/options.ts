/** Cursor over one pcapng option list; `walkOptions` overwrites it, so no object is made per option. */
export interface OptionWalk {
  /** Option code; -1 when the bytes left cannot hold an option header. */
  code: number;
  /** Offset of the option value (of the option header after an error). */
  at: number;
  /** Value length (bytes left in the block when `code` is -1). */
  len: number;
}

/**
 * Read the option at `p` (options end at `end`) into `o`. Returns where the next option starts, 0 at
 * the end of the list (opt_endofopt or no bytes left), -1 when the option does not fit in the block:
 * wiretap rejects such a block, and so do we.
 */
export function walkOptions(view: DataView, le: boolean, p: number, end: number, o: OptionWalk): number {
  if (p >= end) return 0;
  if (end - p < 4) {
    o.code = -1;
    o.at = p;
    o.len = end - p;
    return -1;
  }
  const code = view.getUint16(p, le);
  const len = view.getUint16(p + 2, le);
  if (code === 0) return 0;
  o.code = code;
  o.len = len;
  if (len > end - p - 4) {
    o.at = p;
    return -1;
  }
  o.at = p + 4;
  return p + 4 + ((len + 3) & ~3);
}
