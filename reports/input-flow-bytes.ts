/**
 * A flow of analysis.json (`InputFlow`) written as the bytes `JSON.stringify` makes of it, from fragments
 * encoded once: keys, endpoint texts, paths (a path's hops are objects every flow that took it shares),
 * and a hop latency's fields up to its numbers. analysis.json holds every flow (some 1.8 KB each), and
 * stringifying each was the largest single cost of the analysis thread after the collector: 1.8 s of 25
 * in the flow phase of a 5 M-frame analysis.
 */
import type { HopLatency, PathHop } from '../analyzers/flows.ts';
import { type ByteFile, utf8 } from './byte-file.ts';
import { EndpointBytes, keyAt, MAX_KEPT, ServiceBytes } from './json-fragments.ts';
import type { InputFlow } from './report-input.ts';

const key = (k: keyof InputFlow, first = false): Uint8Array => utf8(keyAt(first ? '{' : ',', k));

/** A path's bytes, kept while its hop objects are alive, and checked hop by hop before use. */
class PathBytes {
  private readonly byFirst = new WeakMap<PathHop, { hops: readonly PathHop[]; bytes: Uint8Array }>();

  write(out: ByteFile, hops: readonly PathHop[]): void {
    if (hops.length === 0) {
      out.bytes(EMPTY);
      return;
    }
    const kept = this.byFirst.get(hops[0]!);
    if (kept !== undefined && sameHops(kept.hops, hops)) {
      out.bytes(kept.bytes);
      return;
    }
    const bytes = utf8(JSON.stringify(hops));
    this.byFirst.set(hops[0]!, { hops: hops.slice(), bytes });
    out.bytes(bytes);
  }
}

function sameHops(a: readonly PathHop[], b: readonly PathHop[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Hop latencies: each entry's text up to `"samples":` made once per leg, hop and points. */
class HopsBytes {
  private readonly heads = new Map<string, Map<string, Uint8Array[]>>();
  private kept = 0;
  private readonly minNs = utf8(keyAt(',', 'minNs'));
  private readonly medianNs = utf8(keyAt(',', 'medianNs'));
  private readonly maxNs = utf8(keyAt(',', 'maxNs'));

  write(out: ByteFile, hops: readonly HopLatency[]): void {
    if (hops.length === 0) {
      out.bytes(EMPTY);
      return;
    }
    for (let i = 0; i < hops.length; i++) {
      const h = hops[i]!;
      out.bytes(i === 0 ? OPEN : COMMA);
      out.bytes(this.head(h));
      out.number(h.samples);
      out.bytes(this.minNs);
      out.number(h.minNs);
      out.bytes(this.medianNs);
      out.number(h.medianNs);
      out.bytes(this.maxNs);
      out.number(h.maxNs);
      out.bytes(CLOSE_OBJECT);
    }
    out.bytes(CLOSE_LIST);
  }

  /** `{"leg":…,"hop":…,"from":…,"to":…,"samples":` */
  private head(h: HopLatency): Uint8Array {
    let byTo = this.heads.get(h.from);
    if (byTo === undefined) {
      if (this.kept >= MAX_KEPT) {
        this.heads.clear();
        this.kept = 0;
      }
      byTo = new Map();
      this.heads.set(h.from, byTo);
    }
    let slots = byTo.get(h.to);
    if (slots === undefined) {
      slots = [];
      byTo.set(h.to, slots);
    }
    const at =
      Number.isInteger(h.hop) && h.hop >= 0 && h.hop < 1024 ? 2 * h.hop + (h.leg === 'reply' ? 1 : 0) : -1;
    let bytes = at < 0 ? undefined : slots[at];
    if (bytes === undefined) {
      const { leg, hop, from, to } = h;
      const text = JSON.stringify({ leg, hop, from, to, samples: 0 });
      bytes = utf8(text.slice(0, -2));
      if (at >= 0) {
        slots[at] = bytes;
        this.kept++;
      }
    }
    return bytes;
  }
}

const EMPTY = utf8('[]');
const OPEN = utf8('[');
const COMMA = utf8(',');
const CLOSE_OBJECT = utf8('}');
const CLOSE_LIST = utf8(']');
const NULL = utf8('null');

/** Runs of fields written alike, in the document's order; the rest are written one by one below. */
const LEAD = ['id', 'proto', 'family'] as const;
const COUNTS = ['packets', 'requestPackets', 'replyPackets', 'bytes'] as const;
/** times and community ids: texts that rarely repeat, written as they come */
const TEXTS = ['firstNs', 'lastNs', 'communityIdService', 'communityIdServer'] as const;

export class InputFlowBytes {
  /** every key's bytes (the `satisfies` fails to compile when InputFlow gains a field) */
  private readonly keys = {
    id: key('id', true),
    proto: key('proto'),
    family: key('family'),
    client: key('client'),
    service: key('service'),
    server: key('server'),
    packets: key('packets'),
    requestPackets: key('requestPackets'),
    replyPackets: key('replyPackets'),
    bytes: key('bytes'),
    firstNs: key('firstNs'),
    lastNs: key('lastNs'),
    communityIdService: key('communityIdService'),
    communityIdServer: key('communityIdServer'),
    requestPath: key('requestPath'),
    replyPath: key('replyPath'),
    hops: key('hops'),
    ladder: key('ladder'),
  } satisfies Record<keyof InputFlow, Uint8Array>;
  private readonly endpoint = new EndpointBytes();
  private readonly service = new ServiceBytes('');
  private readonly serviceSeen = [utf8(`${keyAt(',', 'seen')}false}`), utf8(`${keyAt(',', 'seen')}true}`)];
  private readonly paths = new PathBytes();
  private readonly hops = new HopsBytes();
  private readonly noLadder = utf8(`${keyAt(',', 'ladder')}[]}`);

  write(out: ByteFile, f: InputFlow): void {
    const k = this.keys;
    for (const name of LEAD) {
      out.bytes(k[name]);
      out.number(f[name]);
    }
    out.bytes(k.client);
    this.endpoint.write(out, f.client);
    out.bytes(k.service);
    const s = f.service;
    if (s === null) out.bytes(NULL);
    else {
      this.service.write(out, s);
      out.bytes(this.serviceSeen[s.seen ? 1 : 0]!);
    }
    out.bytes(k.server);
    this.endpoint.write(out, f.server);
    for (const name of COUNTS) {
      out.bytes(k[name]);
      out.number(f[name]);
    }
    for (const name of TEXTS) {
      out.bytes(k[name]);
      out.text(JSON.stringify(f[name]));
    }
    out.bytes(k.requestPath);
    this.paths.write(out, f.requestPath);
    out.bytes(k.replyPath);
    this.paths.write(out, f.replyPath);
    out.bytes(k.hops);
    this.hops.write(out, f.hops);
    if (f.ladder.length === 0) out.bytes(this.noLadder);
    else {
      out.bytes(k.ladder);
      out.text(JSON.stringify(f.ladder));
      out.bytes(CLOSE_OBJECT);
    }
  }
}
