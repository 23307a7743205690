/**
 * A copy of the datapathv2 fixture whose names are hostile, through every channel a bundle offers:
 * a pod name (k8s/pods.json, endpointslices, bundle.json, the pod's capture folder), a host veth name
 * (ip -j link/route, terway mapping, bundle.json, the capture file name), a Service name, and the
 * recorded command line in bundle.json. Names that become path components cannot hold `/`, so
 * `</script>` goes through the names that do not (Service, command line).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const HOSTILE = {
  /** replaces pod `web-1` everywhere */
  pod: `web-1"'><img src=x onerror="document.title='PWNED-pod'"><script>document.title='PWNED-pod2'<!--`,
  /** replaces host veth `cali0761ccbeace` everywhere */
  iface: `cali07"'<svg onload="document.title='PWNED-if'">&amp;`,
  /** replaces Service `web` (the name only) */
  service: `web</script><script>document.title='PWNED-svc'</script><img src=x onerror=alert(1)>`,
  command: `</script><img src=x onerror="document.title='PWNED-cmd'"> ' " & <!-- -->`,
} as const;

const fixture = path.resolve(import.meta.dirname, '..', '..', 'fixtures', 'datapathv2', 'bundle');

function deepReplace(v: unknown, map: (s: string) => string): unknown {
  if (typeof v === 'string') return map(v);
  if (Array.isArray(v)) return v.map((x) => deepReplace(x, map));
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deepReplace(x, map)]));
  return v;
}

const swap = (s: string) =>
  s
    .replaceAll('cali0761ccbeace', HOSTILE.iface)
    .replace(/(^|[/ =])web-1(?=$|[/ ,;"])/g, `$1${HOSTILE.pod}`)
    .replace(/^web-1$/, HOSTILE.pod);

/** Returns the hostile bundle's folder (under the OS temp folder; the caller removes it). */
export function hostileBundle(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hoptrace-hostile-'));
  const out = path.join(root, 'bundle');
  fs.cpSync(fixture, out, { recursive: true });
  const walk = (dir: string): string[] =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const p = path.join(dir, e.name);
      return e.isDirectory() ? walk(p) : [p];
    });
  for (const file of walk(out)) {
    if (file.endsWith('.json')) {
      let data = deepReplace(JSON.parse(fs.readFileSync(file, 'utf8')), swap);
      if (
        file.endsWith(path.join('k8s', 'services.json')) ||
        file.endsWith(path.join('k8s', 'endpointslices.json'))
      )
        data = deepReplace(data, (s) => (s === 'web' ? HOSTILE.service : s));
      if (path.basename(file) === 'bundle.json')
        (data as { command: string[] }).command.push(HOSTILE.command);
      fs.writeFileSync(file, JSON.stringify(data, null, 1));
    } else if (file.endsWith('mapping.txt')) {
      fs.writeFileSync(file, swap(fs.readFileSync(file, 'utf8')).replaceAll('web-1', HOSTILE.pod));
    }
  }
  // endpointslices name their Service by label; the slice's own name may be `web-xxxxx`
  fs.renameSync(
    path.join(out, 'nodes', 'node1', 'captures', 'cali0761ccbeace.pcapng'),
    path.join(out, 'nodes', 'node1', 'captures', `${HOSTILE.iface}.pcapng`),
  );
  fs.renameSync(path.join(out, 'pods', 'default', 'web-1'), path.join(out, 'pods', 'default', HOSTILE.pod));
  return out;
}
