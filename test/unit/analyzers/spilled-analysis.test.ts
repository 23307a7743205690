import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  analysisFromBundle,
  type BundleAnalysis,
  streamAnalysis,
} from '../../../analyzers/analysis-from-bundle.ts';
import { pcapngBytes } from '../../../reports/pcapng-writer.ts';
import { labBundles, requireBundles, SPILLS, spilledLabsTest } from './lab-bundle.ts';

/**
 * Each packet as text: its evidence and flow, then every sighting with what the output stages read
 * (point, direction, time, counts, roles, rewrites, addresses, ports, TTL, TCP fields, MACs), sorted:
 * packet numbers may differ between the paths, nothing else may.
 */
function packetsOf(a: BundleAnalysis): string[] {
  const s = a.correlation.sightings;
  const f = s.frames;
  const files = a.tables.files;
  const out: string[] = [];
  for (let p = 0; p < s.packets; p++) {
    const first = s.frame[s.packetStart[p]!]!;
    let text = `${files[f.file[first]!]}:${f.frame[first]} flow ${a.flows.flowOfPacket[p]}`;
    for (let r = s.packetStart[p]!; r < s.packetStart[p + 1]!; r++) {
      const fr = s.frame[r]!;
      text +=
        ` > ${s.points[s.point[r]!]}:${f.dir[fr]}${f.dirInferred[fr]} ${f.absNs(s.t[r]!)} hop ${s.hop[r]}` +
        ` n${s.count[r]} b${s.bytes[r]} role${s.role[r]} rw${s.rewrite[r]} c${s.collided[r]}` +
        ` ${files[f.file[fr]!]}:${f.frame[fr]} ${f.addrText(fr, 'src')}:${f.srcPort[fr]}` +
        `-${f.addrText(fr, 'dst')}:${f.dstPort[fr]}/${f.proto[fr]} ttl${f.ttl[fr]}` +
        ` tcp ${f.tcpSeq[fr]} ${f.tcpAck[fr]} ${f.tcpFlags[fr]} ${f.payloadLen[fr]}` +
        ` icmp ${f.icmpTypeCode[fr]} ${f.icmpId[fr]} ${f.icmpEcho[fr]} mac ${f.linkType[fr]} ${f.srcMac[fr]} ${f.dstMac[fr]}`;
    }
    out.push(text);
  }
  return out.sort();
}

spilledLabsTest(
  'over a memory budget, frames spill to a spool and give the same sightings and flows',
  async (lab, skipped) => {
    const memory = await analysisFromBundle(lab.bundle);
    assert.ok(memory.flows.flows.length > 0);
    for (const spill of SPILLS) {
      const spilled = await analysisFromBundle(lab.bundle, spill);
      // the spilled table holds one evidence row per sighting, the in-memory one every frame
      assert.equal(spilled.correlation.sightings.frames.length, spilled.correlation.sightings.length);
      assert.ok(memory.correlation.sightings.frames.length > memory.correlation.sightings.length);
      assert.ok(spilled.correlation.stats.slabs > memory.correlation.stats.slabs);
      assert.deepEqual(spilled.correlation.clockOffsets, memory.correlation.clockOffsets);
      assert.deepEqual(packetsOf(spilled), packetsOf(memory));
      assert.deepEqual(spilled.flows.flows, memory.flows.flows);
      skipped(spill, spilled.correlation.stats.gapSlabs);
      assert.equal(memory.correlation.stats.gapSlabs, 0, 'frames in memory skip no slab');
    }
  },
);

test(
  'the spool directory is removed after a spilled analysis, and when it fails',
  requireBundles(),
  async () => {
    const lab = labBundles()[0]!;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-spill-'));
    try {
      await analysisFromBundle(lab.bundle, { memoryBudgetBytes: 1, spoolChunkFrames: 500, spoolDir: dir });
      assert.deepEqual(fs.readdirSync(dir), []);
      // a spool that cannot be built (no room for a chunk) fails before a frame is read: nothing stays behind
      await assert.rejects(
        analysisFromBundle(lab.bundle, { memoryBudgetBytes: 1, spoolChunkFrames: -1, spoolDir: dir }),
      );
      assert.deepEqual(fs.readdirSync(dir), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'a capture without packets gets its judge once, spilled as in memory (no slab comes to make it)',
  requireBundles(),
  async () => {
    const lab = labBundles()[0]!;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ht-empty-'));
    try {
      // the lab bundle with every capture file emptied to a section and its interface
      fs.cpSync(lab.bundle, dir, { recursive: true });
      const empty = pcapngBytes([{ name: 'eth0', linkType: 1 }], []);
      let files = 0;
      for (const f of fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }))
        if (f.endsWith('.pcapng') || f.endsWith('.pcap')) {
          fs.writeFileSync(path.join(dir, f), empty);
          files++;
        }
      assert.ok(files > 0);
      for (const memoryBudgetBytes of [undefined, 1]) {
        let clocked = 0;
        let opened = 0;
        let flows = 0;
        const a = await streamAnalysis(
          dir,
          {
            open: async () => {
              opened++;
            },
            clock: () => {
              clocked++;
            },
            slab: () => undefined,
            flow: () => {
              flows++;
            },
          },
          { memoryBudgetBytes },
        );
        assert.equal(opened, 1, `budget ${memoryBudgetBytes}`);
        assert.equal(clocked, 1, `budget ${memoryBudgetBytes}: the judge is made all the same`);
        assert.equal(flows, 0);
        assert.equal(a.packets, 0);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
