/**
 * The ladder diagram of one flow, as SVG (it prints, and needs no script). Like Wireshark's Flow
 * Graph, but lanes are capture points, not hosts: one vertical lane per point in path order, one band
 * per packet, a dot where the packet was seen, an arrow to its next sighting labelled with the hop's
 * latency and with the address change when NAT happened between the two.
 * Time: bands are in packet order (their start time is printed on the left); inside a band the dots'
 * vertical offsets are to scale, the whole band height being the longest packet transit shown, so a
 * slow hop looks slow.
 */
import type { FlowDetail, LadderPacket, Lane } from '../report-model.ts';
import { html, type SafeHtml } from './escape.ts';
import { formatNs, truncateMiddle } from './format.ts';

const LANE_W = 176;
const LEFT = 150;
/** lane header: owner, interface, kind, then up to two verdict notes of two lines each */
const HEAD_BASE = 58;
const NOTE_H = 24;
const MAX_NOTES = 2;
const BAND = 66;
const INSET = 12;
const DROP = 30;

/** CSS classes, so the page's palette (and print) decides colours. */
const laneClass = (l: Lane) => `lane lane-${l.state}`;

function laneHeader(l: Lane, x: number): SafeHtml {
  const partial = l.state === 'seen' ? l.notes : [];
  const status =
    l.state === 'bypassed'
      ? (l.notes.find((n) => n.kind === 'bypassed')?.text ?? 'bypassed')
      : l.state === 'not-captured'
        ? 'not captured'
        : null;
  return html`<g class="lane-head">
    <title>${l.point} (${l.kind})${l.notes.map((n) => `\n${n.leg} ${n.dir}: ${n.text}`)}</title>
    <text x="${x}" y="14" class="lane-owner">${truncateMiddle(l.owner, 24)}</text>
    <text x="${x}" y="30" class="lane-iface">${truncateMiddle(l.iface, 20)}</text>
    <text x="${x}" y="44" class="lane-kind">${l.kind}</text>
    ${status ? html`<text x="${x}" y="${HEAD_BASE + 2}" class="lane-status lane-status-${l.state}">${status}</text>` : ''}
    ${partial.slice(0, MAX_NOTES).map(
      (
        n,
        i,
      ) => html`<text x="${x}" y="${HEAD_BASE + 2 + i * NOTE_H}" class="lane-note lane-note-${n.kind}">${n.leg} ${n.dir}:</text>
      <text x="${x}" y="${HEAD_BASE + 13 + i * NOTE_H}" class="lane-note lane-note-${n.kind}">${n.text}</text>`,
    )}
  </g>`;
}

/** `a -> b; src c -> d` as lines under an arrow's middle, each side of a change on its own line. */
function rewriteLabels(text: string | null, x: number, y: number): SafeHtml[] {
  return (text ?? '')
    .split('; ')
    .filter(Boolean)
    .flatMap((r) => r.split(' -> ').map((part, j, all) => (j < all.length - 1 ? `${part} →` : part)))
    .map(
      (line, j) =>
        html`<text class="hop-rewrite" x="${x}" y="${(y + 11 + j * 11).toFixed(1)}">${line}</text>`,
    );
}

function packetBand(p: LadderPacket, i: number, lanes: Lane[], scale: number, header: number): SafeHtml {
  const y0 = header + i * BAND;
  const x = (lane: number) => LEFT + lane * LANE_W + LANE_W / 2;
  const y = (t: number) => y0 + INSET + ((t - p.t) / scale) * DROP;
  const leg = p.leg === 'request' ? 'req' : 'rep';
  const arrows = p.sightings.slice(1).map((s, k) => {
    const prev = p.sightings[k]!;
    const [x1, y1, x2, y2] = [x(prev.lane), y(prev.t), x(s.lane), y(s.t)];
    const cls = `hop hop-${leg}${s.unexpected ? ' hop-unexpected' : ''}`;
    const marker = `url(#arrow-${s.unexpected ? 'bad' : leg})`;
    if (s.lane === prev.lane) {
      // the same point twice (in, then out: a hairpin through the host stack): a loop on the lane's
      // right, labelled in the middle of the gap there (ladderSvg widens the diagram for the last lane)
      const bulge = x1 + 34;
      const lx = x1 + LANE_W / 2;
      const my = (y1 + y2) / 2;
      return html`<g class="${cls}">
      <path d="M${x1},${y1.toFixed(1)} C${bulge},${y1.toFixed(1)} ${bulge},${y2.toFixed(1)} ${x1 + 5},${y2.toFixed(1)}" marker-end="${marker}"/>
      ${s.latency !== null ? html`<text class="hop-latency" x="${lx}" y="${(my - 4).toFixed(1)}">${formatNs(s.latency)}</text>` : ''}
      ${rewriteLabels(s.rewriteText, lx, my)}
    </g>`;
    }
    // shorten the line so the arrowhead stops at the dot's edge
    const len = Math.hypot(x2 - x1, y2 - y1) || 1;
    const [ex, ey] = [x2 - ((x2 - x1) / len) * 5, y2 - ((y2 - y1) / len) * 5];
    // labels sit in the middle of the arrow's first lane gap: an arrow that jumps over a bypassed lane
    // keeps the lane's ring visible, and labels of neighbouring arrows never share a gap
    const span = Math.max(1, Math.abs(s.lane - prev.lane));
    const mx = x1 + (x2 - x1) / span / 2;
    const my = y1 + (y2 - y1) / span / 2;
    // lanes this arrow jumps over that the verdicts say this leg bypassed: a hollow dashed ring
    const lo = Math.min(prev.lane, s.lane);
    const hi = Math.max(prev.lane, s.lane);
    const bypassed = lanes
      .map((l, li) => ({ l, li }))
      .filter(
        ({ l, li }) => li > lo && li < hi && l.notes.some((n) => n.kind === 'bypassed' && n.leg === p.leg),
      );
    return html`<g class="${cls}">
      <line x1="${x1}" y1="${y1}" x2="${ex.toFixed(1)}" y2="${ey.toFixed(1)}" marker-end="${marker}"/>
      ${bypassed.map(({ li }) => {
        const bx = x(li);
        const by = y1 + ((y2 - y1) * (bx - x1)) / (x2 - x1 || 1);
        return html`<circle class="bypass-ring" cx="${bx}" cy="${by.toFixed(1)}" r="5"/>`;
      })}
      ${s.latency !== null ? html`<text class="hop-latency" x="${mx}" y="${(my - 4).toFixed(1)}">${formatNs(s.latency)}</text>` : ''}
      ${rewriteLabels(s.rewriteText, mx, my)}
    </g>`;
  });
  const dots = p.sightings.map(
    (s) =>
      html`<circle class="dot dot-${leg}${s.unexpected ? ' dot-unexpected' : ''}" cx="${x(s.lane)}" cy="${y(s.t).toFixed(1)}" r="4"><title>${s.point} ${s.dir} · ${s.src} → ${s.dst} · ttl ${s.ttl} · ${s.file} frame ${s.frame}${s.frames > 1 ? ` (+${s.frames - 1} segments)` : ''}${s.unexpected ? ' · UNEXPECTED' : ''}</title></circle>`,
  );
  const t = p.t === 0 ? '+0' : `+${formatNs(p.t)}`;
  return html`<g class="packet packet-${leg}">
    <line class="band-rule" x1="0" x2="${LEFT + lanes.length * LANE_W}" y1="${y0}" y2="${y0}"/>
    <text class="band-time" x="6" y="${y0 + 16}">${t}</text>
    <text class="band-summary band-${leg}" x="6" y="${y0 + 30}">${p.leg === 'request' ? '→ request' : '← reply'}</text>
    <text class="band-flags" x="6" y="${y0 + 44}">${truncateMiddle(p.summary, 22)}</text>
    ${arrows}${dots}
  </g>`;
}

/**
 * Arrowheads, defined once per page in an always-rendered zero-size SVG: markers inside a ladder that
 * the filter hides (display: none) would not render for the other ladders that reference them.
 */
export function ladderDefs(): SafeHtml {
  return html`<svg class="svg-defs" width="0" height="0" aria-hidden="true" xmlns="http://www.w3.org/2000/svg">
  <defs>
    <marker id="arrow-req" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" class="head-req"/></marker>
    <marker id="arrow-rep" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" class="head-rep"/></marker>
    <marker id="arrow-bad" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" class="head-bad"/></marker>
  </defs>
</svg>`;
}

export function ladderSvg(d: FlowDetail): SafeHtml {
  const lanes = d.lanes;
  const last = lanes.length - 1;
  const loopOnLast = d.packets.some((p) =>
    p.sightings.some((s, k) => k > 0 && s.lane === last && p.sightings[k - 1]!.lane === last),
  );
  const width = LEFT + Math.max(1, lanes.length) * LANE_W + (loopOnLast ? LANE_W / 2 : 0);
  const notes = Math.min(
    MAX_NOTES,
    Math.max(0, ...lanes.map((l) => (l.state === 'seen' ? l.notes.length : 1))),
  );
  const header = HEAD_BASE + notes * NOTE_H + 10;
  const height = header + Math.max(1, d.packets.length) * BAND + 8;
  const spans = d.packets.map((p) => (p.sightings.at(-1)?.t ?? p.t) - p.t);
  // below 1 µs the captures cannot resolve order in time; keep a floor so zero-latency hops stay flat
  const scale = Math.max(1000, ...spans);
  const laneX = (i: number) => LEFT + i * LANE_W + LANE_W / 2;
  return html`<svg class="ladder" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img"
    aria-label="ladder diagram of flow ${d.row.id}" data-lanes="${lanes.map((l) => l.point).join(' ')}" xmlns="http://www.w3.org/2000/svg">
  ${lanes.map(
    (l, i) => html`<g class="${laneClass(l)}" data-point="${l.point}">
      ${laneHeader(l, laneX(i))}
      <line x1="${laneX(i)}" x2="${laneX(i)}" y1="${header - 6}" y2="${height - 4}"/>
    </g>`,
  )}
  ${d.packets.map((p, i) => packetBand(p, i, lanes, scale, header))}
  <text class="scale-note" x="6" y="${header - 8}">band = ${formatNs(scale)}</text>
</svg>`;
}
