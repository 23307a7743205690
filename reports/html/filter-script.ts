/**
 * The page's only script: filtering and search over flows. It reads the flow index from the JSON data
 * element (never from markup), and shows or hides table rows and flow details by id through the
 * `hidden` attribute, so a filtered page prints what is shown. It runs in the browser, so it is written
 * as plain ES2020 text; the page allows it by its hash (Content-Security-Policy), nothing else runs.
 * Index entries: `[id, status, scenario, searchText]`.
 */
export const FILTER_SCRIPT = `(() => {
  'use strict';
  const data = JSON.parse(document.getElementById('report-data').textContent);
  const flows = data.flows;
  const q = document.getElementById('flow-search');
  const scenario = document.getElementById('flow-scenario');
  const status = document.getElementById('flow-status');
  const count = document.getElementById('flow-count');
  const rows = new Map();
  for (const tr of document.querySelectorAll('tr[data-flow]')) rows.set(tr.dataset.flow, tr);
  const details = new Map();
  for (const el of document.querySelectorAll('article[data-flow]')) details.set(el.dataset.flow, el);
  let pending = 0;
  function apply() {
    pending = 0;
    const terms = q.value.toLowerCase().split(/\\s+/).filter(Boolean);
    const sc = scenario.value;
    const st = status.value;
    let shown = 0;
    let shownDetails = 0;
    for (const f of flows) {
      const ok = (sc === '' || f[2] === sc) && (st === '' || f[1] === st) && terms.every((t) => f[3].includes(t));
      const id = String(f[0]);
      const tr = rows.get(id);
      if (tr && tr.hidden === ok) tr.hidden = !ok;
      const el = details.get(id);
      if (el) {
        if (el.hidden === ok) el.hidden = !ok;
        if (ok) shownDetails++;
      }
      if (ok) shown++;
    }
    count.textContent = shown + ' of ' + flows.length + ' flows shown, ' + shownDetails + ' with details';
    document.body.dataset.filtered = shown === flows.length ? 'no' : 'yes';
  }
  const schedule = () => { if (!pending) pending = requestAnimationFrame(apply); };
  q.addEventListener('input', schedule);
  scenario.addEventListener('change', apply);
  status.addEventListener('change', apply);
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
