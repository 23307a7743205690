import type { PacketColumns } from '../columns/packet-columns.ts';
import { etherNext } from './ethernet.ts';
import { type DecodeState, ErrIndex, failOuter } from './state.ts';

/** Cisco HDLC (DLT 104): address, control, then an EtherType-valued protocol (SLARP 0x8035, CDP 0x2000). */
export function decodeChdlc(s: DecodeState, c: PacketColumns): number {
  const at = s.at;
  if (s.end - at < 4) return failOuter(s, c, ErrIndex.truncChdlc);
  s.at = at + 4;
  return etherNext(s, c, s.view.getUint16(at + 2));
}
