/**
 * Pieces of JSON encoded once and copied into a ByteFile, for the writers that produce the bytes
 * JSON.stringify would (verdicts-json.ts, input-flow-bytes.ts): keys, string fields by value, an
 * endpoint and a Service (the verdicts' and analysis.json's have the same fields in the same order).
 */
import { type ByteFile, utf8 } from './byte-file.ts';

/** `"key":` after the separator `sep` (`{` for the first key, else `,`). */
export const keyAt = (sep: string, key: string): string => `${sep}${JSON.stringify(key)}:`;

/** Distinct values a field keeps the bytes of before it starts over (some, like messages, never repeat). */
export const MAX_KEPT = 1 << 14;

/** A string (or null) field: `before` + the value as JSON + `after`, as bytes made once per value. */
export class Field {
  private readonly byText = new Map<string, Uint8Array>();
  private readonly nullBytes: Uint8Array;

  constructor(
    private readonly before: string,
    private readonly after = '',
  ) {
    this.nullBytes = utf8(`${before}null${after}`);
  }

  write(out: ByteFile, text: string | null): void {
    if (text === null) {
      out.bytes(this.nullBytes);
      return;
    }
    let b = this.byText.get(text);
    if (b === undefined) {
      if (this.byText.size >= MAX_KEPT) this.byText.clear();
      b = utf8(`${this.before}${JSON.stringify(text)}${this.after}`);
      this.byText.set(text, b);
    }
    out.bytes(b);
  }
}

/** An endpoint's fields, in the order both documents write them. */
export interface EndpointFields {
  ip: string;
  port: number;
  pod: string | null;
  node: string | null;
}

/** An endpoint from `{` to `}`, after its key. */
export class EndpointBytes {
  private readonly ip = new Field(keyAt('{', 'ip'));
  private readonly port = utf8(keyAt(',', 'port'));
  private readonly pod = new Field(keyAt(',', 'pod'));
  private readonly node = new Field(keyAt(',', 'node'), '}');

  write(out: ByteFile, e: EndpointFields): void {
    this.ip.write(out, e.ip);
    out.bytes(this.port);
    out.number(e.port);
    this.pod.write(out, e.pod);
    this.node.write(out, e.node);
  }
}

/** A Service's fields, in the order both documents write them (analysis.json adds `seen` after them). */
export interface ServiceFields {
  ip: string;
  port: number;
  name: string | null;
}

/** A Service from `{` to its name, after its key; `after` follows the name (`}` closes it). */
export class ServiceBytes {
  private readonly ip = new Field(keyAt('{', 'ip'));
  private readonly port = utf8(keyAt(',', 'port'));
  private readonly name: Field;

  constructor(after = '}') {
    this.name = new Field(keyAt(',', 'name'), after);
  }

  write(out: ByteFile, s: ServiceFields): void {
    this.ip.write(out, s.ip);
    out.bytes(this.port);
    out.number(s.port);
    this.name.write(out, s.name);
  }
}
