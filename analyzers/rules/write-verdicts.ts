/**
 * The `verdicts` table (DESIGN §4: one row per flow and check) as Parquet in the dataset, written by
 * table-file.ts a part of rows at a time as the flows are judged: nothing is left to write when the
 * analysis ends. (Staged in DuckDB and copied out at the end, the rows cost the analysis thread 2.5 s
 * of appends and the run a 2.3 s tail at 5 M frames, 6.7-10.7 s at 20 M.) The file holds codes, its
 * texts are the `verdict_texts` table, and the `verdicts` view shows them joined
 * (ingest/dataset/verdict-columns.ts says how and why). Also two of the files `hoptrace report`
 * rebuilds a report from without re-running anything:
 * `report/topology.json`, `report/warnings.json` (`report/verdicts.json` is streamed by
 * reports/verdicts-json.ts).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { type ColumnRows, type TableColumn, TableFile } from '../../ingest/dataset/parquet/table-file.ts';
import {
  CHECK_TEXT,
  CODED_COLUMNS,
  type CodedColumn,
  EVIDENCE_FRAMES,
  FLOW_TEXT,
  PART_SEP,
  VERDICT_TEXTS_TABLE,
  VERDICTS_TABLE,
} from '../../ingest/dataset/verdict-columns.ts';
import { Interned } from '../text-dict.ts';
import type { Topology } from '../topology/model.ts';
import type { VerdictsTail } from '../verdicts.ts';
import type { CheckResult, Evidence, FlowVerdict } from './verdict-types.ts';

/** Text values as numbers: 0 is NULL, every other code one distinct string (written once). */
class TextCodes {
  private readonly interned = new Interned<string>();
  /** messages coded so far, and the messages seen once (see `message`) */
  private messages = 0;
  private readonly seenOnce = new Set<string>();

  /** the texts, code 1 first */
  get texts(): readonly string[] {
    return this.interned.values;
  }

  code(text: string | null): number {
    return text === null ? 0 : this.interned.id(text) + 1;
  }

  /**
   * The code of a message that repeats (a shared check's, analyzers/rules/shared-checks.ts, or another
   * check's seen before), or 0: a message seen once is not coded (many name times or frames that never
   * repeat), nor any past `MAX_MESSAGE_CODES`, as the codes stay in memory until the table is written.
   */
  message(text: string, shared: boolean): number {
    const c = this.interned.find(text);
    if (c !== undefined) return c + 1;
    if (this.messages >= MAX_MESSAGE_CODES) return 0;
    if (!shared && !this.seenOnce.has(text)) {
      if (this.seenOnce.size >= MAX_MESSAGE_CODES) this.seenOnce.clear();
      this.seenOnce.add(text);
      return 0;
    }
    this.messages++;
    return this.code(text);
  }
}

const MAX_MESSAGE_CODES = 1 << 16;

/** Check rows gathered before they are written: a page of each column. */
const PART_ROWS = 1 << 14;

const codeColumn = (name: string): TableColumn => ({ kind: 'uint', name: `${name}_code`, bits: 32 });

/** The file's columns, in the table's order. */
const VERDICT_COLUMNS: readonly TableColumn[] = [
  { kind: 'uint', name: 'flow_id', bits: 32, stats: true, delta: true },
  { kind: 'uint', name: 'client_port', bits: 16 },
  { kind: 'uint', name: 'server_port', bits: 16 },
  { kind: 'uint', name: 'service_port', bits: 16 },
  { kind: 'uint', name: 'scenario', bits: 8 },
  ...FLOW_TEXT.map(codeColumn),
  ...CHECK_TEXT.map(codeColumn),
  codeColumn('message'),
  { kind: 'string', name: 'message' },
  codeColumn('evidence'),
  { kind: 'uint', name: 'evidence_count', bits: 8 },
  // NULL past the evidence's entries
  ...Array.from(
    { length: EVIDENCE_FRAMES },
    (_, k): TableColumn => ({
      kind: 'uint',
      name: `frame_${k + 1}`,
      bits: 32,
      nullable: true,
    }),
  ),
  { kind: 'string', name: 'evidence' },
];

const TEXT_COLUMNS: readonly TableColumn[] = [
  { kind: 'string', name: 'column_name' },
  { kind: 'uint', name: 'code', bits: 32 },
  { kind: 'string', name: 'text' },
];

/** One part of check rows: numbers, with every text as a code into `texts`, then message and evidence. */
class CheckPart {
  rows = 0;
  readonly flowId = new Uint32Array(PART_ROWS);
  readonly clientPort = new Uint16Array(PART_ROWS);
  readonly serverPort = new Uint16Array(PART_ROWS);
  // a Service port of 0 and scenario 0 stand for NULL (ports of Services and scenario ids are never 0)
  readonly servicePort = new Uint16Array(PART_ROWS);
  readonly scenario = new Uint8Array(PART_ROWS);
  readonly flowText = FLOW_TEXT.map(() => new Uint32Array(PART_ROWS));
  readonly checkText = CHECK_TEXT.map(() => new Uint32Array(PART_ROWS));
  /** a shared check's message as a code (0: in `message`) */
  readonly messageCode = new Uint32Array(PART_ROWS);
  /** NULL where `messageCode` holds the message */
  readonly message = new Array<string | null>(PART_ROWS).fill(null);
  /** the evidence's template (0: none, or in `evidence`), its entries, and their frames */
  readonly evidenceCode = new Uint32Array(PART_ROWS);
  readonly evidenceCount = new Uint8Array(PART_ROWS);
  readonly frames = Array.from({ length: EVIDENCE_FRAMES }, () => new Uint32Array(PART_ROWS));
  /** per frame column, 1 where the row's evidence has that entry (made at `columns`) */
  private readonly hasFrame = Array.from({ length: EVIDENCE_FRAMES }, () => new Uint8Array(PART_ROWS));
  /** NULL for no evidence (`[]`) or evidence staged as a template */
  readonly evidence = new Array<string | null>(PART_ROWS).fill(null);

  /** The part's rows as VERDICT_COLUMNS take them. */
  columns(): ColumnRows[] {
    for (let r = 0; r < this.rows; r++) {
      const n = this.evidenceCount[r]!;
      for (let k = 0; k < EVIDENCE_FRAMES; k++) this.hasFrame[k]![r] = k < n ? 1 : 0;
    }
    return [
      { data: this.flowId },
      { data: this.clientPort },
      { data: this.serverPort },
      { data: this.servicePort },
      { data: this.scenario },
      ...this.flowText.map((data) => ({ data })),
      ...this.checkText.map((data) => ({ data })),
      { data: this.messageCode },
      { strings: this.message },
      { data: this.evidenceCode },
      { data: this.evidenceCount },
      ...this.frames.map((data, k) => ({ data, valid: this.hasFrame[k] })),
      { strings: this.evidence },
    ];
  }
}

/**
 * Evidence lists as templates: the JSON text of a list (as JSON.stringify writes it) with its frames
 * left out, made once per sequence of (point, file) and found through a trie of them; its parts (the
 * text before each frame, and the end) joined by PART_SEP. The `verdicts` view puts the frames back in
 * when it is read (ingest/dataset/verdict-columns.ts).
 */
class EvidenceTemplates {
  private readonly root: TemplateNode = { next: new Map(), code: 0 };
  private nodes = 0;

  constructor(private readonly texts: TextCodes) {}

  /** The template's code, or 0 when the evidence is not staged as one (too long, or an odd frame). */
  code(evidence: readonly Evidence[]): number {
    if (evidence.length > EVIDENCE_FRAMES) return 0;
    let node = this.root;
    for (const e of evidence) {
      if (!Number.isInteger(e.frame) || e.frame < 0 || e.frame > 0xffffffff) return 0;
      // by point, then file: no key text made per entry
      let byFile = node.next.get(e.point);
      if (byFile === undefined) {
        byFile = new Map();
        node.next.set(e.point, byFile);
      }
      let next = byFile.get(e.file);
      if (next === undefined) {
        // a template per distinct path: past this many, the trie (and its texts) would only grow
        if (this.nodes >= MAX_MESSAGE_CODES) return 0;
        this.nodes++;
        next = { next: new Map(), code: 0 };
        byFile.set(e.file, next);
      }
      node = next;
    }
    if (node.code === 0) node.code = this.texts.code(templateOf(evidence));
    return node.code;
  }
}

interface TemplateNode {
  /** by point, then file */
  next: Map<string, Map<string, TemplateNode>>;
  /** the template of the evidence ending here (0: not made yet) */
  code: number;
}

const FRAME_KEY = '"frame":';

function templateOf(evidence: readonly Evidence[]): string {
  const text = JSON.stringify(evidence.map((e) => ({ ...e, frame: 0 })));
  // the text around each entry's frame (a `"frame":` inside a string value would be escaped: `\"frame\":`)
  const parts: string[] = [];
  let from = 0;
  for (let i = 0; i < evidence.length; i++) {
    const at = text.indexOf(FRAME_KEY, from) + FRAME_KEY.length;
    parts.push(text.slice(from, at));
    from = at + 1;
  }
  parts.push(text.slice(from));
  return parts.join(PART_SEP);
}

/**
 * The `verdicts` table written as the flows are judged: `add` takes each flow (its checks as rows, the
 * flow's own fields repeated on each, as the table has them) and keeps nothing of it but codes (and
 * frames), written to `<dataset>/verdicts/verdicts.parquet` a part at a time; `finish` writes the last
 * part and `<dataset>/verdict_texts/verdict_texts.parquet`, each column's distinct texts once with their
 * codes (a code space per column: a query joins each column to its own few texts).
 */
export class VerdictsTableStage {
  private readonly dictionaries = new Map<CodedColumn, TextCodes>(
    CODED_COLUMNS.map((c) => [c, new TextCodes()]),
  );
  private readonly flowDictionaries = FLOW_TEXT.map((c) => this.dictionary(c));
  // looked up once: checkCodes runs for every row of a check that is not shared
  private readonly checkNames = this.dictionary('check_name');
  private readonly statuses = this.dictionary('status');
  private readonly reasons = this.dictionary('reason');
  private readonly messages = this.dictionary('message');
  private readonly templates = new EvidenceTemplates(this.dictionary('evidence'));
  private readonly flowCodes = new Uint32Array(FLOW_TEXT.length);
  private readonly sharedCodes = new WeakMap<CheckResult, Uint32Array>();
  private readonly rowCodes = new Uint32Array(4);

  private readonly part = new CheckPart();

  private constructor(
    private readonly rows: TableFile,
    private readonly textsFile: string,
  ) {}

  /** Starts `<dataset>/verdicts/verdicts.parquet` (the folders are made). */
  static async open(datasetDir: string): Promise<VerdictsTableStage> {
    const root = path.resolve(datasetDir);
    const [file, textsFile] = [VERDICTS_TABLE, VERDICT_TEXTS_TABLE].map((t) =>
      path.join(root, t, `${t}.parquet`),
    );
    for (const f of [file!, textsFile!]) await fs.mkdir(path.dirname(f), { recursive: true });
    return new VerdictsTableStage(new TableFile(file!, VERDICT_COLUMNS), textsFile!);
  }

  get file(): string {
    return this.rows.path;
  }

  private dictionary(c: CodedColumn): TextCodes {
    return this.dictionaries.get(c)!;
  }

  add(f: FlowVerdict): void {
    const p = this.part;
    const dictionaries = this.flowDictionaries;
    const codes = this.flowCodes;
    const values = [
      f.proto,
      f.client.ip,
      f.client.pod,
      f.server.ip,
      f.server.pod,
      f.service?.ip ?? null,
      f.scenario?.rule ?? null,
      f.rule_id,
      f.datapath,
      f.status,
      f.reason,
    ];
    for (let k = 0; k < values.length; k++) codes[k] = dictionaries[k]!.code(values[k]!);
    const servicePort = f.service?.port ?? 0;
    const scenario = f.scenario?.id ?? 0;
    for (const c of f.checks) {
      const r = p.rows;
      for (let k = 0; k < codes.length; k++) p.flowText[k]![r] = codes[k]!;
      p.flowId[r] = f.flow_id;
      p.clientPort[r] = f.client.port;
      p.serverPort[r] = f.server.port;
      p.servicePort[r] = servicePort;
      p.scenario[r] = scenario;
      const checkCodes = this.checkCodes(c);
      p.checkText[0]![r] = checkCodes[0]!;
      p.checkText[1]![r] = checkCodes[1]!;
      p.checkText[2]![r] = checkCodes[2]!;
      // a message many flows share is staged once, as a code
      const message = checkCodes[3]!;
      p.messageCode[r] = message;
      p.message[r] = message === 0 ? c.message : null;
      // evidence as JSON text (a list of {point, file, frame}, readable with DuckDB's json functions),
      // which the `verdicts` view makes from a template and the frames
      const evidence = c.evidence;
      const template = evidence.length === 0 ? 0 : this.templates.code(evidence);
      p.evidenceCode[r] = template;
      p.evidenceCount[r] = template === 0 ? 0 : evidence.length;
      if (template !== 0) for (let k = 0; k < evidence.length; k++) p.frames[k]![r] = evidence[k]!.frame;
      p.evidence[r] = evidence.length === 0 || template !== 0 ? null : JSON.stringify(evidence);
      if (++p.rows === PART_ROWS) this.flush();
    }
  }

  /**
   * A check's name, status, reason and message codes: a shared (frozen) check's found once per check,
   * another's per row (in a list reused from row to row).
   */
  private checkCodes(c: CheckResult): Uint32Array {
    let codes = this.sharedCodes.get(c);
    if (codes !== undefined) return codes;
    const shared = Object.isFrozen(c);
    codes = shared ? new Uint32Array(4) : this.rowCodes;
    codes[0] = this.checkNames.code(c.name);
    codes[1] = this.statuses.code(c.status);
    codes[2] = this.reasons.code(c.reason);
    codes[3] = this.messages.message(c.message, shared);
    if (shared) this.sharedCodes.set(c, codes);
    return codes;
  }

  private flush(): void {
    this.rows.append(this.part.columns(), this.part.rows);
    this.part.rows = 0;
  }

  /** Writes the last rows and the texts; returns the verdicts file. */
  finish(): string {
    try {
      this.flush();
      this.rows.close();
      const names: string[] = [];
      const texts: string[] = [];
      const codes: number[] = [];
      for (const [column, dictionary] of this.dictionaries)
        dictionary.texts.forEach((t, i) => {
          names.push(column);
          codes.push(i + 1);
          texts.push(t);
        });
      const out = new TableFile(this.textsFile, TEXT_COLUMNS);
      try {
        out.append([{ strings: names }, { data: Uint32Array.from(codes) }, { strings: texts }], texts.length);
        out.close();
      } catch (e) {
        out.abort();
        throw e;
      }
      return this.rows.path;
    } catch (e) {
      this.discard();
      throw e;
    }
  }

  /** Stops writing (after a failure): the files are left without footers, for the caller to remove. */
  discard(): void {
    this.rows.abort();
  }
}

/** Topology as JSON (Maps as objects), for a report rebuilt without the bundle. */
function topologyJson(t: Topology): unknown {
  return {
    nodes: [...t.nodes.values()],
    pods: [...t.pods.values()],
    services: t.services,
    points: [...t.points.values()],
    warnings: t.warnings,
  };
}

/** `<dataset>/report/{topology,warnings}.json`: what `hoptrace report` needs besides the tables and verdicts. */
export async function writeReportInputs(
  datasetDir: string,
  doc: Pick<VerdictsTail, 'warnings'>,
  topology: Topology,
): Promise<string> {
  const dir = path.join(path.resolve(datasetDir), 'report');
  await fs.mkdir(dir, { recursive: true });
  const write = async (name: string, value: unknown) => {
    const file = path.join(dir, name);
    await fs.writeFile(`${file}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
    await fs.rename(`${file}.tmp`, file);
  };
  await write('topology.json', topologyJson(topology));
  await write('warnings.json', doc.warnings);
  return dir;
}
