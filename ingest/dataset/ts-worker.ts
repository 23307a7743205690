/**
 * A worker thread running one of our TypeScript modules. The sources run through tsx (no build step)
 * and a worker does not inherit the main thread's loader, so the worker registers tsx itself before it
 * imports the module (as analyzers/correlate/parallel-slabs.ts does): ~0.25 s before the module runs.
 *
 * A module whose start-up is on the critical path (the Parquet encoder: the decoding thread can only
 * fill a few batches before it waits for it) can be bundled first (`bundleForWorker`): esbuild makes
 * one JavaScript module of it and its imports, and its workers then start from that in ~40 ms. A
 * bundle that fails, or that would import anything but Node's own modules up front (a data: URL
 * resolves nothing else), leaves the module to tsx.
 *
 * Bundling took 80-200 ms of every ingest's start, awaited (esbuild's service starts as a child
 * process), so a bundle is kept on disk (`bundle-cache.ts`) with the size and time of each source it
 * was made from, and made again only when one of them changed.
 */
import { type TransferListItem, Worker } from 'node:worker_threads';
import { type BundleInputs, readCachedBundle, writeCachedBundle } from './bundle-cache.ts';

/** bundled code by module URL; null when the module could not be bundled */
const bundles = new Map<string, Promise<string | null>>();

/**
 * Bundles `module` for the workers `tsWorker` starts after this resolves; false when it could not be
 * (they start through tsx). Never rejects.
 */
export function bundleForWorker(module: URL): Promise<boolean> {
  let code = bundles.get(module.href);
  if (!code) {
    code = bundle(module);
    bundles.set(module.href, code);
  }
  return code.then((text) => text !== null);
}

const ready = new Map<string, string>();

async function bundle(module: URL): Promise<string | null> {
  const text = (await readCachedBundle(module)) ?? (await buildBundle(module));
  if (text !== null) ready.set(module.href, text);
  return text;
}

/** esbuild's bundle of `module`, written to the cache; null when it cannot run in a data: URL worker. */
export async function buildBundle(module: URL, cacheDir?: string): Promise<string | null> {
  try {
    const startedAt = Date.now();
    const esbuild = await import('esbuild');
    const r = await esbuild.build({
      entryPoints: [module.pathname],
      // input paths in the metafile are relative to this
      absWorkingDir: '/',
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      metafile: true,
      logLevel: 'silent',
      // this module's own import of esbuild runs only where a bundle is made, never in a worker
      external: ['esbuild'],
    });
    const text = r.outputFiles[0]?.text;
    const imports = Object.values(r.metafile.outputs).flatMap((o) => o.imports);
    const resolvable = imports.every((i) => i.path.startsWith('node:') || i.kind === 'dynamic-import');
    if (text === undefined || !resolvable) return null;
    const inputs: BundleInputs = { files: Object.keys(r.metafile.inputs).map((f) => `/${f}`) };
    await writeCachedBundle(module, text, inputs, startedAt, cacheDir);
    return text;
  } catch {
    return null;
  }
}

export function tsWorker(module: URL, workerData: unknown, transferList: TransferListItem[] = []): Worker {
  const code = ready.get(module.href);
  if (code !== undefined)
    return new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), {
      workerData,
      transferList,
    });
  const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then((tsx) => { tsx.register(); return import(${JSON.stringify(module.href)}); })
  .catch((err) => { throw err; });`;
  return new Worker(boot, { eval: true, workerData, transferList });
}
