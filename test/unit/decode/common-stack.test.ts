/**
 * The common-stack fast path (decodeCommonValues) against the layered decoders it stands in for:
 * Ethernet/IPv4-IPv6/TCP-UDP frames, each header byte set to values that push it off the common case
 * (options, fragments, TSO lengths, other versions and protocols, tunnels, bad lengths), every
 * capture length, must decode to the same columns, error and hashes through `decodeFrame` (fast path
 * first) as through `decodeFrameLayered`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PacketColumns } from '../../../ingest/columns/packet-columns.ts';
import { decodeCommonValues } from '../../../ingest/decode/common-stack.ts';
import {
  createDecodeState,
  type DecodeState,
  decodeFrame,
  decodeFrameLayered,
} from '../../../ingest/decode/decode-frame.ts';
import { bytes, eth, frame, ipv4, ipv6, record, tcp, udp, vlanTag } from './build-frames.ts';

type Decode = typeof decodeFrame;

/** Every typed-array column of row 0 and the error text, as one comparable object. */
function decodeRow(decode: Decode, s: DecodeState, b: Uint8Array, caplen: number, wirelen: number, at = 0) {
  const c = new PacketColumns(1);
  c.reset();
  decode(s, record(b, 1, caplen, wirelen, at), c, 0);
  const out: Record<string, number[] | string> = { error: c.errors[c.decodeError[0] ?? 0] ?? '?' };
  for (const [name, value] of Object.entries(c)) {
    if (ArrayBuffer.isView(value)) out[name] = Array.from(value as Uint8Array);
  }
  return out;
}

const tcpFrame = frame(
  eth(0x0800),
  ipv4({ proto: 6, payloadLen: 20 + 70, id: 0x4321, ttl: 61, tos: 0xb8 }),
  tcp({ sport: 443, dport: 51000, seq: 0xfedcba98, ack: 0x01234567, flags: 0x018 }),
  bytes(70),
);
const vlanUdpFrame = frame(
  eth(0x8100),
  vlanTag(300, 0x0800, 5),
  ipv4({ proto: 17, payloadLen: 8 + 21, flagsFrag: 0 }),
  udp(53, 33000, 21),
  bytes(21, 7),
);
// a short frame padded to Ethernet's minimum: the IP total length must cut the padding off
const paddedAckFrame = frame(
  eth(0x0800),
  ipv4({ proto: 6, payloadLen: 20 }),
  tcp({ flags: 0x010 }),
  [0, 0, 0, 0, 0, 0],
);
const ipv6TcpFrame = frame(eth(0x86dd), ipv6(6, 20 + 33, 57, 0xabcde), tcp({ flags: 0x011 }), bytes(33, 3));
const vlanIpv6UdpFrame = frame(
  eth(0x8100),
  vlanTag(7, 0x86dd),
  ipv6(17, 8 + 90),
  udp(5353, 5353, 90),
  bytes(90, 5),
);
const BASES: [string, Uint8Array][] = [
  ['ipv6/tcp', ipv6TcpFrame],
  ['vlan/ipv6/udp', vlanIpv6UdpFrame],
  ['ipv4/tcp', tcpFrame],
  ['vlan/ipv4/udp', vlanUdpFrame],
  ['padded ack', paddedAckFrame],
];

test('common stack: the base frames take the fast path', () => {
  for (const [name, b] of BASES) {
    const c = new PacketColumns(1);
    c.reset();
    const s = createDecodeState();
    const r = record(b);
    assert.notEqual(decodeCommonValues(s, c, r.view, 0, b.length, 0), 0, name);
  }
});

test('common stack: same columns as the layered decoders, every header byte mutated', () => {
  const fast = createDecodeState();
  const layered = createDecodeState();
  let compared = 0;
  for (const [name, base] of BASES) {
    const headerEnd = Math.min(base.length, 82);
    for (let at = 0; at < headerEnd; at++) {
      const orig = base[at] ?? 0;
      for (const value of [0x00, 0xff, orig ^ 0x01, orig ^ 0x10, orig ^ 0x40, 0x45, 0x06, 0x11, 0x12, 0xb5]) {
        const b = base.slice();
        b[at] = value & 0xff;
        const want = decodeRow(decodeFrameLayered, layered, b, b.length, b.length);
        const got = decodeRow(decodeFrame, fast, b, b.length, b.length);
        assert.deepEqual(got, want, `${name}: byte ${at} = 0x${value.toString(16)}`);
        compared++;
      }
    }
  }
  assert.ok(compared > 1000);
});

test('common stack: same columns as the layered decoders at every capture length', () => {
  const fast = createDecodeState();
  const layered = createDecodeState();
  for (const [name, b] of BASES) {
    for (let caplen = 0; caplen <= b.length; caplen++) {
      // and a wire length past the capture, as under a snaplen
      for (const wirelen of [b.length, b.length + 1000]) {
        const want = decodeRow(decodeFrameLayered, layered, b, caplen, wirelen);
        const got = decodeRow(decodeFrame, fast, b, caplen, wirelen);
        assert.deepEqual(got, want, `${name}: caplen ${caplen}, wirelen ${wirelen}`);
      }
    }
  }
});

test('common stack: a frame at an offset inside a larger buffer, and zero IP/UDP lengths', () => {
  const fast = createDecodeState();
  const layered = createDecodeState();
  const cases: [string, Uint8Array][] = [
    ['tso ipv4', frame(eth(0x0800), ipv4({ proto: 6, payloadLen: 20, totalLen: 0 }), tcp({}), bytes(40))],
    [
      'udp length 0',
      frame(eth(0x0800), ipv4({ proto: 17, payloadLen: 8 + 9 }), [0, 53, 0, 53, 0, 0, 0, 0], bytes(9)),
    ],
    [
      'vxlan port',
      frame(eth(0x0800), ipv4({ proto: 17, payloadLen: 8 + 30 }), udp(1234, 4789, 30), bytes(30)),
    ],
    [
      'qinq',
      frame(eth(0x88a8), vlanTag(5, 0x8100), vlanTag(6, 0x0800), ipv4({ proto: 6, payloadLen: 20 }), tcp({})),
    ],
  ];
  for (const [name, inner] of cases) {
    const b = new Uint8Array(inner.length + 10);
    b.set(inner, 5);
    const want = decodeRow(decodeFrameLayered, layered, b, inner.length, inner.length, 5);
    const got = decodeRow(decodeFrame, fast, b, inner.length, inner.length, 5);
    assert.deepEqual(got, want, name);
  }
});
