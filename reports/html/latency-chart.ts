/**
 * Per-hop latency distributions as SVG box plots, one row per hop kind (veth -> ENI, ENI -> ENI across
 * the VPC, ENI -> pod...) and one box per datapath (eBPF against kernel when both occur). A sample is
 * one flow's median over its packets for that hop. The axis is logarithmic: hop latencies span
 * from below the captures' microsecond resolution to milliseconds. Zero (below resolution) is drawn at
 * the axis floor and said so.
 */
import type { LatencyGroup } from '../report-model.ts';
import { html, type SafeHtml } from './escape.ts';
import { formatNs } from './format.ts';

const LEFT = 250;
const PLOT_W = 560;
const RIGHT = 150;
const ROW = 22;
const GROUP_GAP = 14;
const TOP = 26;
const MAX_DOTS = 200;

const quantile = (sorted: number[], q: number): number => {
  if (sorted.length === 0) return 0;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
};

const seriesClass = (datapath: string) => `dp dp-${datapath.replace(/[^a-z]/g, '') || 'unknown'}`;

export function latencyChart(groups: LatencyGroup[]): SafeHtml {
  // one sample per flow and hop: loops, not spread arguments (a large bundle has more than a call takes)
  let samples = 0;
  let minPositive = 100;
  let maxSample = 10;
  let zero = false;
  for (const g of groups)
    for (const s of g.series)
      for (const v of s.samples) {
        samples++;
        if (v > 0 && v < minPositive) minPositive = v;
        if (v > maxSample) maxSample = v;
        if (v === 0) zero = true;
      }
  if (samples === 0) return html`<p class="muted">No hop was seen at two capture points: no latencies.</p>`;
  const lo = Math.floor(Math.log10(minPositive));
  const hi = Math.max(lo + 2, Math.ceil(Math.log10(maxSample)));
  const x = (v: number) => LEFT + ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * PLOT_W;
  let y = TOP;
  const rows: SafeHtml[] = [];
  for (const g of groups) {
    const top = y;
    const series = g.series.map((s) => {
      const cy = y + ROW / 2;
      y += ROW;
      const q1 = quantile(s.samples, 0.25);
      const med = quantile(s.samples, 0.5);
      const q3 = quantile(s.samples, 0.75);
      const min = s.samples[0] ?? 0;
      const max = s.samples.at(-1) ?? 0;
      const step = Math.max(1, Math.ceil(s.samples.length / MAX_DOTS));
      const dots = s.samples.filter((_, i) => i % step === 0);
      return html`<g class="${seriesClass(s.datapath)}" data-hop-kind="${g.hopKind}" data-datapath="${s.datapath}">
        <title>${g.hopKind}, ${s.datapath}: ${s.flows} flows; min ${formatNs(min)}, median ${formatNs(med)}, max ${formatNs(max)}</title>
        <text class="series-label" x="${LEFT - 8}" y="${cy + 4}">${s.datapath}</text>
        <line class="whisker" x1="${x(min).toFixed(1)}" x2="${x(max).toFixed(1)}" y1="${cy}" y2="${cy}"/>
        <rect class="box" x="${x(q1).toFixed(1)}" y="${cy - 6}" width="${Math.max(1.5, x(q3) - x(q1)).toFixed(1)}" height="12"/>
        ${dots.map((v, i) => html`<circle class="sample" cx="${x(v).toFixed(1)}" cy="${(cy + ((i % 5) - 2) * 1.6).toFixed(1)}" r="1.6"/>`)}
        <line class="median" x1="${x(med).toFixed(1)}" x2="${x(med).toFixed(1)}" y1="${cy - 7}" y2="${cy + 7}"/>
        <text class="series-stat" x="${LEFT + PLOT_W + 10}" y="${cy + 4}">median ${formatNs(med)} · ${s.flows} flows</text>
      </g>`;
    });
    rows.push(html`<g class="hop-group">
      <text class="group-label" x="6" y="${top + ROW / 2 + 4}">${g.hopKind}</text>
      <line class="group-rule" x1="0" x2="${LEFT + PLOT_W + RIGHT}" y1="${top - GROUP_GAP / 2}" y2="${top - GROUP_GAP / 2}"/>
      ${series}
    </g>`);
    y += GROUP_GAP;
  }
  const ticks: SafeHtml[] = [];
  for (let e = lo; e <= hi; e++) {
    const tx = x(10 ** e);
    ticks.push(html`<line class="grid" x1="${tx}" x2="${tx}" y1="${TOP - 8}" y2="${y - GROUP_GAP}"/>
      <text class="tick" x="${tx}" y="${TOP - 12}">${formatNs(10 ** e)}</text>`);
  }
  const height = y + 30;
  const width = LEFT + PLOT_W + RIGHT;
  const floorNote = zero ? `0 (below the capture's resolution) is drawn at ${formatNs(10 ** lo)}` : '';
  return html`<svg class="latency-chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img"
    aria-label="per-hop latency by hop kind and datapath" xmlns="http://www.w3.org/2000/svg">
    ${ticks}${rows}
    <text class="chart-note" x="${LEFT}" y="${height - 16}">box: quartiles · line: min..max · tick: median · dot: one flow's median latency on that hop (log scale)</text>
    ${floorNote ? html`<text class="chart-note" x="${LEFT}" y="${height - 3}">${floorNote}</text>` : ''}
  </svg>`;
}
