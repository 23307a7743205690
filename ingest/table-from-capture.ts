/**
 * One capture file -> an Arrow table of its packets, for in-memory analysis (tests, fixtures, the
 * analyzers on small bundles). Every batch gets its own PacketColumns, so the record batches can keep
 * viewing the typed arrays without copies; for inputs of any size use the dataset instead.
 */
import { Table } from 'apache-arrow';
import { placeOf, pointId } from './capture-points.ts';
import { PacketColumns } from './columns/packet-columns.ts';
import { packetsToArrow } from './columns/to-arrow.ts';
import { type InterfaceSummary, PacketBatchSink } from './packets-from-capture.ts';
import { type ReadResult, readCapture } from './read-capture.ts';

export interface CaptureTable {
  table: Table;
  interfaces: InterfaceSummary[];
  result: ReadResult;
}

export async function tableFromCapture(
  path: string,
  opts: { file?: string; batchRows?: number } = {},
): Promise<CaptureTable> {
  const file = opts.file ?? path;
  const place = placeOf(file);
  const points: string[] = [];
  const dicts = { points, files: [file] };
  const batches: ReturnType<typeof packetsToArrow>[] = [];
  const rows = opts.batchRows ?? 65536;
  let current = new PacketColumns(rows);
  const sink = new PacketBatchSink(
    {
      fileId: 0,
      pointFor: (info) => {
        const point = pointId(place, info.section > 0 && info.name ? info.name : null);
        const known = points.indexOf(point);
        if (known >= 0) return known;
        points.push(point);
        return points.length - 1;
      },
      onBatch: (b) => {
        batches.push(packetsToArrow(b, dicts));
        current = new PacketColumns(rows);
        return current;
      },
    },
    current,
  );
  const result = await readCapture(path, sink, { file });
  const interfaces = sink.finish();
  return { table: new Table(batches), interfaces, result };
}
