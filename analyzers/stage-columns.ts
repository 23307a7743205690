/**
 * Typed-array columns staged into a DuckDB table a DataChunk at a time (no per-value JS call for
 * numbers), and the text dictionary the per-flow tables stage their texts through. The analyzers'
 * tables (write-analysis.ts, sightings-parts.ts) are staged this way before DuckDB writes them.
 */
import {
  BIGINT,
  BOOLEAN,
  DOUBLE,
  type DuckDBAppender,
  type DuckDBConnection,
  DuckDBDataChunk,
  type DuckDBType,
  DuckDBTypeId,
  INTEGER,
  UBIGINT,
  UINTEGER,
  USMALLINT,
  UTINYINT,
  VARCHAR,
} from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';

export type Numeric =
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | Int32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;
export interface StageCol {
  name: string;
  type: DuckDBType;
  sql: string;
  /** numbers, copied to DuckDB a chunk at a time; or texts, assigned one by one (null: NULL) */
  data: Numeric | readonly (string | null)[];
  /** for numbers: 0 where the value is NULL (absent: none is) */
  valid?: Uint8Array | undefined;
}

const CHUNK = 2048;

/** A table filled from typed-array columns by DataChunks, synchronously once open. */
export class ColumnAppender {
  /** one validity mask, reused: a bit per row of a chunk */
  private readonly mask = new Uint8Array(CHUNK / 8);

  private constructor(
    private readonly appender: DuckDBAppender,
    private readonly chunk: DuckDBDataChunk,
  ) {}

  /** Creates `table` with the columns' names and types (`cols` give them; their rows are not added). */
  static async open(
    con: DuckDBConnection,
    table: string,
    cols: readonly StageCol[],
  ): Promise<ColumnAppender> {
    await con.run(`CREATE TABLE ${table} (${cols.map((c) => `${c.name} ${c.sql}`).join(', ')})`);
    const appender = await con.createAppender(table);
    return new ColumnAppender(appender, DuckDBDataChunk.create(cols.map((c) => c.type)));
  }

  /** The first `rows` rows of `cols` (in the table's column order). */
  append(cols: readonly StageCol[], rows: number): void {
    // copy_data_to_vector copies bytes: an array wider than the vector's values would write past it
    for (const c of cols)
      if (!Array.isArray(c.data) && (c.data as Numeric).BYTES_PER_ELEMENT !== valueBytes(c.type))
        throw new Error(
          `stage column ${c.name}: ${(c.data as Numeric).BYTES_PER_ELEMENT}-byte values for ${c.type.toString()}`,
        );
    const chunk = this.chunk;
    for (let start = 0; start < rows; start += CHUNK) {
      const n = Math.min(CHUNK, rows - start);
      duckdb.data_chunk_reset(chunk.chunk);
      cols.forEach((c, i) => {
        const v = duckdb.data_chunk_get_vector(chunk.chunk, i);
        const d = c.data;
        // a reset chunk's vectors are all valid; a mask is written only for a part with a NULL (the
        // bindings hand out a copy of the mask, so it is built here and copied in)
        const mask = this.mask;
        let nulls = 0;
        const setNull = (r: number) => {
          if (nulls++ === 0) mask.fill(255);
          mask[r >> 3]! &= ~(1 << (r & 7));
        };
        if (Array.isArray(d)) {
          for (let r = 0; r < n; r++) {
            const text = d[start + r] as string | null;
            if (text === null) setNull(r);
            else duckdb.vector_assign_string_element(v, r, text);
          }
        } else {
          const a = d as Numeric;
          const w = a.BYTES_PER_ELEMENT;
          duckdb.copy_data_to_vector(v, 0, a.buffer as ArrayBuffer, a.byteOffset + start * w, n * w);
          if (c.valid) for (let r = 0; r < n; r++) if (c.valid[start + r] === 0) setNull(r);
        }
        if (nulls > 0) {
          duckdb.vector_ensure_validity_writable(v);
          duckdb.copy_data_to_vector_validity(
            v,
            0,
            mask.buffer as ArrayBuffer,
            mask.byteOffset,
            mask.byteLength,
          );
        }
      });
      duckdb.data_chunk_set_size(chunk.chunk, n);
      this.appender.appendDataChunk(chunk);
    }
  }

  close(): void {
    this.appender.flushSync();
    this.appender.closeSync();
  }
}

/** Bytes of one value of a fixed-width DuckDB type as its vectors store it (ENUM: its index type). */
function valueBytes(type: DuckDBType): number {
  const id = type.typeId === DuckDBTypeId.ENUM ? type.internalTypeId : type.typeId;
  switch (id) {
    case DuckDBTypeId.BOOLEAN:
    case DuckDBTypeId.UTINYINT:
      return 1;
    case DuckDBTypeId.USMALLINT:
      return 2;
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.UINTEGER:
      return 4;
    default:
      return 8;
  }
}

/**
 * A stage column, its DuckDB type from its typed array's (VARCHAR for texts); `bool`: a Uint8Array of
 * 0/1 as BOOLEAN (DuckDB stores a boolean in one byte).
 */
export function stageCol(
  name: string,
  data: Numeric | readonly (string | null)[],
  valid?: Uint8Array,
  bool = false,
): StageCol {
  const [type, sql] = Array.isArray(data)
    ? [VARCHAR, 'VARCHAR']
    : data instanceof Uint8Array
      ? bool
        ? [BOOLEAN, 'BOOLEAN']
        : [UTINYINT, 'UTINYINT']
      : data instanceof Uint16Array
        ? [USMALLINT, 'USMALLINT']
        : data instanceof Uint32Array
          ? [UINTEGER, 'UINTEGER']
          : data instanceof Int32Array
            ? [INTEGER, 'INTEGER']
            : data instanceof BigInt64Array
              ? [BIGINT, 'BIGINT']
              : data instanceof BigUint64Array
                ? [UBIGINT, 'UBIGINT']
                : [DOUBLE, 'DOUBLE'];
  return { name, type, sql, data, valid };
}

/**
 * The texts of the per-flow tables, each staged once: a text column is staged as ids into it, since a
 * native call per string value (1.2 M of them for 28 k flows' hops) cost more than the rest of staging.
 */
export class TextDict {
  private readonly ids = new Map<string, number>();
  readonly texts: string[] = [];

  /** ids of `values` (0 where null, which `valid` marks) */
  encode(values: readonly (string | null)[]): { ids: Uint32Array; valid: Uint8Array } {
    const ids = new Uint32Array(values.length);
    const valid = new Uint8Array(values.length);
    for (let r = 0; r < values.length; r++) {
      const v = values[r];
      if (v === null || v === undefined) continue;
      let id = this.ids.get(v);
      if (id === undefined) {
        id = this.texts.length;
        this.texts.push(v);
        this.ids.set(v, id);
      }
      ids[r] = id;
      valid[r] = 1;
    }
    return { ids, valid };
  }

  /**
   * Stages the texts as one list in `texts_list`, in id order: `list` without an ORDER BY takes the
   * rows in the order DuckDB's threads finish (past a row group of 122 880 texts, not the staged one).
   */
  async stage(con: DuckDBConnection): Promise<void> {
    const n = this.texts.length;
    const ids = new Uint32Array(n);
    for (let i = 0; i < n; i++) ids[i] = i;
    const cols = [stageCol('id', ids), stageCol('text', this.texts)];
    const stage = await ColumnAppender.open(con, 'texts_stage', cols);
    if (n > 0) stage.append(cols, n);
    stage.close();
    await con.run('CREATE TABLE texts_list AS SELECT list(text ORDER BY id) AS l FROM texts_stage');
  }
}
