/**
 * Escaping for every place an untrusted string (pod, interface, file and rule names, packet
 * addresses) lands in the page. One function per context, so a call site says which context it is in:
 * element text, a quoted attribute value, SVG text (same rules as HTML text), and JSON inside a
 * `<script>` element. The page builds its markup only through `html` and these functions.
 */

const TEXT_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Text of an element or a double-quoted attribute value (HTML and SVG alike). Quotes are escaped too,
 * so the same function is safe in both places; `<` and `>` because a `</script>` or `<!--` in text
 * must stay text.
 */
export function escapeHtml(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (c) => TEXT_ESCAPES[c]!);
}

/**
 * JSON for a `<script type="application/json">` element. `<` is written as \u003c so that neither
 * `</script>` nor `<!--` (which switches the HTML tokenizer into its script-data-escaped state) can
 * appear; U+2028/U+2029 are escaped for old JS parsers that took them as line ends. `>` and `&` for
 * good measure: the result contains none of `<>&`.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Markup already made safe, so that `html` does not escape it twice. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type Interpolated = SafeHtml | string | number | null | undefined | false | readonly Interpolated[];

function render(value: Interpolated): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(value as string | number);
}

/**
 * Tagged template for markup: every interpolated value is escaped unless it is `SafeHtml` (the result
 * of another `html` call); arrays are joined. Values may only go in text or in double-quoted attribute
 * values: the escaping is right for both.
 */
export function html(strings: TemplateStringsArray, ...values: Interpolated[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!;
  });
  return new SafeHtml(out);
}

/** Markup this code wrote itself (CSS, the filter script): trusted by construction. */
export const raw = (value: string): SafeHtml => new SafeHtml(value);

/** An id usable in `id=` and `href="#..."` built from a number: no untrusted text ever becomes an id. */
export const flowAnchor = (flowId: number): string => `flow-${flowId}`;
