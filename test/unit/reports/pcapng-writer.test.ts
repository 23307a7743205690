/**
 * The pcapng writer against the project's reader: block layout, option padding (odd lengths), ns
 * timestamps beyond 2^32, flags, and a comment longer than one option cut at a character boundary.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readCaptureBytes } from '../../../ingest/read-capture.ts';
import type { InterfaceInfo, PacketRecord } from '../../../ingest/record.ts';
import { EpbDirection, PcapngWriter, pcapngBytes } from '../../../reports/pcapng-writer.ts';

function read(bytes: Uint8Array) {
  const ifaces: InterfaceInfo[] = [];
  const packets: { iface: number; ts: bigint; data: number[]; wirelen: number; flags: number }[] = [];
  const r = readCaptureBytes(
    bytes,
    {
      container() {},
      interface: (i) => ifaces.push(i),
      stats() {},
      warning() {},
      packet: (p: PacketRecord) =>
        packets.push({
          iface: p.interfaceIndex,
          ts: (BigInt(p.tsHi >>> 0) << 32n) | BigInt(p.tsLo >>> 0),
          data: [...p.bytes.subarray(p.at, p.at + p.caplen)],
          wirelen: p.wirelen,
          flags: p.flags,
        }),
    },
    'test.pcapng',
  );
  return { r, ifaces, packets };
}

test('interfaces, packets and options read back with the project reader', () => {
  const ts = 1_795_678_310_853_745_708n;
  const bytes = pcapngBytes(
    [
      { name: 'pod/default/client/eth0', linkType: 1, description: 'a' },
      { name: 'node/n1/eth1', linkType: 276, fcsLen: 0 },
    ],
    [
      { iface: 1, tsNs: ts, data: Uint8Array.of(1, 2, 3), origLen: 60, flags: EpbDirection.outbound },
      {
        iface: 0,
        tsNs: ts + 1n,
        data: Uint8Array.of(9),
        origLen: 1,
        flags: EpbDirection.inbound,
        packetId: 94n,
        comments: ['odd', 'é'],
      },
    ],
  );
  assert.equal(bytes.length % 4, 0);
  const { r, ifaces, packets } = read(bytes);
  assert.equal(r.error, null);
  assert.deepEqual(
    ifaces.map((i) => [i.name, i.linkType, i.tsResolution, i.fcsLen]),
    [
      ['pod/default/client/eth0', 1, '1e-9', -1],
      ['node/n1/eth1', 276, '1e-9', 0],
    ],
  );
  assert.deepEqual(packets, [
    { iface: 1, ts, data: [1, 2, 3], wirelen: 60, flags: 2 },
    { iface: 0, ts: ts + 1n, data: [9], wirelen: 1, flags: 1 },
  ]);
});

test('a comment longer than an option is cut at a character boundary; misuse throws', () => {
  const parts: Uint8Array[] = [];
  const w = new PcapngWriter((b) => parts.push(b));
  w.addInterface({ name: 'x', linkType: 1 });
  w.packet({ iface: 0, tsNs: 0n, data: new Uint8Array(0), origLen: 0, comments: ['é'.repeat(40_000)] });
  const epb = parts[2]!;
  const dv = new DataView(epb.buffer, epb.byteOffset);
  // EPB: 28 bytes of header before the (empty) data, then opt_comment
  assert.equal(dv.getUint16(28, true), 1);
  const len = dv.getUint16(30, true);
  assert.ok(len <= 0xffff && len % 2 === 0, `${len} bytes: whole two-byte characters`);
  assert.throws(
    () => w.packet({ iface: 5, tsNs: 0n, data: new Uint8Array(0), origLen: 0 }),
    /no interface 5/,
  );
  assert.throws(() => w.section(), /already written/);
  assert.throws(() => w.packet({ iface: 0, tsNs: -1n, data: new Uint8Array(0), origLen: 0 }), /before 1970/);
});
