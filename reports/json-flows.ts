/**
 * A JSON document's top-level `flows` array read item by item, and its other members, without the whole
 * text ever being one string: V8 caps a string near 512 MB, and verdicts.json of a 20 M-frame capture is
 * 2.5 GB (analysis.json 1 GB). The scan follows strings (with their escapes) and
 * nesting byte by byte; UTF-8 never puts `"`, `\`, brackets or braces inside a multi-byte character, so
 * bytes are enough. Each item is parsed by JSON.parse on its own, and the members around the array as
 * one small document (the array as `[]`).
 */
import fsp from 'node:fs/promises';
import { UsageError } from '../cli/usage-error.ts';

const CHUNK = 4 << 20;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPENS = new Set([0x7b, 0x5b]);
const CLOSES = new Set([0x7d, 0x5d]);
const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

type Members = Record<string, unknown>;
/** what a scan stopped at: an item of the array (parsed), the array's start or end, the buffer's end */
type Stop = { item: unknown } | 'start' | 'end' | 'refilled' | 'eof';

export class JsonFlows {
  private readonly buf: Buffer;
  private len = 0;
  private at = 0;
  /** file offset of buf[0] */
  private base = 0;
  private mode: 'before' | 'flows' | 'after' = 'before';
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** a string of the top level being read (a key, when a `:` follows it), and the last one read */
  private key: Buffer[] | null = null;
  private keyFrom = 0;
  private lastKey = '';
  private afterColon = false;
  /** the text outside the array, and where its current run starts in `buf` (-1: inside the array) */
  private readonly outside: Buffer[] = [];
  private outsideFrom = 0;
  /** the item being read, and where its current run starts in `buf` (-1: between items) */
  private item: Buffer[] = [];
  private itemFrom = -1;
  private itemOffset = 0;
  /** the members ahead of the flows array */
  before: Members = {};

  private constructor(
    readonly file: string,
    private readonly fh: fsp.FileHandle,
    chunkBytes: number,
  ) {
    this.buf = Buffer.allocUnsafe(chunkBytes);
  }

  /**
   * Reads up to the start of the flows array: `before` then holds the members ahead of it. (Tests read
   * in small chunks, so that every boundary falls inside a string, a key or an item somewhere.)
   */
  static async open(file: string, chunkBytes = CHUNK): Promise<JsonFlows> {
    const r = new JsonFlows(file, await fsp.open(file, 'r'), Math.max(1, chunkBytes));
    try {
      for (let s = await r.scan(); s !== 'start'; s = await r.scan())
        if (s === 'eof') r.fail('no "flows" array', r.base + r.len);
      r.before = r.parse(Buffer.concat([...r.outside, Buffer.from(']}')]), 0) as Members;
      return r;
    } catch (e) {
      await r.close();
      throw e;
    }
  }

  /** The next item of the array (an object), or null after its last. */
  async next(): Promise<unknown | null> {
    while (this.mode === 'flows') {
      const s = await this.scan();
      if (s === 'eof') this.fail('the file ends inside the "flows" array', this.base + this.len);
      if (typeof s === 'object') return s.item;
    }
    return null;
  }

  /** Every member but `flows` (as `[]`), read to the end of the document; closes the file. */
  async rest(): Promise<Members> {
    try {
      while ((await this.next()) !== null);
      while ((await this.scan()) !== 'eof');
      if (this.depth !== 0) this.fail('the file ends inside the document', this.base + this.len);
      return this.parse(Buffer.concat(this.outside), 0) as Members;
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }

  private async scan(): Promise<Stop> {
    if (this.at >= this.len) return this.refill();
    const b = this.buf;
    for (let i = this.at; i < this.len; i++) {
      const c = b[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) {
          this.inString = false;
          if (this.key !== null) {
            this.key.push(b.subarray(this.keyFrom, i));
            this.lastKey = Buffer.concat(this.key).toString();
            this.key = null;
            this.afterColon = false;
          }
        }
        continue;
      }
      if (c === QUOTE) {
        this.inString = true;
        if (this.mode === 'flows' && this.depth === 1)
          this.fail('an item of "flows" that is not an object', this.base + i);
        if (this.depth === 1) {
          this.key = [];
          this.keyFrom = i + 1;
        }
      } else if (c === COLON) {
        if (this.depth === 1) this.afterColon = true;
      } else if (OPENS.has(c)) {
        if (this.mode === 'flows' && this.depth === 1) {
          this.itemFrom = i;
          this.itemOffset = this.base + i;
        }
        this.depth++;
        if (
          this.mode === 'before' &&
          this.depth === 2 &&
          c === 0x5b &&
          this.afterColon &&
          this.lastKey === 'flows'
        ) {
          this.outside.push(Buffer.from(b.subarray(this.outsideFrom, i + 1)));
          this.outsideFrom = -1;
          this.mode = 'flows';
          this.depth = 1;
          this.at = i + 1;
          return 'start';
        }
      } else if (CLOSES.has(c)) {
        this.depth--;
        if (this.depth < 0) this.fail(`an unmatched ${String.fromCharCode(c)}`, this.base + i);
        if (this.mode === 'flows' && this.depth === 1 && this.itemFrom >= 0) {
          this.item.push(b.subarray(this.itemFrom, i + 1));
          const text = this.item.length === 1 ? this.item[0]! : Buffer.concat(this.item);
          this.item = [];
          this.itemFrom = -1;
          this.at = i + 1;
          return { item: this.parse(text, this.itemOffset) };
        }
        if (this.mode === 'flows' && this.depth === 0) {
          // the array's `]`: the text outside it goes on from here (the array's depth was counted as 1)
          this.mode = 'after';
          this.depth = 1;
          this.outsideFrom = i;
          this.at = i + 1;
          return 'end';
        }
      } else if (this.mode === 'flows' && this.depth === 1 && !isSpace(c) && c !== COMMA) {
        this.fail('an item of "flows" that is not an object', this.base + i);
      }
    }
    this.at = this.len;
    return 'refilled';
  }

  /** The next chunk; the runs the last one left open (outside text, an item, a key) are kept first. */
  private async refill(): Promise<Stop> {
    const b = this.buf;
    if (this.outsideFrom >= 0) this.outside.push(Buffer.from(b.subarray(this.outsideFrom, this.len)));
    if (this.itemFrom >= 0) this.item.push(Buffer.from(b.subarray(this.itemFrom, this.len)));
    if (this.key !== null) this.key.push(Buffer.from(b.subarray(this.keyFrom, this.len)));
    this.base += this.len;
    let bytesRead: number;
    try {
      ({ bytesRead } = await this.fh.read(b, 0, b.length, this.base));
    } catch (e) {
      // a folder, an I/O error: what was read stays with the caller, the file is named
      return this.fail(
        `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
        this.base,
      );
    }
    this.len = bytesRead;
    this.at = 0;
    if (this.outsideFrom >= 0) this.outsideFrom = 0;
    if (this.itemFrom >= 0) this.itemFrom = 0;
    this.keyFrom = 0;
    return bytesRead === 0 ? 'eof' : 'refilled';
  }

  private parse(text: Buffer, offset: number): unknown {
    try {
      return JSON.parse(text.toString());
    } catch (e) {
      return this.fail(`not JSON (${(e as Error).message})`, offset);
    }
  }

  private fail(what: string, offset: number): never {
    throw new UsageError(`${this.file}: ${what} at byte ${offset}`);
  }
}
