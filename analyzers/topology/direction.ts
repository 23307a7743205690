/**
 * Direction of a frame at a capture point when the capture did not record it (single-interface pcap,
 * pcapng without epb_flags): from the MACs first, then the addresses (reference §4 "Direction").
 * - pod eth0: the pod's MAC as source -> out; as destination -> in;
 * - veth (`cali`): the cali's own MAC as source -> out (host to pod); the pod's MAC as source, or the
 *   cali's MAC as destination -> in (pod to host);
 * - ENI / primary: the device MAC as source, or the gateway MAC as destination -> out; the reverse -> in;
 * - addresses, when the MACs say nothing (4.19 `ctx_redirect` keeps pod MACs on the ENI): a source the
 *   device owns -> out; a destination it owns -> in.
 * `any` captures and unknown devices stay unknown: guessing would hide a missing fact.
 */
import { macKeyFromText } from './ip-text.ts';
import { type Point, PointKind } from './model.ts';

/** Wire codes, as the packets table stores them (0 = unknown). */
export const DirCode = Object.freeze({ unknown: 0, in: 1, out: 2 } as const);
export type DirCode = (typeof DirCode)[keyof typeof DirCode];

export interface DirectionResolver {
  /** MAC keys (macKeyFromLanes); -1 when the frame had no MAC. IP arguments: canonical text or null. */
  infer(srcMac: number, dstMac: number, srcIp: () => string | null, dstIp: () => string | null): DirCode;
}

const NONE = -1;
const key = (mac: string | null): number => (mac ? macKeyFromText(mac) : NONE);

export function directionResolverFor(point: Point, gatewayMacs: readonly string[]): DirectionResolver {
  const own = key(point.mac);
  const peer = key(point.peerMac);
  const gateways = new Set(gatewayMacs.map(key));
  if (point.peerMac) gateways.add(peer);
  const ips = new Set(point.ips);
  const byIp = (srcIp: () => string | null, dstIp: () => string | null): DirCode => {
    if (ips.size === 0) return DirCode.unknown;
    const s = srcIp();
    const d = dstIp();
    const sOwn = s !== null && ips.has(s);
    const dOwn = d !== null && ips.has(d);
    if (sOwn === dOwn) return DirCode.unknown;
    return sOwn ? DirCode.out : DirCode.in;
  };
  switch (point.kind) {
    case PointKind.podEth0:
      return {
        infer(src, dst, srcIp, dstIp) {
          if (own !== NONE && src === own) return DirCode.out;
          if (own !== NONE && dst === own) return DirCode.in;
          return byIp(srcIp, dstIp);
        },
      };
    case PointKind.veth:
      return {
        infer(src, dst, srcIp, dstIp) {
          if (own !== NONE && src === own) return DirCode.out;
          if ((own !== NONE && dst === own) || (peer !== NONE && src === peer)) return DirCode.in;
          // the pod's IP is the far side of the veth: from it means into the host
          const d = byIp(srcIp, dstIp);
          return d === DirCode.out ? DirCode.in : d === DirCode.in ? DirCode.out : DirCode.unknown;
        },
      };
    case PointKind.eni:
    case PointKind.primary:
      return {
        infer(src, dst, srcIp, dstIp) {
          if (own !== NONE && src === own) return DirCode.out;
          if (own !== NONE && dst === own) return DirCode.in;
          if (gateways.has(dst) && dst !== NONE) return DirCode.out;
          if (gateways.has(src) && src !== NONE) return DirCode.in;
          return byIp(srcIp, dstIp);
        },
      };
    default:
      return { infer: () => DirCode.unknown };
  }
}
