import type { Flow } from '../../../analyzers/flows.ts';

/** Flow k with texts of its own: two Community IDs, a client pod and a coverage point. */
export function flowOf(k: number): Flow {
  return {
    id: k,
    proto: 6,
    family: 4,
    client: { ip: '10.0.0.1', port: 1000 + (k % 50000), pod: `pod-${k}`, node: 'n1' },
    service: null,
    server: { ip: '10.0.0.2', port: 80, pod: null, node: 'n2' },
    packets: 1,
    requestPackets: 1,
    replyPackets: 0,
    bytes: 60,
    firstNs: BigInt(k),
    lastNs: BigInt(k),
    communityIdService: `1:service-${k}`,
    communityIdServer: `1:server-${k}`,
    requestPath: [{ point: 'p', dir: 'out' }],
    replyPath: [],
    requestPathPackets: 1,
    replyPathPackets: 0,
    hops: [],
    coverage: [{ point: `point-${k}`, status: 'not_captured', seen: false, drops: null }],
  };
}
