/**
 * A text file written piece by piece and moved into place whole: outputs of hundreds of thousands of
 * flows (verdicts.json, junit.xml, analysis.json) are streamed flow by flow instead of being built as
 * one string first, so memory holds one buffer, not the file. Pieces are gathered up to `FLUSH_CHARS`
 * and written synchronously (one syscall per megabyte); the file gets its name only on `commit`, so a
 * reader never sees half of it.
 */
import fs from 'node:fs';
import path from 'node:path';

const FLUSH_CHARS = 1 << 20;

export class TextFile {
  private readonly fd: number;
  private readonly tmp: string;
  private parts: string[] = [];
  private chars = 0;

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.tmp = `${file}.tmp-${process.pid}`;
    this.fd = fs.openSync(this.tmp, 'w');
  }

  write(text: string): void {
    this.parts.push(text);
    this.chars += text.length;
    if (this.chars >= FLUSH_CHARS) this.flush();
  }

  private flush(): void {
    if (this.parts.length === 0) return;
    fs.writeSync(this.fd, this.parts.join(''));
    this.parts = [];
    this.chars = 0;
  }

  /** Writes what is left and gives the file its name. */
  commit(): void {
    this.flush();
    fs.closeSync(this.fd);
    fs.renameSync(this.tmp, this.file);
  }

  /** Closes and removes the temporary file (after a failure). */
  discard(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
    fs.rmSync(this.tmp, { force: true });
  }
}

/** Runs `fill` over a TextFile for `file`: committed when `fill` returns, removed when it throws. */
export function writeTextFile(file: string, fill: (out: TextFile) => void): void {
  const out = new TextFile(file);
  try {
    fill(out);
  } catch (e) {
    out.discard();
    throw e;
  }
  out.commit();
}

/**
 * The bytes of `JSON.stringify(object, null, 2)` for a plain object, written key by key, with the
 * array under `streamed` written element by element: the whole document is never one string.
 */
export function writeIndentedJson<T extends object>(
  out: TextFile,
  object: T,
  streamed: keyof T & string,
): void {
  const entries = Object.entries(object).filter(([, v]) => v !== undefined && typeof v !== 'function');
  out.write('{');
  entries.forEach(([key, value], i) => {
    out.write(`${i > 0 ? ',' : ''}\n  ${JSON.stringify(key)}: `);
    if (key !== streamed || !Array.isArray(value) || value.length === 0) {
      out.write(atDepth1(value));
      return;
    }
    out.write('[');
    for (let j = 0; j < value.length; j++) out.write(`${j > 0 ? ',' : ''}\n    ${atDepth2(value[j])}`);
    out.write('\n  ]');
  });
  out.write(entries.length > 0 ? '\n}' : '}');
}

// a value stringified inside one or two arrays comes out indented as deep as it sits in the document
// (cheaper than re-indenting every line); the slices drop the arrays' own brackets
const atDepth1 = (value: unknown): string => JSON.stringify([value], null, 2).slice(4, -2);
const atDepth2 = (value: unknown): string => JSON.stringify([[value]], null, 2).slice(10, -6);
