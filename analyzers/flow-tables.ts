/**
 * The per-flow tables (`flows`, `flow_hops`, `flow_coverage`; DESIGN §4) and `clock_offsets` as
 * Parquet, written by table-file.ts as flows end: a flow's rows go into column arrays at once (no Flow
 * is held) and a part of rows is written when full. The rows are in the order the flows ended, as in
 * the `verdicts` table and Zeek's conn.log (`ORDER BY flow_id` where order matters).
 *
 * Staged in DuckDB and sorted by its COPY at the end, these rows cost the analysis thread ~15 µs a flow
 * of appends and the run a tail of 1.6 s at 5 M frames (4.6 s at 20 M), with a DuckDB instance and
 * its memory held throughout for them.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  type ColumnRows,
  setBigInt64 as setBigLanes,
  setInt64 as setLanes,
  type TableColumn,
  TableFile,
} from '../ingest/dataset/parquet/table-file.ts';
import type { ClockOffset } from './clock-offsets.ts';
import type { Flow, PathHop } from './flows.ts';
import { hopKey } from './rules/flow-facts.ts';
import { TextDict } from './text-dict.ts';

type FlowTable = 'flows' | 'flow_hops' | 'flow_coverage';

/** Rows gathered before they are written: a page of each column. */
const PART_ROWS = 1 << 12;
// each hop's `point:dir` made once (hopKey), not per flow
const pathText = (p: readonly PathHop[]) => p.map((h) => hopKey(h.point, h.dir)).join(' > ');

/**
 * A text column's rows: ids into its own TextDict (a list shared by the columns made every column's
 * row-group map as long as all of their texts together), 0 in `valid` for NULL.
 */
class TextRows {
  readonly ids = new Uint32Array(PART_ROWS);
  readonly valid = new Uint8Array(PART_ROWS);
  readonly dict = new TextDict();

  set(r: number, v: string | null): void {
    if (v === null) {
      this.ids[r] = 0;
      this.valid[r] = 0;
    } else {
      this.ids[r] = this.dict.id(v);
      this.valid[r] = 1;
    }
  }

  get rows(): ColumnRows {
    return { data: this.ids, valid: this.valid };
  }
}

/** The rows of one table until they are written; `row()` gives the next row's index, writing a full part first. */
abstract class Part {
  rows = 0;
  protected file: TableFile | null = null;

  constructor(
    readonly table: FlowTable,
    readonly columns: readonly TableColumn[],
  ) {}

  protected abstract batch(): ColumnRows[];

  open(dir: string): string {
    this.file = new TableFile(path.join(dir, `${this.table}.parquet`), this.columns);
    return this.file.path;
  }

  row(): number {
    if (this.rows === PART_ROWS) this.flush();
    return this.rows++;
  }

  flush(): void {
    if (this.rows > 0) this.file!.append(this.batch(), this.rows);
    this.rows = 0;
  }

  close(): void {
    this.flush();
    this.file!.close();
    this.file = null;
  }

  /** Closes the file without a footer, if still open. */
  abort(): void {
    this.file?.abort();
    this.file = null;
  }
}

const text = (name: string, rows: TextRows): TableColumn => ({
  kind: 'text',
  name,
  values: rows.dict.values,
  nullable: true,
  growing: true,
});
// DELTA_BINARY_PACKED: counts, times and latencies of neighbouring rows are close (bit-packed
// differences, a few bits a value where PLAIN took 8 bytes)
const count = (name: string): TableColumn => ({ kind: 'int64', name, signed: false, delta: true });
const ns = (name: string, nullable = false): TableColumn => ({
  kind: 'int64',
  name,
  signed: true,
  nullable,
  delta: true,
});
const flowId: TableColumn = { kind: 'uint', name: 'flow_id', bits: 32, stats: true, delta: true };

class FlowRows extends Part {
  private readonly id = new Uint32Array(PART_ROWS);
  private readonly proto = new Uint8Array(PART_ROWS);
  private readonly family = new Uint8Array(PART_ROWS);
  private readonly clientPort = new Uint16Array(PART_ROWS);
  private readonly servicePort = new Uint16Array(PART_ROWS);
  private readonly serverPort = new Uint16Array(PART_ROWS);
  private readonly hasService = new Uint8Array(PART_ROWS);
  private readonly serviceSeen = new Uint8Array(PART_ROWS);
  /** client ip, pod, node; service ip, name; server ip, pod, node; request and reply path */
  private readonly texts: TextRows[];
  /** packets, request packets, reply packets, bytes, request and reply path packets */
  private readonly counts = Array.from({ length: 6 }, () => new Uint32Array(2 * PART_ROWS));
  private readonly firstNs = new Uint32Array(2 * PART_ROWS);
  private readonly lastNs = new Uint32Array(2 * PART_ROWS);
  private readonly communityService = new Array<string | null>(PART_ROWS).fill(null);
  private readonly communityServer = new Array<string | null>(PART_ROWS).fill(null);

  constructor() {
    const t = Array.from({ length: 10 }, () => new TextRows());
    super('flows', [
      flowId,
      { kind: 'uint', name: 'ip_proto', bits: 8 },
      { kind: 'uint', name: 'ip_version', bits: 8 },
      text('client_ip', t[0]!),
      { kind: 'uint', name: 'client_port', bits: 16 },
      text('client_pod', t[1]!),
      text('client_node', t[2]!),
      text('service_ip', t[3]!),
      { kind: 'uint', name: 'service_port', bits: 16, nullable: true },
      text('service_name', t[4]!),
      { kind: 'bool', name: 'service_seen', nullable: true },
      text('server_ip', t[5]!),
      { kind: 'uint', name: 'server_port', bits: 16 },
      text('server_pod', t[6]!),
      text('server_node', t[7]!),
      count('packets'),
      count('request_packets'),
      count('reply_packets'),
      count('bytes'),
      ns('first_ns'),
      ns('last_ns'),
      { kind: 'string', name: 'community_id_service' },
      { kind: 'string', name: 'community_id_server' },
      text('request_path', t[8]!),
      text('reply_path', t[9]!),
      count('request_path_packets'),
      count('reply_path_packets'),
    ]);
    this.texts = t;
  }

  add(f: Flow): void {
    const r = this.row();
    this.id[r] = f.id;
    this.proto[r] = f.proto;
    this.family[r] = f.family;
    this.clientPort[r] = f.client.port;
    this.serverPort[r] = f.server.port;
    this.hasService[r] = f.service ? 1 : 0;
    this.servicePort[r] = f.service?.port ?? 0;
    this.serviceSeen[r] = f.service?.seen ? 1 : 0;
    const t = this.texts;
    t[0]!.set(r, f.client.ip);
    t[1]!.set(r, f.client.pod);
    t[2]!.set(r, f.client.node);
    t[3]!.set(r, f.service?.ip ?? null);
    t[4]!.set(r, f.service?.name ?? null);
    t[5]!.set(r, f.server.ip);
    t[6]!.set(r, f.server.pod);
    t[7]!.set(r, f.server.node);
    t[8]!.set(r, pathText(f.requestPath));
    t[9]!.set(r, pathText(f.replyPath));
    const c = this.counts;
    setLanes(c[0]!, r, f.packets);
    setLanes(c[1]!, r, f.requestPackets);
    setLanes(c[2]!, r, f.replyPackets);
    setLanes(c[3]!, r, f.bytes);
    setLanes(c[4]!, r, f.requestPathPackets);
    setLanes(c[5]!, r, f.replyPathPackets);
    setBigLanes(this.firstNs, r, f.firstNs);
    setBigLanes(this.lastNs, r, f.lastNs);
    this.communityService[r] = f.communityIdService;
    this.communityServer[r] = f.communityIdServer;
  }

  protected batch(): ColumnRows[] {
    const [clientIp, clientPod, clientNode, serviceIp, serviceName, serverIp, serverPod, serverNode] =
      this.texts.map((x) => x.rows);
    const c = this.counts.map((lanes) => ({ lanes }));
    return [
      { data: this.id },
      { data: this.proto },
      { data: this.family },
      clientIp!,
      { data: this.clientPort },
      clientPod!,
      clientNode!,
      serviceIp!,
      { data: this.servicePort, valid: this.hasService },
      serviceName!,
      { data: this.serviceSeen, valid: this.hasService },
      serverIp!,
      { data: this.serverPort },
      serverPod!,
      serverNode!,
      c[0]!,
      c[1]!,
      c[2]!,
      c[3]!,
      { lanes: this.firstNs },
      { lanes: this.lastNs },
      { strings: this.communityService },
      { strings: this.communityServer },
      this.texts[8]!.rows,
      this.texts[9]!.rows,
      c[4]!,
      c[5]!,
    ];
  }
}

class HopRows extends Part {
  private readonly id = new Uint32Array(PART_ROWS);
  private readonly leg: TextRows;
  private readonly hop = new Uint16Array(PART_ROWS);
  private readonly from: TextRows;
  private readonly to: TextRows;
  private readonly samples = new Uint32Array(2 * PART_ROWS);
  private readonly min = new Uint32Array(2 * PART_ROWS);
  private readonly median = new Uint32Array(2 * PART_ROWS);
  private readonly max = new Uint32Array(2 * PART_ROWS);

  constructor() {
    const [leg, from, to] = [new TextRows(), new TextRows(), new TextRows()];
    super('flow_hops', [
      flowId,
      text('leg', leg),
      { kind: 'uint', name: 'hop', bits: 16 },
      text('from_point', from),
      text('to_point', to),
      count('samples'),
      ns('min_ns'),
      ns('median_ns'),
      ns('max_ns'),
    ]);
    [this.leg, this.from, this.to] = [leg, from, to];
  }

  add(f: Flow): void {
    for (const h of f.hops) {
      const r = this.row();
      this.id[r] = f.id;
      this.leg.set(r, h.leg);
      this.hop[r] = h.hop;
      this.from.set(r, h.from);
      this.to.set(r, h.to);
      setLanes(this.samples, r, h.samples);
      setLanes(this.min, r, h.minNs);
      setLanes(this.median, r, h.medianNs);
      setLanes(this.max, r, h.maxNs);
    }
  }

  protected batch(): ColumnRows[] {
    return [
      { data: this.id },
      this.leg.rows,
      { data: this.hop },
      this.from.rows,
      this.to.rows,
      { lanes: this.samples },
      { lanes: this.min },
      { lanes: this.median },
      { lanes: this.max },
    ];
  }
}

class CoverageRows extends Part {
  private readonly id = new Uint32Array(PART_ROWS);
  private readonly point: TextRows;
  private readonly status: TextRows;
  private readonly seen = new Uint8Array(PART_ROWS);
  private readonly drops = new Uint32Array(2 * PART_ROWS);
  private readonly hasDrops = new Uint8Array(PART_ROWS);

  constructor() {
    const [point, status] = [new TextRows(), new TextRows()];
    super('flow_coverage', [
      flowId,
      text('capture_point', point),
      text('status', status),
      { kind: 'bool', name: 'seen' },
      { kind: 'int64', name: 'drops', signed: false, nullable: true },
    ]);
    [this.point, this.status] = [point, status];
  }

  add(f: Flow): void {
    for (const c of f.coverage) {
      const r = this.row();
      this.id[r] = f.id;
      this.point.set(r, c.point);
      this.status.set(r, c.status);
      this.seen[r] = c.seen ? 1 : 0;
      this.hasDrops[r] = c.drops === null ? 0 : 1;
      setLanes(this.drops, r, c.drops ?? 0);
    }
  }

  protected batch(): ColumnRows[] {
    return [
      { data: this.id },
      this.point.rows,
      this.status.rows,
      { data: this.seen },
      { lanes: this.drops, valid: this.hasDrops },
    ];
  }
}

const CLOCK_COLUMNS: readonly TableColumn[] = [
  { kind: 'string', name: 'node' },
  ns('offset_ns'),
  ns('error_ns', true),
  { kind: 'bool', name: 'reference' },
  count('matched_frames'),
  { kind: 'string', name: 'via' },
  count('packets_to_via'),
  count('packets_from_via'),
];

/** The `clock_offsets` table: one row per node. */
function writeClockOffsets(file: string, offsets: readonly ClockOffset[]): void {
  const n = offsets.length;
  const lanes = () => new Uint32Array(2 * n);
  const [offset, error, matched, to, from] = [lanes(), lanes(), lanes(), lanes(), lanes()];
  const hasError = new Uint8Array(n);
  const reference = new Uint8Array(n);
  offsets.forEach((o, r) => {
    setLanes(offset, r, o.offsetNs);
    setLanes(error, r, o.errorNs ?? 0);
    hasError[r] = o.errorNs === null ? 0 : 1;
    reference[r] = o.reference ? 1 : 0;
    setLanes(matched, r, o.matchedFrames);
    setLanes(to, r, o.samples[0]);
    setLanes(from, r, o.samples[1]);
  });
  const out = new TableFile(file, CLOCK_COLUMNS);
  try {
    out.append(
      [
        { strings: offsets.map((o) => o.node) },
        { lanes: offset },
        { lanes: error, valid: hasError },
        { data: reference },
        { lanes: matched },
        { strings: offsets.map((o) => o.via) },
        { lanes: to },
        { lanes: from },
      ],
      n,
    );
    out.close();
  } catch (e) {
    out.abort();
    throw e;
  }
}

/**
 * The per-flow tables, written into `dir` as flows are added; `finish` adds `clock_offsets` and moves
 * each file into `<dataset>/<table>/<table>.parquet`. After a failure, or `discard`, none of its files
 * is left, moved or not.
 */
export class FlowTables {
  private readonly parts: [FlowRows, HopRows, CoverageRows];
  /** the files written, where they are now */
  private readonly files: string[] = [];
  private state: 'open' | 'finished' | 'discarded' = 'open';

  private constructor(private readonly dir: string) {
    this.parts = [new FlowRows(), new HopRows(), new CoverageRows()];
  }

  /** Opens the files in `dir` (made if missing; an earlier run's files there are replaced). */
  static async open(dir: string): Promise<FlowTables> {
    await fs.mkdir(dir, { recursive: true });
    const out = new FlowTables(dir);
    try {
      for (const part of out.parts) out.files.push(part.open(dir));
    } catch (e) {
      await out.discard();
      throw e;
    }
    return out;
  }

  /** A flow's rows (nothing of `f` is kept). */
  add(f: Flow): void {
    if (this.state !== 'open') throw new Error(`flow tables in ${this.dir}: a flow added once ${this.state}`);
    for (const part of this.parts) part.add(f);
  }

  /** Ends the files, writes `clock_offsets`, and moves them under `datasetDir`. */
  async finish(datasetDir: string, clockOffsets: readonly ClockOffset[]): Promise<void> {
    if (this.state !== 'open') throw new Error(`flow tables in ${this.dir}: finished once ${this.state}`);
    this.state = 'finished';
    try {
      for (const part of this.parts) part.close();
      const clock = path.join(this.dir, 'clock_offsets.parquet');
      this.files.push(clock);
      writeClockOffsets(clock, clockOffsets);
      // every folder first: a move that fails then leaves nothing to undo but the moves before it
      const to = this.files.map((file) => {
        const table = path.basename(file, '.parquet');
        return path.join(datasetDir, table, path.basename(file));
      });
      for (const file of to) await fs.mkdir(path.dirname(file), { recursive: true });
      for (let k = 0; k < to.length; k++) {
        await fs.rename(this.files[k]!, to[k]!);
        this.files[k] = to[k]!;
      }
    } catch (e) {
      await this.discard();
      throw e;
    }
  }

  /** After a failure: closes the files and removes them, wherever they are (also after `finish`). */
  async discard(): Promise<void> {
    this.state = 'discarded';
    await this.remove();
  }

  private async remove(): Promise<void> {
    for (const part of this.parts) part.abort();
    for (const file of this.files) await fs.rm(file, { force: true });
  }
}
