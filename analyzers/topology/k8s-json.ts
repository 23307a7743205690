/**
 * Importer for `kubectl get <kind> -A -o json` Lists (DESIGN §3 `k8s/*.json`): pods (name, node,
 * IPs, hostNetwork), Services (ClusterIPs, ExternalIPs, LoadBalancer ingress, ports, targetPorts,
 * NodePorts), EndpointSlices (backends with pod and node) and Nodes (addresses). Named targetPorts
 * are resolved through the EndpointSlice port of the same name, as kube-proxy does.
 */
import { canonicalIp } from './ip-text.ts';
import { type JsonObject, listItems, num, obj, objects, str, strings } from './json-input.ts';
import type { Backend, Service, ServicePort } from './model.ts';

export interface K8sPod {
  namespace: string;
  name: string;
  node: string | null;
  ips: string[];
  hostNetwork: boolean;
}

export interface K8sNode {
  name: string;
  ips: string[];
}

export interface K8sFacts {
  pods: K8sPod[];
  services: Service[];
  nodes: K8sNode[];
}

export interface K8sDocs {
  pods?: unknown;
  services?: unknown;
  endpointslices?: unknown;
  nodes?: unknown;
}

const ips = (values: (string | null)[]): string[] => [
  ...new Set(values.map((v) => (v ? canonicalIp(v) : null)).filter((v): v is string => v !== null)),
];

function podFromItem(item: JsonObject): K8sPod | null {
  const meta = obj(item, 'metadata');
  const name = str(meta, 'name');
  if (name === null) return null;
  const status = obj(item, 'status');
  const spec = obj(item, 'spec');
  const listed = objects(status?.['podIPs']).map((o) => str(o, 'ip'));
  return {
    namespace: str(meta, 'namespace') ?? 'default',
    name,
    node: str(spec, 'nodeName'),
    ips: ips([str(status, 'podIP'), ...listed]),
    hostNetwork: spec?.['hostNetwork'] === true,
  };
}

function servicePort(o: JsonObject): ServicePort | null {
  const port = num(o, 'port');
  if (port === null) return null;
  const target = o['targetPort'];
  return {
    name: str(o, 'name'),
    protocol: (str(o, 'protocol') ?? 'TCP').toUpperCase(),
    port,
    // a named targetPort is resolved later against the EndpointSlice ports; absent means "same as port"
    targetPort: typeof target === 'number' ? target : target === undefined ? port : null,
    nodePort: num(o, 'nodePort'),
  };
}

function serviceFromItem(item: JsonObject): Service | null {
  const meta = obj(item, 'metadata');
  const name = str(meta, 'name');
  if (name === null) return null;
  const namespace = str(meta, 'namespace') ?? 'default';
  const spec = obj(item, 'spec');
  const ingress = objects(obj(obj(item, 'status'), 'loadBalancer')?.['ingress']);
  const clusterIps = ips([str(spec, 'clusterIP'), ...strings(spec, 'clusterIPs')]).filter(
    (ip) => ip !== 'None',
  );
  return {
    namespace,
    name,
    key: `${namespace}/${name}`,
    type: str(spec, 'type') ?? 'ClusterIP',
    clusterIps,
    externalIps: ips(strings(spec, 'externalIPs')),
    loadBalancerIps: ips([str(spec, 'loadBalancerIP'), ...ingress.map((o) => str(o, 'ip'))]),
    ports: objects(spec?.['ports'])
      .map(servicePort)
      .filter((p): p is ServicePort => p !== null),
    backends: [],
  };
}

function backendsFromSlice(item: JsonObject): { service: string; backends: Backend[] } | null {
  const meta = obj(item, 'metadata');
  const service = str(obj(meta, 'labels'), 'kubernetes.io/service-name');
  if (service === null) return null;
  const namespace = str(meta, 'namespace') ?? 'default';
  const ports = objects(item['ports']);
  const backends: Backend[] = [];
  for (const ep of objects(item['endpoints'])) {
    const ref = obj(ep, 'targetRef');
    const pod =
      str(ref, 'kind') === 'Pod' ? `${str(ref, 'namespace') ?? namespace}/${str(ref, 'name')}` : null;
    const ready = obj(ep, 'conditions')?.['ready'] !== false;
    for (const address of ips(strings(ep, 'addresses'))) {
      for (const p of ports) {
        const port = num(p, 'port');
        if (port === null) continue;
        backends.push({
          ip: address,
          port,
          protocol: (str(p, 'protocol') ?? 'TCP').toUpperCase(),
          portName: str(p, 'name'),
          pod,
          node: str(ep, 'nodeName'),
          ready,
        });
      }
    }
  }
  return { service: `${namespace}/${service}`, backends };
}

export function k8sFromJson(docs: K8sDocs): K8sFacts {
  const pods = listItems(docs.pods)
    .map(podFromItem)
    .filter((p): p is K8sPod => p !== null);
  const services = listItems(docs.services)
    .map(serviceFromItem)
    .filter((s): s is Service => s !== null);
  const byKey = new Map(services.map((s) => [s.key, s]));
  for (const slice of listItems(docs.endpointslices)) {
    const got = backendsFromSlice(slice);
    const svc = got ? byKey.get(got.service) : undefined;
    if (got && svc) svc.backends.push(...got.backends);
  }
  for (const svc of services) {
    for (const p of svc.ports) {
      if (p.targetPort !== null) continue;
      // named targetPort: the EndpointSlice port carrying the Service port's name has the number
      p.targetPort =
        svc.backends.find((b) => b.portName === p.name && b.protocol === p.protocol)?.port ?? null;
    }
  }
  const nodes = listItems(docs.nodes).flatMap((item): K8sNode[] => {
    const name = str(obj(item, 'metadata'), 'name');
    if (name === null) return [];
    const addresses = objects(obj(item, 'status')?.['addresses'])
      .filter((a) => str(a, 'type') !== 'Hostname')
      .map((a) => str(a, 'address'));
    return [{ name, ips: ips(addresses) }];
  });
  return { pods, services, nodes };
}
