/**
 * A passing verdict of a TCP flow between two pods on node1 (scenario 2), for tests of the verdict
 * writers: each test overrides what it exercises.
 */
import type { FlowVerdict } from '../../../analyzers/rules/verdict-types.ts';

export function podVerdict(id: number, overrides: Partial<FlowVerdict> = {}): FlowVerdict {
  return {
    flow_id: id,
    proto: 'tcp',
    client: { ip: '10.0.1.101', port: 40000 + id, pod: 'default/client', node: 'node1' },
    service: null,
    server: { ip: '10.0.1.102', port: 8080, pod: 'default/web-1', node: 'node1' },
    scenario: { id: 2, rule: null },
    rule_id: 'terway-v2/pod-same-node',
    datapath: 'ebpf',
    request_path: [],
    reply_path: [],
    skipped: [],
    unexpected: [],
    not_captured: [],
    service_rewrite: null,
    status: 'pass',
    reason: null,
    checks: [{ name: 'path', status: 'pass', reason: null, message: 'ok', evidence: [] }],
    handled_by: [],
    ...overrides,
  };
}
