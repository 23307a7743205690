import path from 'node:path';

/**
 * Interface, node, namespace and pod names come from the kernel, the cluster or the command line and become
 * path segments in the bundle (DESIGN §3: names are untrusted). A segment is accepted only when it cannot
 * climb out of its folder or confuse a shell or a filesystem: no `/`, `\`, NUL or other control characters,
 * not `.` or `..`, not empty, at most 255 bytes (Linux NAME_MAX).
 */
export function checkSegment(what: string, name: string): string | null {
  if (name.length === 0) return `${what} name is empty`;
  if (name === '.' || name === '..') return `${what} name '${name}' is not allowed`;
  if (Buffer.byteLength(name, 'utf8') > 255) return `${what} name is longer than 255 bytes`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what we reject
  if (/[/\\\u0000-\u001f\u007f]/.test(name))
    return `${what} name ${JSON.stringify(name)} contains '/', '\\' or a control character`;
  return null;
}

/** Like `checkSegment`, for callers that treat a bad name as a bug in the input: throws. */
export function segment(what: string, name: string): string {
  const problem = checkSegment(what, name);
  if (problem !== null) throw new Error(problem);
  return name;
}

/**
 * Joins a bundle-relative path onto the bundle root and refuses any result outside it. Every write and every
 * read of a path taken from bundle.json goes through here, so a hostile `../../etc/passwd` never escapes.
 */
export function insideBundle(root: string, relative: string): string | null {
  if (relative.length === 0 || path.isAbsolute(relative) || relative.includes('\u0000')) return null;
  const base = path.resolve(root);
  const full = path.resolve(base, relative);
  const rel = path.relative(base, full);
  if (rel.length === 0 || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel))
    return null;
  return full;
}

/** Bundle paths always use `/`, whatever the platform (bundles travel from nodes to laptops). */
export function bundlePath(...segments: string[]): string {
  return segments.join('/');
}
