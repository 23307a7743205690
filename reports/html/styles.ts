/**
 * The page's stylesheet, inlined (no network). Colours carry meaning and are the same everywhere:
 * requests blue, replies teal, failure red, inconclusive amber, bypassed violet and dashed, NAT
 * rewrites brown on amber. Print: no filter bar, every SVG scaled to the page width, one flow per page
 * break opportunity.
 */
export const STYLES = `
:root {
  --fg: #0f172a; --muted: #64748b; --line: #e2e8f0; --bg: #f8fafc; --card: #fff;
  --pass: #15803d; --fail: #dc2626; --inc: #d97706; --none: #64748b;
  --req: #2563eb; --rep: #0d9488; --bypass: #7c3aed; --nat: #92400e; --nat-bg: #fef3c7;
  --ebpf: #2563eb; --kernel: #ea580c; --mixed: #9333ea;
  --mono: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--fg); background: var(--bg); }
header.top { background: #0f172a; color: #f8fafc; padding: 14px 24px; display: flex; flex-wrap: wrap;
  align-items: baseline; gap: 8px 24px; }
header.top h1 { font-size: 20px; margin: 0; font-weight: 650; }
header.top .bundle { font-family: var(--mono); color: #cbd5e1; overflow-wrap: anywhere; }
header.top .counts { margin-left: auto; display: flex; gap: 8px; }
main { max-width: 1320px; margin: 0 auto; padding: 8px 24px 48px; }
section { margin-top: 22px; }
h2 { font-size: 17px; margin: 0 0 8px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 0; }
.muted { color: var(--muted); }
.mono, code { font-family: var(--mono); font-size: 12.5px; overflow-wrap: anywhere; }
.mono.small { font-size: 11px; } .nowrap { white-space: nowrap; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(380px, 1fr)); gap: 14px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card h3 { margin-bottom: 6px; }
table { border-collapse: collapse; width: 100%; background: var(--card); }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: .02em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr[hidden], article[hidden] { display: none; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; overflow-wrap: anywhere; }
.pill { display: inline-block; padding: 0 8px; border-radius: 999px; font-size: 12px; font-weight: 600;
  color: #fff; white-space: nowrap; border: 0; cursor: pointer; font-family: inherit; line-height: 20px; }
.st-pass { background: var(--pass); } .st-fail { background: var(--fail); }
.st-inconclusive { background: var(--inc); } .st-not-evaluated { background: var(--none); }
.count-pill { background: #1e293b; color: #e2e8f0; }
.bad { color: var(--fail); font-weight: 600; } .warn { color: var(--inc); }
.chips { display: flex; flex-wrap: wrap; gap: 2px 4px; align-items: center; }
.chip { font-family: var(--mono); font-size: 11px; background: #eef2ff; border-radius: 4px; padding: 0 4px; }
.chip-sep { color: var(--muted); font-size: 11px; }
.filters { position: sticky; top: 0; z-index: 2; background: var(--bg); padding: 8px 0; display: flex;
  flex-wrap: wrap; gap: 8px; align-items: center; border-bottom: 1px solid var(--line); }
.filters input[type=search] { flex: 1 1 320px; padding: 6px 10px; font: inherit; border: 1px solid #cbd5e1;
  border-radius: 6px; }
.filters select, .filters button { padding: 5px 8px; font: inherit; border: 1px solid #cbd5e1; border-radius: 6px;
  background: #fff; }
#flow-count { color: var(--muted); }
.note { background: #eff6ff; border-left: 3px solid var(--req); padding: 6px 10px; margin: 8px 0; }
.note.warnnote { background: #fffbeb; border-left-color: var(--inc); }
article.flow { background: var(--card); border: 1px solid var(--line); border-radius: 8px; margin: 14px 0;
  padding: 12px 14px; break-inside: avoid-page;
  /* a large report embeds hundreds of ladders: lay out only those near the viewport */
  content-visibility: auto; contain-intrinsic-size: auto 900px; }
article.flow.is-fail { border-left: 4px solid var(--fail); }
article.flow.is-inconclusive { border-left: 4px solid var(--inc); }
article.flow header { display: flex; flex-wrap: wrap; gap: 6px 14px; align-items: baseline; margin-bottom: 6px; }
.ladder-wrap { overflow-x: auto; margin: 6px 0; }
.commands { display: grid; grid-template-columns: max-content 1fr; gap: 2px 10px; margin-top: 8px; }
.commands code { background: #f1f5f9; padding: 1px 6px; border-radius: 4px; user-select: all; }
.check { border-left: 3px solid var(--fail); padding: 4px 10px; margin: 8px 0; background: #fef2f2; }
.check.check-inconclusive { border-left-color: var(--inc); background: #fffbeb; }
.check .msg { margin: 2px 0 4px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 12px; color: var(--muted); margin: 4px 0; }
.legend i { display: inline-block; width: 22px; height: 0; border-top: 2px solid; vertical-align: middle; margin-right: 4px; }
svg text { font-family: system-ui, "DejaVu Sans", sans-serif; }
svg.ladder { background: #fff; }
.lane line { stroke: #94a3b8; stroke-width: 1.5; }
.lane-bypassed line { stroke: var(--bypass); stroke-dasharray: 6 5; }
.lane-not-captured line { stroke: #cbd5e1; stroke-dasharray: 2 4; }
.lane-head text { text-anchor: middle; }
.lane-owner { font-size: 10.5px; fill: var(--muted); }
.lane-iface { font-size: 12.5px; font-weight: 650; fill: var(--fg); font-family: var(--mono) !important; }
.lane-kind { font-size: 10px; fill: var(--muted); }
.lane-status, .lane-note { font-size: 10px; font-weight: 600; }
.lane-status-bypassed, .lane-note-bypassed { fill: var(--bypass); }
.lane-status-not-captured, .lane-note-not-captured { fill: var(--muted); }
.lane-note-unexpected { fill: var(--fail); }
.band-rule { stroke: #f1f5f9; }
.band-time { font-size: 11px; font-weight: 600; fill: var(--fg); font-variant-numeric: tabular-nums; }
.band-summary { font-size: 10.5px; } .band-req { fill: var(--req); } .band-rep { fill: var(--rep); }
.band-flags { font-size: 10.5px; fill: var(--muted); font-family: var(--mono) !important; }
.hop line, .hop path { stroke-width: 1.6; fill: none; }
.hop-req line, .hop-req path { stroke: var(--req); } .hop-rep line, .hop-rep path { stroke: var(--rep); }
.hop-unexpected line, .hop-unexpected path { stroke: var(--fail); stroke-width: 2.6; }
.head-req { fill: var(--req); } .head-rep { fill: var(--rep); } .head-bad { fill: var(--fail); }
.dot-req { fill: var(--req); } .dot-rep { fill: var(--rep); }
.dot-unexpected { fill: var(--fail); stroke: #fff; stroke-width: 1.5; }
.bypass-ring { fill: #fff; stroke: var(--bypass); stroke-width: 1.4; stroke-dasharray: 2 2; }
.hop-latency, .hop-rewrite { font-size: 10.5px; text-anchor: middle; paint-order: stroke; stroke: #fff;
  stroke-width: 3px; stroke-linejoin: round; }
.hop-latency { fill: #334155; }
.hop-unexpected .hop-latency { fill: var(--fail); font-weight: 600; }
.hop-rewrite { fill: var(--nat); font-weight: 650; font-family: var(--mono) !important; stroke: var(--nat-bg); stroke-width: 4px; }
.scale-note { font-size: 9.5px; fill: var(--muted); }
svg.latency-chart { background: #fff; max-width: 100%; height: auto; }
.latency-chart .grid { stroke: #e2e8f0; } .latency-chart .tick { font-size: 10px; fill: var(--muted); text-anchor: middle; }
.latency-chart .group-label { font-size: 12px; font-weight: 650; }
.latency-chart .group-rule { stroke: #f1f5f9; }
.latency-chart .series-label { font-size: 11px; text-anchor: end; fill: var(--muted); }
.latency-chart .series-stat, .latency-chart .chart-note { font-size: 10.5px; fill: var(--muted); }
.dp .box { fill-opacity: .18; stroke-width: 1.4; } .dp .whisker { stroke-width: 1.2; }
.dp .median { stroke-width: 2.4; } .dp .sample { fill-opacity: .55; }
.dp-ebpf .box, .dp-ebpf .whisker, .dp-ebpf .median { stroke: var(--ebpf); } .dp-ebpf .box, .dp-ebpf .sample { fill: var(--ebpf); }
.dp-kernel .box, .dp-kernel .whisker, .dp-kernel .median { stroke: var(--kernel); } .dp-kernel .box, .dp-kernel .sample { fill: var(--kernel); }
.dp-mixed .box, .dp-mixed .whisker, .dp-mixed .median { stroke: var(--mixed); } .dp-mixed .box, .dp-mixed .sample { fill: var(--mixed); }
.dp-unknown .box, .dp-unknown .whisker, .dp-unknown .median, .dp-notevaluated .box, .dp-notevaluated .whisker,
.dp-notevaluated .median { stroke: var(--none); }
.dp-unknown .box, .dp-unknown .sample, .dp-notevaluated .box, .dp-notevaluated .sample { fill: var(--none); }
footer { color: var(--muted); font-size: 12px; margin-top: 32px; }
#flow-more { margin-top: 8px; }
@media print {
  body { background: #fff; font-size: 11px; }
  header.top { background: #fff; color: #000; border-bottom: 2px solid #000; }
  header.top .bundle { color: #000; }
  .filters, .no-print { display: none !important; }
  main { max-width: none; padding: 0; }
  .ladder-wrap { overflow: visible; }
  svg.ladder, svg.latency-chart { width: 100%; height: auto; }
  article.flow { break-inside: avoid; border-color: #999; content-visibility: visible; }
  .pill { border: 1px solid #000; print-color-adjust: exact; -webkit-print-color-adjust: exact; }
  * { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
}
`;
