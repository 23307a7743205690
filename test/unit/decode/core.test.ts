import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PacketColumns } from '../../../ingest/columns/packet-columns.ts';
import { createDecodeState, decodeFrame } from '../../../ingest/decode/decode-frame.ts';
import {
  bytes,
  decodeOne,
  errorOf,
  eth,
  frame,
  ipv4,
  ipv6,
  record,
  tcp,
  u16,
  u32,
  udp,
  vlanTag,
} from './build-frames.ts';

test('Ethernet/IPv4/TCP: every header field', () => {
  const t = tcp({ sport: 12345, dport: 443, seq: 0xdeadbeef, ack: 0x01020304, flags: 0x1d2 });
  const f = frame(
    eth(0x0800),
    ipv4({ proto: 6, payloadLen: t.length + 10, id: 0xabcd, ttl: 63, tos: 0xb8, flagsFrag: 0x4000 }),
    t,
    bytes(10),
  );
  const { c } = decodeOne(f);
  assert.equal(errorOf(c), '');
  assert.deepEqual([c.dstMac[1], c.dstMac[0], c.srcMac[1], c.srcMac[0]], [0x0200, 0x0b, 0x0200, 0x0a]);
  assert.equal(c.ethertype[0], 0x0800);
  assert.equal(c.ipVersion[0], 4);
  assert.equal(c.srcIp4[0], 0x0a000001);
  assert.equal(c.dstIp4[0], 0x0a000002);
  assert.equal(c.ipProto[0], 6);
  assert.equal(c.ipId[0], 0xabcd);
  assert.equal(c.ttl[0], 63);
  assert.equal(c.dscp[0], 46);
  assert.equal(c.fragOffset[0], 0);
  assert.equal(c.moreFragments[0], 0);
  assert.equal(c.ipPayloadLen[0], 30);
  assert.equal(c.srcPort[0], 12345);
  assert.equal(c.dstPort[0], 443);
  assert.equal(c.tcpSeq[0], 0xdeadbeef);
  assert.equal(c.tcpAck[0], 0x01020304);
  assert.equal(c.tcpFlags[0], 0x1d2);
  assert.equal(c.tcpHdrLen[0], 20);
  assert.equal(c.tcpWindow[0], 65535);
  assert.equal(c.tcpPayloadLen[0], 10);
  assert.equal(c.payloadHashValid[0], 1);
  assert.equal(c.fingerprintValid[0], 1);
});

test('Ethernet padding never reaches L4: the IPv4 total length cuts it', () => {
  const t = tcp({ flags: 0x10 });
  const f = frame(eth(0x0800), ipv4({ proto: 6, payloadLen: t.length }), t, [0, 0, 0, 0, 0, 0]);
  const { c } = decodeOne(f);
  assert.equal(c.tcpPayloadLen[0], 0);
  const unpadded = decodeOne(frame(eth(0x0800), ipv4({ proto: 6, payloadLen: t.length }), t)).c;
  assert.deepEqual([...c.payloadHash.subarray(0, 2)], [...unpadded.payloadHash.subarray(0, 2)]);
  assert.deepEqual([...c.fingerprint.subarray(0, 2)], [...unpadded.fingerprint.subarray(0, 2)]);
});

test('VLAN stack: count and the first four ids, outermost first', () => {
  const t = udp(1000, 53, 4);
  const f = frame(
    eth(0x88a8),
    vlanTag(100, 0x8100),
    vlanTag(200, 0x9100),
    vlanTag(300, 0x8100),
    vlanTag(400, 0x8100),
    vlanTag(500, 0x0800, 7),
    ipv4({ proto: 17, payloadLen: t.length + 4 }),
    t,
    bytes(4),
  );
  const { c } = decodeOne(f);
  assert.equal(errorOf(c), '');
  assert.equal(c.vlanCount[0], 5);
  assert.deepEqual([...c.vlan.subarray(0, 4)], [100, 200, 300, 400]);
  assert.equal(c.ethertype[0], 0x0800);
  assert.equal(c.dstPort[0], 53);
  assert.equal(c.payloadLen[0], 4);
});

test('IPv6/UDP with hop-by-hop, routing and destination options', () => {
  const u = udp(5353, 5353, 3);
  const hbh = [43, 0, 1, 4, 0, 0, 0, 0];
  const rt = [60, 2, 0, 0, 0, 0, 0, 0, ...new Array(16).fill(0)];
  const dst = [17, 0, 1, 4, 0, 0, 0, 0];
  const ext = [...hbh, ...rt, ...dst];
  const f = frame(eth(0x86dd), ipv6(0, ext.length + u.length + 3, 7, 0xabcde), ext, u, [1, 2, 3]);
  const { c } = decodeOne(f);
  assert.equal(errorOf(c), '');
  assert.equal(c.ipVersion[0], 6);
  assert.equal(c.ipProto[0], 17);
  assert.equal(c.ttl[0], 7);
  assert.equal(c.flowLabel[0], 0xabcde);
  assert.equal(c.ipPayloadLen[0], ext.length + 11);
  assert.equal(c.srcIp6[15], 1);
  assert.equal(c.dstIp6[15], 2);
  assert.equal(c.srcPort[0], 5353);
  assert.equal(c.payloadLen[0], 3);
  assert.equal(c.ipIdValid[0], 0);
});

test('reuse: a VLAN + IPv4-options frame, then a plain one: nothing carries over', () => {
  const c = new PacketColumns(8);
  c.reset();
  const s = createDecodeState();
  const t = tcp({ options: [2, 4, 5, 0xb4] });
  const first = frame(
    eth(0x8100),
    vlanTag(42, 0x0800),
    ipv4({ proto: 6, payloadLen: t.length + 5, options: [1, 1, 1, 0, 0x94, 4, 0, 0] }),
    t,
    bytes(5),
  );
  const u = udp(1, 2, 0);
  const second = frame(eth(0x0800), ipv4({ proto: 17, payloadLen: 8 }), u);
  decodeFrame(s, record(first), c, 0);
  decodeFrame(s, record(second), c, 1);
  assert.equal(c.vlanCount[0], 1);
  assert.equal(c.tcpHdrLen[0], 24);
  assert.equal(c.ipPayloadLen[0], 29);
  assert.equal(c.vlanCount[1], 0);
  assert.equal(c.tcpValid[1], 0);
  assert.equal(c.tcpPayloadLenValid[1], 0);
  assert.equal(c.ipPayloadLen[1], 8);
  assert.equal(c.payloadLen[1], 0);
  assert.equal(c.decodeError[1], 0);
  assert.equal(c.ethertype[1], 0x0800);
});

test('unsupported link type keeps the row and names the link type', () => {
  const { c } = decodeOne(frame(bytes(20)), 281);
  assert.equal(errorOf(c), 'unsupported:link=281');
  assert.equal(c.ipVersion[0], 0);
});

test('unused helpers stay exported', () => {
  assert.deepEqual(u16(0x1234), [0x12, 0x34]);
  assert.deepEqual(u32(1), [0, 0, 0, 1]);
});
