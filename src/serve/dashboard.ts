/**
 * The dashboard: one self-contained page (no build step, no framework, no dependency), served at
 * `/`. It reads the JSON API and the `/events` stream (through `fetch`, so that a bearer token can
 * go with it), and writes through the API with the token the user gives (`#token=...` in the URL,
 * kept in the tab's sessionStorage, never sent anywhere but the Authorization header).
 * Embedded as a string so that it ships inside the compiled package.
 */
const script = String.raw`
'use strict';
const $ = (sel) => document.querySelector(sel);
const h = (tag, attrs, ...children) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
};
const svg = (tag, attrs, ...children) => {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
};

const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
if (fromHash) { sessionStorage.setItem('skein-token', fromHash); history.replaceState(null, '', location.pathname); }
const token = () => sessionStorage.getItem('skein-token') || '';
const headers = (json) => { const out = {}; if (token()) out.authorization = 'Bearer ' + token(); if (json) out['content-type'] = 'application/json'; return out; };

async function api(path, init) {
  const res = await fetch(path, { ...init, headers: headers(init && init.body !== undefined) });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = body.error || { code: 'http_' + res.status, message: res.statusText };
    const detail = (e.details || []).map((d) => d.path + ': ' + d.message).join('; ');
    throw new Error(e.code + ': ' + e.message + (detail ? ' (' + detail + ')' : ''));
  }
  return body;
}
const post = (path, body) => api(path, { method: 'POST', body: JSON.stringify(body || {}) });

function notice(text, error) {
  const el = $('#notice');
  el.textContent = text;
  el.className = error ? 'error' : 'ok';
}

// ---- the agent graph
let graph = { agents: [], types: [] };
function layout(g) {
  const producers = new Map();
  for (const a of g.agents) for (const t of a.publishes) (producers.get(t) || producers.set(t, []).get(t)).push(a.name);
  const rank = new Map();
  for (const t of g.types) rank.set('t:' + t, 0);
  for (const a of g.agents) rank.set('a:' + a.name, 1);
  for (let i = 0; i < 2 * (g.agents.length + g.types.length) + 2; i++) {
    let changed = false;
    for (const a of g.agents) {
      const r = Math.max(0, ...a.consumes.flat().map((t) => rank.get('t:' + t) || 0)) + 1;
      if (r > rank.get('a:' + a.name) && r < 64) { rank.set('a:' + a.name, r); changed = true; }
    }
    for (const t of g.types) {
      const r = Math.max(0, ...(producers.get(t) || []).map((p) => rank.get('a:' + p) || 0)) + 1;
      if ((producers.get(t) || []).length > 0 && r > rank.get('t:' + t) && r < 64) { rank.set('t:' + t, r); changed = true; }
    }
    if (!changed) break;
  }
  const columns = new Map();
  for (const [key, r] of rank) (columns.get(r) || columns.set(r, []).get(r)).push(key);
  const pos = new Map();
  const order = [...columns.keys()].sort((x, y) => x - y);
  order.forEach((r, ci) => columns.get(r).forEach((key, ri) => pos.set(key, { x: 20 + ci * 190, y: 20 + ri * 84 })));
  const width = 40 + order.length * 190;
  const height = 40 + Math.max(1, ...[...columns.values()].map((c) => c.length)) * 84;
  return { pos, width, height };
}
function drawGraph() {
  const box = $('#graph');
  const { pos, width, height } = layout(graph);
  const root = svg('svg', { width, height, viewBox: '0 0 ' + width + ' ' + height, role: 'img', 'aria-label': 'agent graph' });
  root.append(svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto' }, svg('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#7a869a' }))));
  const edge = (from, to) => {
    const a = pos.get(from), b = pos.get(to);
    if (!a || !b) return;
    root.append(svg('line', { x1: a.x + 150, y1: a.y + 30, x2: b.x, y2: b.y + 30, stroke: '#7a869a', 'marker-end': 'url(#arrow)' }));
  };
  for (const a of graph.agents) {
    for (const t of new Set(a.consumes.flat())) edge('t:' + t, 'a:' + a.name);
    for (const t of a.publishes) edge('a:' + a.name, 't:' + t);
  }
  for (const t of graph.types) {
    const p = pos.get('t:' + t);
    root.append(svg('g', { 'data-type': t }, svg('rect', { x: p.x, y: p.y + 12, rx: 18, width: 150, height: 36, fill: '#eef4ff', stroke: '#5b7bd5' }), svg('text', { x: p.x + 75, y: p.y + 35, 'text-anchor': 'middle', class: 'type' }, t)));
  }
  for (const a of graph.agents) {
    const p = pos.get('a:' + a.name);
    const s = a.stats || {};
    const counts = 'q ' + s.queued + ' · r ' + s.running + ' · ✓ ' + s.done + ' · ✗ ' + s.failed + ' · ↻ ' + s.retries;
    root.append(svg('g', { 'data-agent': a.name, 'data-done': s.done, 'data-queued': s.queued, 'data-running': s.running, 'data-failed': s.failed },
      svg('rect', { x: p.x, y: p.y, rx: 6, width: 150, height: 60, fill: s.running > 0 ? '#fff6d6' : '#ffffff', stroke: '#333' }),
      svg('text', { x: p.x + 75, y: p.y + 24, 'text-anchor': 'middle', class: 'agent' }, a.name),
      svg('text', { x: p.x + 75, y: p.y + 46, 'text-anchor': 'middle', class: 'counts' }, counts)));
  }
  box.replaceChildren(root);
  $('#published').textContent = String(graph.published);
  $('#idle').textContent = graph.idle ? 'idle' : 'working';
}
async function refreshGraph() {
  graph = await api('api/graph');
  drawGraph();
}

// ---- artifacts, with their lineage
const artifacts = [];
const seen = new Set();
function renderArtifact(a) {
  return h('li', { 'data-artifact': a.id, 'data-type': a.type, id: 'artifact-' + a.id },
    h('div', { class: 'head' }, h('b', {}, a.type), ' ', h('code', {}, a.id), ' by ', h('i', {}, a.producedBy), ' in ',
      h('a', { href: '#', onclick: (e) => { e.preventDefault(); $('#wf-id').value = a.correlationId; showWorkflow(); } }, a.correlationId)),
    a.causedBy.length ? h('div', { class: 'lineage' }, 'caused by ', a.causedBy.map((id) => h('a', { href: '#artifact-' + id, class: 'cause', onclick: () => highlight(id) }, id))) : null,
    h('pre', {}, JSON.stringify(a.payload, null, 1)));
}
function highlight(id) {
  for (const el of document.querySelectorAll('.highlight')) el.classList.remove('highlight');
  const el = document.getElementById('artifact-' + id);
  if (el) el.classList.add('highlight');
}
function addArtifact(a) {
  if (seen.has(a.id)) return;
  seen.add(a.id);
  artifacts.unshift(a);
  const list = $('#artifacts');
  list.prepend(renderArtifact(a));
  while (artifacts.length > 200) { const gone = artifacts.pop(); seen.delete(gone.id); list.lastElementChild && list.lastElementChild.remove(); }
}
async function loadArtifacts() {
  let cursor = null, page;
  const all = [];
  do { page = await api('api/artifacts?limit=500' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : '')); all.push(...page.artifacts); cursor = page.nextCursor; } while (cursor && all.length < 5000);
  for (const a of all.slice(-200)) addArtifact(a);
}

// ---- runs, dead letters, workflows
async function refreshRuns() {
  const { runs } = await api('api/runs?limit=50');
  $('#runs').replaceChildren(...runs.reverse().map((r) => h('tr', { 'data-run': r.id, 'data-state': r.state },
    h('td', {}, r.agent), h('td', {}, r.state), h('td', {}, r.durationMs === undefined ? '' : r.durationMs + ' ms'), h('td', {}, r.correlationId), h('td', { class: 'err' }, r.error || ''))));
}
async function refreshDeadLetters() {
  const { deadLetters } = await api('api/dead-letters?limit=100');
  $('#dead-letters').replaceChildren(...deadLetters.map((d) => h('tr', { 'data-dead-letter': d.id },
    h('td', {}, d.run.agent), h('td', {}, d.attempts), h('td', { class: 'err' }, d.error.name + ': ' + d.error.message), h('td', {}, d.failedAt),
    h('td', {}, h('button', { 'data-replay': d.id, onclick: async () => { try { await post('api/dead-letters/' + encodeURIComponent(d.id) + '/replay'); notice('replayed ' + d.id); refreshDeadLetters(); } catch (e) { notice(e.message, true); } } }, 'Replay')))));
}
async function showWorkflow() {
  const id = $('#wf-id').value.trim();
  if (!id) return;
  try {
    const { workflow } = await api('api/workflows/' + encodeURIComponent(id));
    $('#wf-state').textContent = workflow.state + ' · queued ' + workflow.pending.queued + ' · paused ' + workflow.pending.paused + ' · running ' + workflow.pending.running;
    $('#wf-state').dataset.state = workflow.state;
  } catch (e) { notice(e.message, true); }
}
async function control(action) {
  const id = $('#wf-id').value.trim();
  if (!id) return notice('enter a correlation id', true);
  try { const { workflow } = await post('api/workflows/' + encodeURIComponent(id) + '/' + action); notice(action + ': ' + workflow.id + ' is ' + workflow.state); await showWorkflow(); } catch (e) { notice(e.message, true); }
}

// ---- the publish form, from the type's JSON Schema when it has one
let types = [];
function fieldFor(name, schema, required) {
  const t = schema && schema.type;
  const input = Array.isArray(schema && schema.enum)
    ? h('select', { name }, schema.enum.map((v) => h('option', { value: JSON.stringify(v) }, String(v))))
    : t === 'boolean' ? h('input', { name, type: 'checkbox' })
    : h('input', { name, type: t === 'number' || t === 'integer' ? 'number' : 'text', step: t === 'integer' ? '1' : 'any', required: required });
  input.dataset.kind = Array.isArray(schema && schema.enum) ? 'enum' : t || 'json';
  return h('label', {}, name + (required ? ' *' : ''), input);
}
function renderForm() {
  const type = types.find((t) => t.name === $('#pub-type').value);
  const s = type && type.jsonSchema;
  const fields = $('#pub-fields');
  const simple = s && s.type === 'object' && s.properties && Object.values(s.properties).every((p) => ['string', 'number', 'integer', 'boolean'].includes(p.type) || Array.isArray(p.enum));
  fields.dataset.mode = simple ? 'form' : 'json';
  if (simple) fields.replaceChildren(...Object.entries(s.properties).map(([k, p]) => fieldFor(k, p, (s.required || []).includes(k))));
  else fields.replaceChildren(h('label', {}, 'payload (JSON)' + (s ? ' — schema: ' + JSON.stringify(s).slice(0, 200) : ''), h('textarea', { name: '$json', rows: 5 }, s && s.type === 'object' ? '{}' : '""')));
}
function readForm() {
  const fields = $('#pub-fields');
  if (fields.dataset.mode === 'json') return JSON.parse(fields.querySelector('textarea').value);
  const out = {};
  for (const el of fields.querySelectorAll('input, select')) {
    const k = el.dataset.kind;
    if (k === 'boolean') out[el.name] = el.checked;
    else if (k === 'enum') out[el.name] = JSON.parse(el.value);
    else if (el.value === '') continue;
    else if (k === 'number' || k === 'integer') out[el.name] = Number(el.value);
    else out[el.name] = el.value;
  }
  return out;
}
async function publish(e) {
  e.preventDefault();
  try {
    const body = { type: $('#pub-type').value, payload: readForm() };
    const cid = $('#pub-cid').value.trim();
    if (cid) body.correlationId = cid;
    const { artifact } = await post('api/artifacts', body);
    addArtifact(artifact);
    notice('published ' + artifact.type + ' ' + artifact.id);
  } catch (err) { notice(err.message, true); }
}
async function loadTypes() {
  types = (await api('api/types')).types;
  $('#pub-type').replaceChildren(...types.map((t) => h('option', { value: t.name }, t.name)));
  renderForm();
}

// ---- the live stream (fetch, so the token can go with it), resumed from the last id it saw
let lastId = null, pending = false;
function schedule() {
  if (pending) return;
  pending = true;
  setTimeout(async () => { pending = false; try { await Promise.all([refreshGraph(), refreshRuns(), refreshDeadLetters()]); } catch (e) { notice(e.message, true); } }, 200);
}
async function onEvent(kind, data) {
  $('#status').textContent = 'live';
  if (kind === 'published') { try { const { artifact } = await api('api/artifacts/' + encodeURIComponent(data.artifactId)); addArtifact(artifact); } catch { /* not visible */ } }
  if (kind === 'lagged') { notice('the stream lagged (' + data.dropped + ' events dropped): reloading'); loadArtifacts(); }
  schedule();
}
async function stream() {
  for (;;) {
    try {
      const res = await fetch('events', { headers: { ...headers(false), ...(lastId ? { 'last-event-id': lastId } : {}) } });
      if (!res.ok || !res.body) throw new Error('events: ' + res.status);
      $('#status').textContent = 'live';
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
          let id = null, kind = 'message', data = '';
          for (const line of frame.split('\n')) {
            if (line.startsWith('id: ')) id = line.slice(4);
            else if (line.startsWith('event: ')) kind = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (id) lastId = id;
          if (data) await onEvent(kind, JSON.parse(data));
        }
      }
    } catch (e) { /* reconnects below */ }
    $('#status').textContent = 'reconnecting';
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function start() {
  $('#pub-type').addEventListener('change', renderForm);
  $('#publish').addEventListener('submit', publish);
  $('#wf-show').addEventListener('click', showWorkflow);
  for (const action of ['pause', 'resume', 'cancel']) $('#wf-' + action).addEventListener('click', () => control(action));
  $('#token').addEventListener('change', (e) => { sessionStorage.setItem('skein-token', e.target.value); notice('token set for this tab'); });
  try { await Promise.all([refreshGraph(), loadTypes(), loadArtifacts(), refreshRuns(), refreshDeadLetters()]); } catch (e) { notice(e.message, true); }
  document.body.dataset.ready = 'true';
  stream();
}
start();
`;

const style = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { display: flex; gap: 16px; align-items: center; padding: 10px 16px; background: #1d2330; color: #fff; }
header h1 { font-size: 16px; margin: 0; }
header input { margin-left: auto; }
main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 12px; padding: 12px; }
section { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: 10px 12px; overflow: auto; }
section h2 { font-size: 14px; margin: 0 0 8px; }
#graph-section { grid-column: 1 / -1; }
text.agent { font-weight: 600; font-size: 13px; } text.counts { font-size: 11px; fill: #444; } text.type { font-size: 12px; fill: #234; }
#artifacts { list-style: none; margin: 0; padding: 0; max-height: 420px; overflow: auto; }
#artifacts li { border-bottom: 1px solid #eee; padding: 4px 0; } #artifacts li.highlight { background: #fff6d6; }
#artifacts pre { margin: 2px 0 0; font-size: 12px; white-space: pre-wrap; max-height: 80px; overflow: auto; }
.lineage { font-size: 12px; color: #555; } .lineage a { margin-right: 6px; }
table { border-collapse: collapse; width: 100%; font-size: 12px; } td { border-bottom: 1px solid #eee; padding: 2px 4px; } .err { color: #b3261e; }
label { display: block; margin: 4px 0; } label input, label select, label textarea { display: block; width: 100%; box-sizing: border-box; }
#notice.error { color: #b3261e; } #notice.ok { color: #1b7a3a; }
`;

const body = `
<header><h1>skein board</h1><span id="status">connecting</span><span><span id="published">0</span> published · <span id="idle"></span></span>
<input id="token" type="password" placeholder="bearer token for writes" aria-label="bearer token"></header>
<p id="notice" role="status" style="margin: 8px 16px 0"></p>
<main>
<section id="graph-section"><h2>Agents</h2><div id="graph"></div></section>
<section><h2>Artifacts</h2><ul id="artifacts"></ul></section>
<section><h2>Publish</h2><form id="publish"><label>type<select id="pub-type"></select></label><div id="pub-fields"></div>
<label>correlation id (optional)<input id="pub-cid"></label><button type="submit">Publish</button></form>
<h2 style="margin-top:14px">Workflow</h2><label>correlation id<input id="wf-id"></label>
<button id="wf-show" type="button">Show</button> <button id="wf-pause" type="button">Pause</button> <button id="wf-resume" type="button">Resume</button> <button id="wf-cancel" type="button">Cancel</button>
<p id="wf-state"></p></section>
<section><h2>Runs</h2><table><tbody id="runs"></tbody></table></section>
<section><h2>Dead letters</h2><table><tbody id="dead-letters"></tbody></table></section>
</main>`;

/** The dashboard page. */
export const dashboardHtml = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>skein board</title><style>${style}</style></head>
<body>${body}<script type="module">${script}</script></body></html>
`;
