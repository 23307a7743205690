/**
 * The page's only script: filtering and search over flows. It reads the flow index from the JSON data
 * element (never from markup); the table holds the first `window` matching rows (more on request) and
 * flow details are shown or hidden by id through the `hidden` attribute, so a filtered page prints
 * what is shown. It runs in the browser, so it is written
 * as plain ES2020 text; the page allows it by its hash (Content-Security-Policy), nothing else runs.
 * Index entries: `[id, status, scenario, searchText]`.
 */
export const FILTER_SCRIPT = `(() => {
  'use strict';
  const data = JSON.parse(document.getElementById('report-data').textContent);
  const flows = data.flows;
  const WINDOW = data.window;
  const q = document.getElementById('flow-search');
  const scenario = document.getElementById('flow-scenario');
  const status = document.getElementById('flow-status');
  const count = document.getElementById('flow-count');
  const more = document.getElementById('flow-more');
  const tbody = document.querySelector('#flow-table tbody');
  // rows live in the table (small reports) or in an inert <template> (large ones: never laid out
  // until shown); either way they are the server's escaped markup, only moved, never rebuilt
  const rows = new Map();
  const template = document.getElementById('flow-rows');
  for (const root of [tbody, template ? template.content : null])
    if (root) for (const tr of root.querySelectorAll('tr[data-flow]')) rows.set(tr.dataset.flow, tr);
  const details = new Map();
  for (const el of document.querySelectorAll('article[data-flow]')) details.set(el.dataset.flow, el);
  let matching = [];
  let shownRows = 0;
  let pending = 0;
  function showRows(upTo) {
    // only a window of the matching rows is in the table: layout cost stays bounded at any flow count
    const end = Math.min(upTo, matching.length);
    const add = [];
    for (let i = shownRows; i < end; i++) add.push(rows.get(matching[i]));
    if (shownRows === 0) tbody.replaceChildren(...add);
    else tbody.append(...add);
    shownRows = end;
    const rest = matching.length - shownRows;
    more.hidden = rest <= 0;
    more.textContent = 'show ' + Math.min(WINDOW, rest) + ' more rows (' + rest + ' not shown)';
  }
  function apply() {
    pending = 0;
    const terms = q.value.toLowerCase().split(/\\s+/).filter(Boolean);
    const sc = scenario.value;
    const st = status.value;
    let shownDetails = 0;
    matching = [];
    for (const f of flows) {
      const ok = (sc === '' || f[2] === sc) && (st === '' || f[1] === st) && terms.every((t) => f[3].includes(t));
      const id = String(f[0]);
      if (ok) matching.push(id);
      const el = details.get(id);
      if (el) {
        if (el.hidden === ok) el.hidden = !ok;
        if (ok) shownDetails++;
      }
    }
    shownRows = 0;
    showRows(WINDOW);
    count.textContent = matching.length + ' of ' + flows.length + ' flows shown, ' + shownDetails + ' with details' +
      (matching.length > shownRows ? ' (table: first ' + shownRows + ')' : '');
    document.body.dataset.filtered = matching.length === flows.length ? 'no' : 'yes';
  }
  const schedule = () => { if (!pending) pending = requestAnimationFrame(apply); };
  q.addEventListener('input', schedule);
  scenario.addEventListener('change', apply);
  status.addEventListener('change', apply);
  more.addEventListener('click', () => showRows(shownRows + WINDOW));
  for (const a of document.querySelectorAll('[data-set-scenario], [data-set-status]')) {
    a.addEventListener('click', () => {
      if (a.dataset.setScenario !== undefined) scenario.value = a.dataset.setScenario;
      if (a.dataset.setStatus !== undefined) status.value = a.dataset.setStatus;
      apply();
    });
  }
  document.getElementById('flow-reset').addEventListener('click', () => {
    q.value = ''; scenario.value = ''; status.value = ''; apply();
  });
  window.hoptraceFilter = { apply, flows: flows.length };
  apply();
})();`;
