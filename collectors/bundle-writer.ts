import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { insideBundle } from './path-names.ts';

/**
 * The only code that writes into a bundle. Every path is bundle-relative and checked to stay inside the
 * bundle, because its segments come from interface, pod and node names (DESIGN §3).
 */
export class BundleWriter {
  readonly root: string;
  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** Absolute path for a bundle-relative one; throws if it would leave the bundle. */
  resolve(relative: string): string {
    const full = insideBundle(this.root, relative);
    if (full === null) throw new Error(`refusing to write outside the bundle: ${JSON.stringify(relative)}`);
    return full;
  }

  /** Creates the folder that will hold `relative` and returns the file's absolute path. */
  async prepare(relative: string): Promise<string> {
    const full = this.resolve(relative);
    await mkdir(path.dirname(full), { recursive: true });
    return full;
  }

  async write(relative: string, data: string | Uint8Array): Promise<void> {
    await writeFile(await this.prepare(relative), data);
  }
}
