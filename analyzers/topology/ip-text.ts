/**
 * IP addresses as canonical text, the one key every topology source and every packet column is
 * compared by: dotted quads for IPv4, RFC 5952 for IPv6 (lowercase, longest zero run as `::`).
 * Sources spell IPv6 differently (`fd00:10:1:0::101`, upper case); packets hold bytes. Normalising
 * both to one text means a Map lookup, never a string compare of two spellings.
 */

export function ip4Text(u: number): string {
  return `${(u >>> 24) & 255}.${(u >>> 16) & 255}.${(u >>> 8) & 255}.${u & 255}`;
}

/** RFC 5952 text of 16 bytes at `at`. */
export function ip6Text(bytes: Uint8Array, at = 0): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(((bytes[at + 2 * i] ?? 0) << 8) | (bytes[at + 2 * i + 1] ?? 0));
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

/** 16 bytes of an IPv6 text, or null when it is not one. */
export function parseIp6(text: string): Uint8Array | null {
  const s = text.toLowerCase();
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (!/^[0-9a-f]{1,4}$/.test(g)) return null;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0] ?? '');
  const tail = halves.length === 2 ? parse(halves[1] ?? '') : [];
  if (!head || !tail) return null;
  const fill = 8 - head.length - tail.length;
  if ((halves.length === 2 && fill < 1) || (halves.length === 1 && fill !== 0)) return null;
  const groups = [...head, ...new Array<number>(fill).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 255;
  });
  return bytes;
}

/** IPv4 text -> uint32, or null. */
export function parseIp4(text: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  let u = 0;
  for (let i = 1; i <= 4; i++) {
    const b = Number(m[i]);
    if (b > 255) return null;
    u = u * 256 + b;
  }
  return u;
}

/** Canonical text of any address spelling (CIDR suffix dropped), or null when it is not an address. */
export function canonicalIp(text: string): string | null {
  const bare = text.split('/')[0] ?? '';
  const v4 = parseIp4(bare);
  if (v4 !== null) return ip4Text(v4);
  const v6 = parseIp6(bare);
  return v6 ? ip6Text(v6) : null;
}

/** MAC text (any case, `-` or `:`) -> lowercase `aa:bb:..`, or null. */
export function canonicalMac(text: string): string | null {
  const s = text.toLowerCase().replaceAll('-', ':');
  return /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(s) ? s : null;
}

/** MAC text of the uint64 lanes the packet columns use (lo = last four bytes, hi = first two). */
export function macTextFromLanes(lo: number, hi: number): string {
  const b = [(hi >>> 8) & 255, hi & 255, (lo >>> 24) & 255, (lo >>> 16) & 255, (lo >>> 8) & 255, lo & 255];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** The 48-bit MAC as one number (exact in a double): a cheap Map key for the hot loop. */
export function macKeyFromLanes(lo: number, hi: number): number {
  return (hi & 0xffff) * 2 ** 32 + (lo >>> 0);
}

export function macKeyFromText(mac: string): number {
  const hex = mac.replaceAll(':', '');
  return Number.parseInt(hex, 16);
}

/** MAC text of a `macKeyFromLanes` key; null for the -1 "no MAC" key. */
export function macTextFromKey(key: number): string | null {
  if (key < 0) return null;
  return macTextFromLanes(key % 2 ** 32, Math.floor(key / 2 ** 32));
}
