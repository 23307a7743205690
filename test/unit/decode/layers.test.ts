import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Direction } from '../../../ingest/columns/packet-columns.ts';
import { bytes, decodeOne, errorOf, eth, frame, ipv4, ipv6, tcp, u16, u32, udp } from './build-frames.ts';

const tcpFrame = (): Uint8Array => {
  const t = tcp({ options: [1, 1, 1, 1] });
  return frame(eth(0x0800), ipv4({ proto: 6, payloadLen: t.length + 6 }), t, bytes(6));
};

test('truncation at every byte of a TCP frame: never throws, keeps the fields before the cut', () => {
  const f = tcpFrame();
  for (let cut = 0; cut < f.length; cut++) {
    const { c } = decodeOne(f, 1, cut, f.length);
    const err = errorOf(c);
    if (cut < 14) assert.equal(err, 'truncated:ethernet', `cut ${cut}`);
    else if (cut < 34) assert.equal(err, 'truncated:ipv4', `cut ${cut}`);
    else if (cut < 58) assert.equal(err, 'truncated:tcp', `cut ${cut}`);
    else assert.equal(err, '', `cut ${cut}`);
    assert.equal(c.srcMacValid[0], cut >= 14 ? 1 : 0);
    assert.equal(c.ipVersion[0], cut >= 34 ? 4 : 0);
    assert.equal(c.portsValid[0], cut >= 38 ? 1 : 0);
    assert.equal(c.tcpValid[0], cut >= 54 ? 1 : 0);
    // the hash needs min(64, 6) payload bytes: only the full frame has them
    assert.equal(c.payloadHashValid[0], cut >= 64 ? 1 : 0, `cut ${cut}`);
    assert.equal(c.fingerprintValid[0], cut >= 64 ? 1 : 0, `cut ${cut}`);
  }
});

test('impossible headers: exact decode_error codes', () => {
  const t = tcp({});
  const cases: [Uint8Array, string][] = [
    [frame(eth(0x0800), ipv4({ proto: 6, payloadLen: 20, ihl: 4 }), t), 'ipv4.bad-ihl'],
    [frame(eth(0x0800), ipv4({ proto: 6, payloadLen: 20, version: 6 }), t), 'ipv4.bad-version'],
    [frame(eth(0x0800), ipv4({ proto: 6, payloadLen: 20, totalLen: 12 }), t), 'ipv4.bad-total-length'],
    [frame(eth(0x0800), ipv4({ proto: 6, payloadLen: 20 }), tcp({ off: 4 })), 'tcp.bad-data-offset'],
    [frame(eth(0x86dd), ipv4({ proto: 6, payloadLen: 20 }), t), 'ipv6.bad-version'],
    [frame(eth(0x0800), ipv4({ proto: 17, payloadLen: 8 }), [0, 1, 0, 2, 0, 4, 0, 0]), 'udp.bad-length'],
    [frame(eth(0x0806), bytes(28)), 'unsupported:ethertype=0x0806'],
    [frame(eth(0x0800), ipv4({ proto: 132, payloadLen: 4 }), bytes(4)), 'unsupported:ip-proto=132'],
    [frame(eth(40), [0x42, 0x42, 0x03], bytes(37)), 'unsupported:llc'],
  ];
  for (const [f, want] of cases) assert.equal(errorOf(decodeOne(f).c), want);
  // truncated is not invalid: the fixed header's fields are kept
  const bad = decodeOne(cases[0]![0]).c;
  assert.equal(bad.ipVersion[0], 4);
  assert.equal(bad.fingerprintValid[0], 0);
});

test('zero IPv4 total length (TSO): the wire length stands in', () => {
  const t = tcp({});
  const { c } = decodeOne(frame(eth(0x0800), ipv4({ proto: 6, payloadLen: 0, totalLen: 0 }), t, bytes(100)));
  assert.equal(errorOf(c), '');
  assert.equal(c.ipPayloadLen[0], 120);
  assert.equal(c.tcpPayloadLen[0], 100);
});

test('IPv4 fragments: L4 only from the first one', () => {
  const t = tcp({});
  const firstFrag = decodeOne(
    frame(eth(0x0800), ipv4({ proto: 6, payloadLen: 28, flagsFrag: 0x2000 }), t, bytes(8)),
  ).c;
  assert.equal(firstFrag.moreFragments[0], 1);
  assert.equal(firstFrag.tcpValid[0], 1);
  const later = decodeOne(
    frame(eth(0x0800), ipv4({ proto: 6, payloadLen: 16, flagsFrag: 0x0003 }), bytes(16)),
  ).c;
  assert.equal(errorOf(later), '');
  assert.equal(later.fragOffset[0], 3);
  assert.equal(later.moreFragments[0], 0);
  assert.equal(later.portsValid[0], 0);
  assert.equal(later.fingerprintValid[0], 1);
});

test('IPv6 fragment header: offset, M flag and identification; later fragments stop before L4', () => {
  const first = [17, 0, ...u16(1), ...u32(0xcafe0001)];
  const u = udp(1, 2, 8);
  const f1 = decodeOne(frame(eth(0x86dd), ipv6(44, 8 + 16), first, u, bytes(8))).c;
  assert.equal(f1.ipProto[0], 17);
  assert.equal(f1.moreFragments[0], 1);
  assert.equal(f1.ipId[0], 0xcafe0001);
  assert.equal(f1.dstPort[0], 2);
  const later = [17, 0, ...u16(3 << 3), ...u32(0xcafe0001)];
  const f2 = decodeOne(frame(eth(0x86dd), ipv6(44, 16), later, bytes(8))).c;
  assert.equal(f2.fragOffset[0], 3);
  assert.equal(f2.portsValid[0], 0);
  assert.equal(errorOf(f2), '');
});

test('IPv4 AH and IPv6 AH reach the upper layer', () => {
  const u = udp(7, 9, 0);
  const ah = [17, 4, 0, 0, ...u32(1), ...u32(1), ...u32(0), ...u32(0), ...u32(0)];
  const v4 = decodeOne(frame(eth(0x0800), ipv4({ proto: 51, payloadLen: 32 }), ah, u)).c;
  assert.equal(errorOf(v4), '');
  assert.equal(v4.ipProto[0], 51);
  assert.equal(v4.dstPort[0], 9);
  const v6 = decodeOne(frame(eth(0x86dd), ipv6(51, 32), ah, u)).c;
  assert.equal(v6.ipProto[0], 17);
  assert.equal(v6.dstPort[0], 9);
});

test('VXLAN (4789 and 8472) and Geneve: outer in the main columns, inner in inner_*', () => {
  const innerT = tcp({ sport: 1111, dport: 2222 });
  const inner = [
    ...eth(0x0800),
    ...ipv4({ proto: 6, payloadLen: 20, src: 0xc0a80001, dst: 0xc0a80002 }),
    ...innerT,
  ];
  for (const port of [4789, 8472]) {
    const vx = [0x08, 0, 0, 0, 0, 0x12, 0x34, 0];
    const u = udp(50000, port, vx.length + inner.length);
    const c = decodeOne(
      frame(eth(0x0800), ipv4({ proto: 17, payloadLen: 8 + vx.length + inner.length }), u, vx, inner),
    ).c;
    assert.equal(errorOf(c), '');
    assert.equal(c.vni[0], 0x1234);
    assert.equal(c.srcIp4[0], 0x0a000001);
    assert.equal(c.dstPort[0], port);
    assert.equal(c.innerIpVersion[0], 4);
    assert.equal(c.innerSrcIp4[0], 0xc0a80001);
    assert.equal(c.innerIpProto[0], 6);
    assert.deepEqual([c.innerSrcPort[0], c.innerDstPort[0]], [1111, 2222]);
  }
  const gn = [0x01, 0, 0x65, 0x58, 0, 0, 0x2a, 0, 0, 0, 0, 0];
  const u = udp(50000, 6081, gn.length + inner.length);
  const c = decodeOne(
    frame(eth(0x0800), ipv4({ proto: 17, payloadLen: 8 + gn.length + inner.length }), u, gn, inner),
  ).c;
  assert.equal(c.vni[0], 0x2a);
  assert.equal(c.innerDstIp4[0], 0xc0a80002);
  assert.equal(c.innerDstPort[0], 2222);
  const cut = decodeOne(
    frame(
      eth(0x0800),
      ipv4({ proto: 17, payloadLen: 8 + 8 + 10 }),
      udp(1, 4789, 18),
      [8, 0, 0, 0, 0, 0, 1, 0],
      bytes(10),
    ),
  ).c;
  assert.equal(errorOf(cut), 'truncated:inner-ethernet');
  assert.equal(cut.fingerprintValid[0], 1);
});

test('ICMP echo and ICMP error with the quoted 5-tuple', () => {
  const echo = decodeOne(
    frame(eth(0x0800), ipv4({ proto: 1, payloadLen: 16 }), [8, 0, 0, 0, ...u16(77), ...u16(5)], bytes(8)),
  ).c;
  assert.deepEqual([echo.icmpType[0], echo.icmpId[0], echo.icmpSeq[0], echo.payloadLen[0]], [8, 77, 5, 8]);
  const quoted = [
    ...ipv4({ proto: 17, payloadLen: 8, src: 0x0a000002, dst: 0x08080808 }),
    ...udp(33000, 53, 0),
  ];
  const err = decodeOne(
    frame(eth(0x0800), ipv4({ proto: 1, payloadLen: 8 + quoted.length }), [3, 3, 0, 0, 0, 0, 0, 0], quoted),
  ).c;
  assert.equal(errorOf(err), '');
  assert.deepEqual([err.icmpType[0], err.icmpCode[0], err.icmpEchoValid[0]], [3, 3, 0]);
  assert.deepEqual(
    [err.innerSrcIp4[0], err.innerDstIp4[0], err.innerIpProto[0]],
    [0x0a000002, 0x08080808, 17],
  );
  assert.deepEqual([err.innerSrcPort[0], err.innerDstPort[0]], [33000, 53]);
  const q6 = [...ipv6(6, 20), ...tcp({ sport: 5, dport: 6 }).slice(0, 8)];
  const e6 = decodeOne(frame(eth(0x86dd), ipv6(58, 8 + q6.length), [1, 4, 0, 0, 0, 0, 0, 0], q6)).c;
  assert.equal(e6.icmpType[0], 1);
  assert.equal(e6.innerIpVersion[0], 6);
  assert.deepEqual([e6.innerSrcPort[0], e6.innerDstPort[0]], [5, 6]);
});

test('Linux SLL and SLL2: direction from the packet type, SLL2 ifindex', () => {
  const ip = [...ipv4({ proto: 17, payloadLen: 8 }), ...udp(1, 2, 0)];
  const sll = (pkttype: number) =>
    frame([...u16(pkttype), ...u16(1), ...u16(6), ...bytes(8), ...u16(0x0800)], ip);
  assert.equal(decodeOne(sll(4), 113).c.direction[0], Direction.out);
  assert.equal(decodeOne(sll(0), 113).c.direction[0], Direction.in);
  assert.equal(decodeOne(sll(3), 113).c.srcMacValid[0], 0);
  const sll2 = frame([...u16(0x0800), 0, 0, ...u32(7), ...u16(1), 4, 6, ...bytes(8)], ip);
  const c = decodeOne(sll2, 276).c;
  assert.deepEqual([c.direction[0], c.ifindex[0], c.ifindexValid[0], c.dstPort[0]], [Direction.out, 7, 1, 2]);
});

test('raw IP, NULL/LOOP in both byte orders, PPP, Cisco HDLC', () => {
  const ip4 = [...ipv4({ proto: 17, payloadLen: 8 }), ...udp(1, 2, 0)];
  const ip6 = [...ipv6(17, 8), ...udp(1, 2, 0)];
  const cases: [number, number[], number][] = [
    [101, ip4, 4],
    [101, ip6, 6],
    [12, ip4, 4],
    [14, ip6, 6],
    [228, ip4, 4],
    [229, ip6, 6],
    [0, [2, 0, 0, 0, ...ip4], 4],
    [0, [0, 0, 0, 2, ...ip4], 4],
    [108, [0, 0, 0, 24, ...ip6], 6],
    [0, [28, 0, 0, 0, ...ip6], 6],
    [0, [30, 0, 0, 0, ...ip6], 6],
    [9, [0xff, 0x03, 0x00, 0x21, ...ip4], 4],
    [9, [0x00, 0x57, ...ip6], 6],
    [9, [0x21, ...ip4], 4],
    [50, [0xff, 0x03, 0x00, 0x57, ...ip6], 6],
    [104, [0x0f, 0x00, 0x08, 0x00, ...ip4], 4],
  ];
  for (const [link, f, version] of cases) {
    const c = decodeOne(Uint8Array.from(f), link).c;
    assert.equal(errorOf(c), '', `link ${link}`);
    assert.equal(c.ipVersion[0], version, `link ${link}`);
    assert.equal(c.dstPort[0], 2, `link ${link}`);
  }
  assert.equal(errorOf(decodeOne(Uint8Array.from([7, 0, 0, 0, ...ip4]), 0).c), 'unsupported:null-af=7');
  assert.equal(errorOf(decodeOne(Uint8Array.from([0xc0, 0x21, 1, 2]), 9).c), 'unsupported:ppp=0xc021');
  assert.equal(errorOf(decodeOne(Uint8Array.from([0x50, ...ip4.slice(1)]), 101).c), 'ip.bad-version');
});

test('NFLOG: payload TLV found in either byte order; hook gives direction and ifindex', () => {
  const ip = [...ipv4({ proto: 17, payloadLen: 8 }), ...udp(1, 2, 0)];
  const tlv = (le: boolean, type: number, value: number[]): number[] => {
    const len = 4 + value.length;
    const head = le
      ? [len & 255, len >> 8, type & 255, type >> 8]
      : [len >> 8, len & 255, type >> 8, type & 255];
    const pad = (4 - (len % 4)) % 4;
    return [...head, ...value, ...new Array(pad).fill(0)];
  };
  for (const le of [true, false]) {
    const f = [2, 0, 0, 0, ...tlv(le, 1, [0x08, 0x00, 3, 0]), ...tlv(le, 5, u32(9)), ...tlv(le, 9, ip)];
    const c = decodeOne(Uint8Array.from(f), 239).c;
    assert.equal(errorOf(c), '');
    assert.deepEqual([c.direction[0], c.ifindex[0], c.dstPort[0]], [Direction.out, 9, 2]);
  }
  assert.equal(errorOf(decodeOne(Uint8Array.from([2, 0, 0, 0, 8, 0, 1, 0]), 239).c), 'truncated:nflog');
});

test('GRE, MPLS, LLC/SNAP and 802.1ah reach IP', () => {
  const ip4 = [...ipv4({ proto: 17, payloadLen: 8, src: 0x01020304 }), ...udp(1, 2, 0)];
  const gre = decodeOne(
    frame(eth(0x0800), ipv4({ proto: 47, payloadLen: 4 + ip4.length }), [0, 0, 8, 0], ip4),
  ).c;
  assert.deepEqual([gre.innerIpVersion[0], gre.innerSrcIp4[0], gre.innerDstPort[0]], [4, 0x01020304, 2]);
  const mpls = decodeOne(frame(eth(0x8847), [0, 1, 0, 64, 0, 2, 1, 64], ip4)).c;
  assert.equal(mpls.srcIp4[0], 0x01020304);
  const snap = decodeOne(frame(eth(8 + ip4.length), [0xaa, 0xaa, 3, 0, 0, 0, 8, 0], ip4)).c;
  assert.equal(snap.dstPort[0], 2);
  const pbb = decodeOne(frame(eth(0x88e7), [0, 0, 0, 1], bytes(12), u16(0x0800), ip4)).c;
  assert.equal(pbb.srcIp4[0], 0x01020304);
});

test('payload hash: same prefix, same hash; NULL when the prefix was not captured', () => {
  const t = tcp({});
  const make = (payload: number[]) =>
    frame(eth(0x0800), ipv4({ proto: 6, payloadLen: 20 + payload.length, ttl: 9 }), t, payload);
  const long = bytes(200);
  const a = decodeOne(make(long)).c;
  const b = decodeOne(make([...long.slice(0, 64), ...bytes(136, 7)])).c;
  assert.deepEqual([...a.payloadHash.subarray(0, 2)], [...b.payloadHash.subarray(0, 2)]);
  // a snaplen that cuts inside the 64-byte prefix: no hash rather than a different one
  const f = make(long);
  assert.equal(decodeOne(f, 1, 14 + 40 + 63, f.length).c.payloadHashValid[0], 0);
  assert.equal(decodeOne(f, 1, 14 + 40 + 64, f.length).c.payloadHashValid[0], 1);
  assert.deepEqual(
    [...decodeOne(f, 1, 14 + 40 + 64, f.length).c.payloadHash.subarray(0, 2)],
    [...a.payloadHash.subarray(0, 2)],
  );
});

test('fingerprint: NAT, TTL and MAC changes keep it; IP ID and seq changes break it', () => {
  const build = (o: {
    src?: number;
    ttl?: number;
    id?: number;
    seq?: number;
    sport?: number;
    mac?: number[];
  }) => {
    const t = tcp({ seq: o.seq ?? 1, sport: o.sport ?? 1000 });
    return decodeOne(
      frame(
        eth(0x0800, o.mac),
        ipv4({ proto: 6, payloadLen: 30, src: o.src, ttl: o.ttl, id: o.id }),
        t,
        bytes(10),
      ),
    ).c.fingerprint.slice(0, 2);
  };
  const base = [...build({})];
  assert.deepEqual([...build({ src: 0x0b000001, ttl: 3, sport: 5555, mac: [1, 2, 3, 4, 5, 6] })], base);
  assert.notDeepEqual([...build({ id: 99 })], base);
  assert.notDeepEqual([...build({ seq: 2 })], base);
});
