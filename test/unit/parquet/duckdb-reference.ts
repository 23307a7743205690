/**
 * The former `packets` writer (DuckDB staging table + COPY ... PARTITION_BY), kept only as the oracle of
 * the Parquet writer's tests: the same inputs through both must give the same table.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { placeOf, pointId } from '../../../ingest/capture-points.ts';
import { PacketColumns } from '../../../ingest/columns/packet-columns.ts';
import { isViewOnly, packetFields, stageColumns } from '../../../ingest/columns/packets-schema.ts';
import { openDuckDb, sqlString } from '../../../ingest/dataset/duckdb.ts';
import { expandInputs } from '../../../ingest/dataset/write-dataset.ts';
import { PacketBatchSink } from '../../../ingest/packets-from-capture.ts';
import { readCapture } from '../../../ingest/read-capture.ts';
import { PacketStager, stageTableDdl } from './duckdb-stager.ts';

/** The SELECT that turned staging rows into Parquet rows. */
function packetsSelect(): string {
  const staged = new Set(stageColumns.map((c) => c.name));
  const cols = packetFields
    .filter((f) => !isViewOnly(f))
    .map((f) => {
      if (typeof f.parquet === 'string') return `${f.parquet} AS ${f.name}`;
      if (!staged.has(f.name)) throw new Error(`packets-schema: no staging column for ${f.name}`);
      return `s.${f.name} AS ${f.name}`;
    });
  const partitions = `, p.node AS node, coalesce(strftime(make_timestamp(s.ts_ns // 1000), '%Y-%m-%dT%H'), 'none') AS hour`;
  return `SELECT ${cols.join(', ')}${partitions}
    FROM stage s JOIN points p ON p.point_id = s.point_id JOIN files f ON f.file_id = s.file_id
    LEFT JOIN errors e ON e.id = s.decode_error_id`;
}

async function copyOut(con: DuckDBConnection, dir: string): Promise<void> {
  await con.run(
    `COPY (${packetsSelect()}) TO ${sqlString(dir)} (FORMAT parquet, PARTITION_BY (node, hour), OVERWRITE_OR_IGNORE)`,
  );
}

/** Writes `<outDir>/packets/node=.../hour=.../*.parquet` for `inputs` the way ingest did before. */
export async function referencePackets(inputs: readonly string[], outDir: string): Promise<number> {
  const files = await expandInputs(inputs);
  await fs.rm(outDir, { recursive: true, force: true });
  await fs.mkdir(path.join(outDir, 'packets'), { recursive: true });
  const db = await openDuckDb({ memoryLimit: '512MB', threads: 1 });
  const con = await db.connect();
  let rows = 0;
  try {
    await con.run('CREATE TABLE points (point_id USMALLINT, capture_point VARCHAR, node VARCHAR)');
    await con.run('CREATE TABLE files (file_id USMALLINT, file VARCHAR)');
    await con.run('CREATE TABLE errors (id USMALLINT, message VARCHAR)');
    await con.run(stageTableDdl('stage'));
    const stager = await PacketStager.create(con, 'stage');
    const batch = new PacketColumns(65536);
    const points = new Map<string, number>();
    for (let fileId = 0; fileId < files.length; fileId++) {
      const input = files[fileId]!;
      await con.run('INSERT INTO files VALUES ($1, $2)', [fileId, input.display]);
      const place = placeOf(input.display);
      const pending: { id: number; point: string; node: string }[] = [];
      const sink = new PacketBatchSink(
        {
          fileId,
          pointFor: (info) => {
            const point = pointId(place, info.section > 0 && info.name ? info.name : null);
            let id = points.get(point);
            if (id === undefined) {
              id = points.size;
              points.set(point, id);
              pending.push({ id, point, node: place.node ?? '-' });
            }
            return id;
          },
          onBatch: (b) => stager.append(b),
        },
        batch,
      );
      const result = await readCapture(input.abs, sink, { file: input.display });
      sink.finish();
      rows += result.records;
      for (const p of pending)
        await con.run('INSERT INTO points VALUES ($1, $2, $3)', [p.id, p.point, p.node]);
    }
    for (let id = 1; id < batch.errors.length; id++)
      await con.run('INSERT INTO errors VALUES ($1, $2)', [id, batch.errors[id]!]);
    stager.flush();
    stager.close();
    if (rows > 0) await copyOut(con, path.join(outDir, 'packets'));
  } finally {
    con.closeSync();
    db.closeSync();
  }
  return rows;
}
