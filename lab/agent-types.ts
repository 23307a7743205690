/** What lab/agent.ts reads (flows) and prints (one result per line); kept apart so importing it runs nothing. */
export interface AgentFlow {
  id: string;
  proto: 'tcp' | 'udp';
  dst: string;
  dport: number;
  sport: number;
  /** bytes the client sends (TCP); the bulk flow sends many */
  bytes: number;
}

export interface AgentResult {
  id: string;
  ok: boolean;
  reply: string;
  error?: string;
  startNs: string;
  endNs: string;
}
