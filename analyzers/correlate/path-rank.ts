/**
 * Where along a packet's path a sighting sits, from the point's kind and the direction alone: a packet
 * leaves a pod by its eth0 (out), enters the host by the pod's veth (in), leaves the node by an ENI or the
 * primary (out), enters the next node by an ENI (in), reaches the pod through its veth (out) and eth0
 * (in). Used to order sightings whose timestamps tie (microsecond captures) and to tell which of two
 * nodes sent a packet before their clocks are known.
 */
import { DirCode } from '../topology/direction.ts';
import { PointKind } from '../topology/model.ts';

/** Rank when nothing places the sighting: between leaving and entering a node. */
export const UNPLACED_RANK = 25;

export function pathRank(kind: PointKind, dir: number): number {
  const out = dir === DirCode.out;
  const inn = dir === DirCode.in;
  switch (kind) {
    case PointKind.podEth0:
      return out ? 0 : inn ? 50 : UNPLACED_RANK;
    case PointKind.veth:
      return inn ? 10 : out ? 40 : UNPLACED_RANK;
    case PointKind.eni:
    case PointKind.primary:
      return out ? 20 : inn ? 30 : UNPLACED_RANK;
    default:
      return UNPLACED_RANK;
  }
}
