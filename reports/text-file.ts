/**
 * A text file written piece by piece and moved into place whole: outputs of hundreds of thousands of
 * flows (junit.xml; verdicts.json and analysis.json's flows as bytes, byte-file.ts) are streamed flow by flow
 * instead of being built as one string first, so memory holds one buffer, not the file. Pieces are
 * encoded into ByteFile's buffer as they come (no string joined per flush), and the file gets its name
 * only on `commit`, so a reader never sees half of it.
 */
import { readFileDirect } from '../ingest/source/direct-io.ts';
import { ByteFile } from './byte-file.ts';

export class TextFile extends ByteFile {
  write(text: string): void {
    this.text(text);
  }

  /** Appends the bytes of `file` (a part written beside this one, committed), read past the page cache. */
  append(file: string): void {
    this.flush();
    readFileDirect(file, (bytes) => this.put(bytes, bytes.length));
  }
}

/** Runs `fill` over a TextFile for `file`: committed when `fill` returns, removed when it throws. */
export function writeTextFile(file: string, fill: (out: TextFile) => void): void {
  const out = new TextFile(file);
  try {
    fill(out);
    out.commit();
  } catch (e) {
    out.discard();
    throw e;
  }
}
