/**
 * `renderReportHtml`: the report as one self-contained HTML page (issue 7): styles, SVG and the filter
 * script inline, no external resource of any kind. The Content-Security-Policy forbids every fetch and
 * allows only the filter script (by hash), so even a string that escaped escaping could not load or run
 * anything. Markup is built only with `html` (escape.ts), which escapes every interpolated value.
 */
import { createHash } from 'node:crypto';
import type { RewriteLeg } from '../read-verdicts.ts';
import type { FlowDetail, FlowRow, ReportModel, RowStatus } from '../report-model.ts';
import { SCENARIO_TITLES, shellWord } from '../report-model.ts';
import { flowAnchor, html, jsonForScript, raw, type SafeHtml } from './escape.ts';
import { FILTER_SCRIPT } from './filter-script.ts';
import { formatEpochNs, formatNs, formatOffset, plural } from './format.ts';
import { ladderDefs, ladderSvg } from './ladder-svg.ts';
import { latencyChart } from './latency-chart.ts';
import { STYLES } from './styles.ts';

const STATUS_TEXT: Record<RowStatus, string> = {
  pass: 'pass',
  fail: 'fail',
  inconclusive: 'inconclusive',
  'not-evaluated': 'not evaluated',
};

const statusPill = (s: RowStatus) => html`<span class="pill st-${s}">${STATUS_TEXT[s]}</span>`;

/** `S5 hairpin`, with the rule that judged it on a second line (the table) or in brackets (a flow). */
const scenarioName = (r: FlowRow) =>
  r.scenario === 'not-evaluated'
    ? 'not evaluated'
    : r.scenario === 'unclassified'
      ? 'unclassified'
      : `S${r.scenario}${r.variant ? ` ${r.variant}` : ''}`;
const scenarioText = (r: FlowRow) => `${scenarioName(r)}${r.rule ? ` (${r.rule})` : ''}`;
const scenarioCell = (r: FlowRow) =>
  html`${scenarioName(r)}${r.rule ? html`<br><span class="muted mono small nowrap">${r.rule}</span>` : ''}`;

function pathChips(path: string[]): SafeHtml {
  return html`<span class="chips">${path.map((p, i) => html`${i > 0 ? html`<span class="chip-sep">›</span>` : ''}<span class="chip">${p.replace(/^(node|pod)\//, '')}</span>`)}</span>`;
}

/** Claimed names come from node_capabilities, observed ones from the evaluator; `ebpf` is DataPath V2's. */
const sameDatapath = (claimed: string, observed: string) =>
  claimed === 'unknown' ||
  claimed === observed ||
  (claimed === 'datapathv2' && observed === 'ebpf') ||
  // the captures could not tell (no pod flows, or a kernel where both paths look alike): no contradiction
  observed === 'unknown';

function summarySection(m: ReportModel): SafeHtml {
  const b = m.bundle;
  const dropped = m.captures.filter((c) => (c.drops ?? 0) > 0 || c.loss !== 'none' || c.lateStart);
  return html`<section id="summary"><h2>Summary</h2><div class="grid">
  <div class="card"><h3>Bundle</h3><dl class="kv">
    <dt>bundle</dt><dd class="mono">${b.dir}</dd>
    <dt>recorded</dt><dd>${b.startedAt ?? '?'} → ${b.stoppedAt ?? '?'}</dd>
    <dt>time span</dt><dd>${formatEpochNs(m.span.startNs)} · ${m.span.durationNs === null ? '?' : formatNs(m.span.durationNs)}</dd>
    <dt>by</dt><dd class="mono">${b.tool ?? '?'} ${b.command ? b.command.join(' ') : ''}</dd>
    <dt>flows</dt><dd>${m.sampling.total} · ${m.evaluated ? html`${m.statusCounts.pass} pass, <span class="${m.statusCounts.fail ? 'bad' : ''}">${m.statusCounts.fail} fail</span>, ${m.statusCounts.inconclusive} inconclusive` : html`<span class="warn">not evaluated</span>: no verdicts.json (rules not run)`}</dd>
  </dl></div>
  <div class="card"><h3>What was missing, and what it cost</h3>
    ${
      m.missing.length === 0 && dropped.length === 0 && m.coverageGaps.length === 0
        ? html`<p class="muted">Nothing: every optional part of the bundle is present and no capture point lost packets.</p>`
        : html`<table><tbody>
      ${m.missing.map((x) => html`<tr><td class="mono">${x.what}</td><td>${x.cost}</td></tr>`)}
      ${m.coverageGaps.map((g) => html`<tr><td class="mono">${g.point}</td><td>${g.text}</td></tr>`)}
      ${dropped.map((c) => html`<tr><td class="mono">${c.point}</td><td>${c.drops ? `${c.drops} packets dropped` : ''}${c.lateStart ? ' started late' : ''}${c.loss !== 'none' ? ` (loss: ${c.loss})` : ''}: checks in its window are inconclusive, never pass</td></tr>`)}
    </tbody></table>`
    }
    ${m.warnings.length > 0 ? html`<h3 style="margin-top:8px">Warnings (${m.warnings.length})</h3><ul>${m.warnings.slice(0, 50).map((w) => html`<li><code>${w.code}</code> ${w.message}</li>`)}</ul>` : ''}
  </div></div>
  <div class="card" style="margin-top:14px"><h3>Nodes: claimed vs observed datapath, clock offsets (corrected = recorded + offset)</h3><table>
    <thead><tr><th>node</th><th>kernel</th><th>claimed</th><th>observed</th><th class="num">clock offset</th><th class="num">± bound</th></tr></thead>
    <tbody>${m.nodes.map(
      (
        n,
      ) => html`<tr><td class="mono">${n.node}</td><td class="mono">${n.kernel ?? '?'}</td><td>${n.claimed}</td>
      <td class="${n.observed && !sameDatapath(n.claimed, n.observed) ? 'bad' : ''}">${n.observed ?? html`<span class="muted">not evaluated</span>`}</td>
      <td class="num">${n.reference ? 'reference' : n.offsetNs === null ? '?' : formatOffset(n.offsetNs)}</td>
      <td class="num">${n.reference ? '' : n.errorNs === null ? html`<span class="warn">unbounded</span>` : formatNs(n.errorNs)}${n.via && !n.reference ? html`<span class="muted"> via ${n.via}</span>` : ''}</td></tr>`,
    )}</tbody></table></div>
  <div class="card" style="margin-top:14px"><h3>Capture points (${m.captures.length})</h3><table>
    <thead><tr><th>point</th><th>kind</th><th class="num">packets</th><th class="num">drops</th><th>coverage (start, length)</th><th>file</th></tr></thead>
    <tbody>${m.captures.map(
      (
        c,
      ) => html`<tr><td class="mono">${c.point}</td><td>${c.kind}</td><td class="num">${c.packets ?? '?'}</td>
      <td class="num ${(c.drops ?? 0) > 0 ? 'bad' : ''}">${c.drops ?? '?'}</td>
      <td>${c.startNs && m.span.startNs ? `${formatOffset(Number(BigInt(c.startNs) - BigInt(m.span.startNs)))}, ${c.endNs ? formatNs(Number(BigInt(c.endNs) - BigInt(c.startNs))) : '?'}` : '?'}</td>
      <td class="mono muted">${c.file}</td></tr>`,
    )}</tbody></table></div>
</section>`;
}

function scenarioSection(m: ReportModel): SafeHtml {
  return html`<section id="scenarios"><h2>Scenarios</h2><table>
  <thead><tr><th>scenario</th><th>rules</th><th class="num">flows</th><th class="num">pass</th><th class="num">fail</th><th class="num">inconclusive</th><th>flows</th></tr></thead>
  <tbody>${m.scenarios.map(
    (
      s,
    ) => html`<tr data-scenario-row="${s.key}"><td><a href="#flows" data-set-scenario="${s.key}">${/^\d$/.test(s.key) ? `S${s.key} ` : ''}${s.title}</a></td>
    <td class="mono">${s.rules.join(', ')}</td><td class="num">${s.flows}</td><td class="num">${s.pass}</td>
    <td class="num ${s.fail ? 'bad' : ''}">${s.fail}</td><td class="num">${s.inconclusive}</td>
    <td>${s.flowIds.map((id) => html`<a href="#${flowAnchor(id)}">#${id}</a> `)}${s.flows > s.flowIds.length ? '…' : ''}</td></tr>`,
  )}</tbody></table>
  ${m.evaluated ? '' : html`<p class="note warnnote">Not evaluated: this analysis has no verdicts.json yet, so no flow has a scenario or a status. Paths, latencies and rewrites below are what the captures show.</p>`}
</section>`;
}

/**
 * Rows in the table at once. Beyond this the rows wait in an inert <template> and the filter script
 * moves a window of them into the table: laying out 10 000 rows took seconds on every filter reset.
 */
export const TABLE_WINDOW = 500;

function flowRowHtml(f: FlowRow): SafeHtml {
  return html`<tr data-flow="${f.id}"><td class="num">${f.hasDetail ? html`<a href="#${flowAnchor(f.id)}">${f.id}</a>` : f.id}</td>
    <td>${statusPill(f.status)}</td><td>${scenarioCell(f)}</td><td>${f.proto}</td>
    <td class="mono">${f.client}</td><td class="mono">${f.service ?? ''}</td><td class="mono">${f.server}</td>
    <td>${f.datapath === 'not-evaluated' ? '' : f.datapath}</td><td class="num">${f.packets}</td><td>${pathChips(f.requestPath)}</td></tr>`;
}

function flowsSection(m: ReportModel): SafeHtml {
  const s = m.sampling;
  const small = m.flows.length <= TABLE_WINDOW;
  const rows = m.flows.map(flowRowHtml);
  const scenarios = ['1', '2', '3', '4', '5', '6', '7', '8', 'unclassified', 'not-evaluated'].filter((k) =>
    m.flows.some((f) => f.scenario === k),
  );
  return html`<section id="flows"><h2>Flows</h2>
  ${
    s.listed < s.total
      ? html`<p class="note" id="flows-not-listed">${s.total - s.listed} more flows, all passing or not evaluated, are not listed here: the table has all ${plural(s.failing, 'failing or inconclusive flow')} and a sample of ${s.listed - s.failing} of the ${s.passingTotal} others (spread across scenarios); scenario and status counts above cover every flow. See <code>verdicts.json</code>, or <code>${notListedQuery(m)}</code>.</p>`
      : ''
  }
  ${
    s.detailed < s.listed
      ? html`<p class="note">Large analysis: full detail is embedded for all ${plural(s.failing, 'failing or inconclusive flow')} and for a sample of ${s.passingShown} of ${s.passingTotal} other flows (spread across scenarios)${s.listed < s.total ? '' : '; every flow is listed in the table'}. <code>hoptrace sql</code> shows any flow's packets.</p>`
      : ''
  }
  <div class="filters" role="search">
    <input type="search" id="flow-search" placeholder="search pod, IP, port, node, capture point…" aria-label="search flows">
    <select id="flow-scenario" aria-label="scenario"><option value="">all scenarios</option>${scenarios.map((k) => html`<option value="${k}">${/^\d$/.test(k) ? `S${k} ${SCENARIO_TITLES[Number(k)] ?? ''}` : k}</option>`)}</select>
    <select id="flow-status" aria-label="status"><option value="">any status</option>${(['fail', 'inconclusive', 'pass', 'not-evaluated'] as const).map((st) => html`<option value="${st}">${STATUS_TEXT[st]}</option>`)}</select>
    <button type="button" id="flow-reset">reset</button>
    <span id="flow-count">${m.flows.length} flows</span>
  </div>
  <table id="flow-table"><thead><tr><th class="num">#</th><th>status</th><th>scenario</th><th>proto</th><th>client</th><th>service</th><th>server</th><th>datapath</th><th class="num">pkts</th><th>request path</th></tr></thead>
  <tbody>${small ? rows : ''}</tbody></table>
  ${small ? '' : html`<template id="flow-rows">${rows}</template>`}
  <button type="button" id="flow-more" class="no-print" hidden>more rows</button>
  ${small ? '' : html`<p class="note">The table shows ${TABLE_WINDOW} rows at a time (search and filters cover all ${m.flows.length}); a printout has the rows shown.</p>`}
</section>`;
}

/** The `hoptrace sql` command that lists every flow with its status (the ones the table leaves out included). */
function notListedQuery(m: ReportModel): string {
  const dataset = `${m.analysisDir.replace(/\/+$/, '')}/dataset`;
  return `hoptrace sql ${shellWord(dataset)} ${shellWord('SELECT flow_id, status, scenario, client_ip, client_port, server_ip, server_port FROM flow_status ORDER BY flow_id')}`;
}

function rewriteLine(d: FlowDetail): SafeHtml | string {
  const r = d.rewrite;
  if (!r || r.status === 'n/a') return '';
  const leg = (name: string, l: RewriteLeg) =>
    html`${name}: <b>${l.status}</b>${l.before ? html` <code>${l.before} -&gt; ${l.after ?? '?'}</code>` : ''}${l.between ? html` between <code>${l.between[0]}</code> and <code>${l.between[1]}</code>` : ''}`;
  return html`<p>Service rewrite: ${leg('DNAT', r)}; ${leg('reverse', r.reverse)}</p>`;
}

/** Evidence grouped by capture point and file: one row each, its frame numbers listed. */
function evidenceTable(evidence: FlowDetail['checks'][number]['evidence']): SafeHtml {
  const groups = new Map<string, { point: string; file: string; frames: number[] }>();
  for (const e of evidence) {
    const key = JSON.stringify([e.point, e.file]);
    const g = groups.get(key) ?? { point: e.point, file: e.file, frames: [] };
    groups.set(key, g);
    g.frames.push(e.frame);
  }
  return html`<table><thead><tr><th>capture point</th><th>file</th><th>frames</th></tr></thead><tbody>${[
    ...groups.values(),
  ].map(
    (g) =>
      html`<tr><td class="mono">${g.point}</td><td class="mono">${g.file}</td><td class="mono">${g.frames.slice(0, 40).join(', ')}${g.frames.length > 40 ? ` … (${g.frames.length})` : ''}</td></tr>`,
  )}</tbody></table>`;
}

function checksBlock(d: FlowDetail): SafeHtml | string {
  const failing = d.checks
    .map((c, i) => ({ c, cmd: d.evidenceCommands[i] ?? null }))
    .filter(({ c }) => c.status !== 'pass');
  const passed = d.checks.filter((c) => c.status === 'pass');
  if (d.checks.length === 0) return '';
  return html`${failing.map(
    ({
      c,
      cmd,
    }) => html`<div class="check check-${c.status}"><b>${c.name}</b> ${statusPill(c.status)} ${c.reason ? html`<code>${c.reason}</code>` : ''}
    <p class="msg">${c.message}</p>
    ${c.evidence.length > 0 ? evidenceTable(c.evidence) : ''}
    ${cmd ? html`<div class="commands"><span>packets</span><code>${cmd}</code></div>` : ''}</div>`,
  )}
  ${passed.length > 0 ? html`<p class="muted">Passed: ${passed.map((c) => c.name).join(', ')}</p>` : ''}`;
}

function flowArticle(d: FlowDetail): SafeHtml {
  const r = d.row;
  return html`<article class="flow is-${r.status}" id="${flowAnchor(r.id)}" data-flow="${r.id}">
  <header><h3>Flow #${r.id}</h3>${statusPill(r.status)}<span>${scenarioText(r)}</span><span>${r.proto}</span>
    <span class="mono">${r.client} → ${r.service ? html`${r.service} → ` : ''}${r.server}</span>
    ${r.datapath !== 'not-evaluated' ? html`<span>datapath <b>${r.datapath}</b></span>` : ''}
    <span class="muted">${plural(d.totalPackets, 'packet')} over ${formatNs(r.durationNs)}</span></header>
  ${r.reason ? html`<p>reason: <span class="bad">${r.reason}</span></p>` : ''}
  ${rewriteLine(d)}
  ${checksBlock(d)}
  <div class="ladder-wrap">${ladderSvg(d)}</div>
  ${
    d.packets.length === 0 && d.totalPackets > 0
      ? html`<p class="muted">No ladder stored for this flow: analysis.json keeps the ladders of the flows <code>hoptrace analyze</code> details; the Wireshark export below has all its packets.</p>`
      : d.packets.length < d.totalPackets
        ? html`<p class="muted">Ladder: the first ${d.packets.length} of ${d.totalPackets} packets.</p>`
        : ''
  }
  <div class="commands"><span>Wireshark</span><code>${d.exportCommand}</code><span>SQL</span><code>${d.sqlCommand}</code></div>
</article>`;
}

function latencySection(m: ReportModel): SafeHtml {
  const datapaths = new Set(m.latency.flatMap((g) => g.series.map((s) => s.datapath)));
  return html`<section id="latency"><h2>Per-hop latency</h2>
  ${datapaths.has('ebpf') && datapaths.has('kernel') ? html`<p class="muted">eBPF and kernel paths both occur: each hop kind shows both.</p>` : ''}
  ${latencyChart(m.latency)}</section>`;
}

const LEGEND = html`<div class="legend"><span><i style="border-color:var(--req)"></i>request</span>
  <span><i style="border-color:var(--rep)"></i>reply</span><span><i style="border-color:var(--fail);border-top-width:3px"></i>unexpected hop</span>
  <span><i style="border-color:var(--bypass);border-top-style:dashed"></i>bypassed lane (fast path skipped it)</span>
  <span><i style="border-color:#cbd5e1;border-top-style:dotted"></i>not captured</span>
  <span style="color:var(--nat);font-weight:600">a.b.c.d:p -&gt; w.x.y.z:q</span><span>address rewritten on that hop</span></div>`;

export function renderReportHtml(m: ReportModel): string {
  const index = m.flows.map((f) => [f.id, f.status, f.scenario, f.search]);
  const scriptHash = createHash('sha256').update(FILTER_SCRIPT).digest('base64');
  const csp = `default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-${scriptHash}'; base-uri 'none'; form-action 'none'`;
  const c = m.statusCounts;
  const page = html`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${m.title}: ${m.bundle.dir}</title>
<style>${raw(STYLES)}</style></head>
<body data-evaluated="${m.evaluated ? 'yes' : 'no'}">
${ladderDefs()}
<header class="top"><h1>${m.title}</h1><span class="bundle">${m.bundle.dir}</span>
  <span class="counts">${
    m.evaluated
      ? html`<button type="button" class="pill st-fail" data-set-status="fail">${c.fail} fail</button><button type="button" class="pill st-inconclusive" data-set-status="inconclusive">${c.inconclusive} inconclusive</button><button type="button" class="pill st-pass" data-set-status="pass">${c.pass} pass</button>`
      : html`<span class="pill st-not-evaluated">${m.sampling.total} flows · not evaluated</span>`
  }</span></header>
<main>
${summarySection(m)}
${scenarioSection(m)}
${latencySection(m)}
${flowsSection(m)}
<section id="details"><h2>Flow details</h2>${LEGEND}
${m.details.map(flowArticle)}
</section>
<footer>hoptrace report · everything is in this file: no network access · ladder bands are per packet, offsets inside a band are to scale</footer>
</main>
<script type="application/json" id="report-data">${raw(jsonForScript({ flows: index, evaluated: m.evaluated, sampling: m.sampling, window: TABLE_WINDOW }))}</script>
<script>${raw(FILTER_SCRIPT)}</script>
</body></html>
`;
  return page.value;
}
