// The operator page: reads the silo's API with the operator's API key and draws matrices, drift and the rollout.
// Plain ES module, no build step; every value from the API is written with textContent, never as HTML.

const KEY_STORAGE = 'confusionmatrix.apiKey';
const MODELS_STORAGE = 'confusionmatrix.recentModels';
const WINDOWS = ['1h', '24h', '7d', 'all'];
const ACTION_ROLES = ['operator', 'admin'];

const $ = (id) => document.getElementById(id);

const state = {
  identity: null,   // {name, roles} from GET /api/v1/me, or null when the silo does not say
  model: null,      // the model catalogue from GET /api/v1/models/{model}
};

class ApiError extends Error {
  constructor(status, title, detail) {
    super(detail ? `${title}: ${detail}` : title);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const headers = { Accept: 'application/json', ...(options.headers ?? {}) };
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key) {
    headers['X-API-Key'] = key;
  }
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
  }
  const response = await fetch(`/api/v1/${path}`, {
    method: options.method ?? 'GET',
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const title = body?.title ?? `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, title, body?.detail ?? '');
  }
  return body;
}

const enc = encodeURIComponent;

function showStatus(message, isError = false) {
  const status = $('status');
  status.textContent = message;
  status.classList.toggle('error', isError);
}

function explain(error) {
  if (error instanceof ApiError && error.status === 401) {
    return 'The silo wants an API key: log in above.';
  }
  if (error instanceof ApiError && error.status === 403) {
    return `Your key lacks the role for this (${error.message}).`;
  }
  return error.message;
}

function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) {
    node.textContent = String(text);
  }
  for (const [name, value] of Object.entries(attributes)) {
    node.setAttribute(name, value);
  }
  return node;
}

function row(cells, cellTag = 'td') {
  const tr = document.createElement('tr');
  for (const cell of cells) {
    tr.append(cell instanceof Node ? cell : element(cellTag, cell));
  }
  return tr;
}

const percent = (x) => (x === null || x === undefined || Number.isNaN(x) ? '–' : `${(100 * x).toFixed(1)}%`);
const number = (x, digits = 3) => (x === null || x === undefined ? '–' : Number(x).toFixed(digits));
const when = (iso) => (iso ? new Date(iso).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '–');

function facts(list, entries) {
  list.replaceChildren();
  for (const [label, value, testid] of entries) {
    list.append(element('dt', label), element('dd', value, testid ? { 'data-testid': testid } : {}));
  }
}

// ---------------------------------------------------------------------------------------------
// login
// ---------------------------------------------------------------------------------------------

async function refreshIdentity() {
  const key = sessionStorage.getItem(KEY_STORAGE);
  $('logout').hidden = !key;
  if (!key) {
    state.identity = null;
    $('identity').textContent = 'not logged in';
    updateActionButtons();
    return;
  }
  try {
    state.identity = await api('me');
    $('identity').textContent = `${state.identity.name} (${(state.identity.roles ?? []).join(', ') || 'no roles'})`;
  } catch (error) {
    state.identity = null;
    if (error instanceof ApiError && error.status === 401) {
      sessionStorage.removeItem(KEY_STORAGE);
      $('logout').hidden = true;
      $('identity').textContent = 'key refused';
      showStatus('The silo refused that API key.', true);
    } else {
      // A silo without GET /api/v1/me (or with authentication off) still takes the key; it decides per request.
      $('identity').textContent = 'key set (roles not reported by this silo)';
    }
  }
  updateActionButtons();
}

function canAct() {
  // Unknown roles: offer the buttons and let the silo answer 403; known roles: offer only what they allow.
  const roles = state.identity?.roles;
  return !Array.isArray(roles) || roles.some((r) => ACTION_ROLES.includes(r));
}

function updateActionButtons() {
  const allowed = canAct();
  for (const button of document.querySelectorAll('[data-action]')) {
    button.disabled = !allowed;
    button.title = allowed ? '' : `needs one of the roles ${ACTION_ROLES.join(', ')}`;
  }
  $('rollout-roles').textContent = allowed ? '' : `Rollout actions need one of the roles ${ACTION_ROLES.join(', ')}.`;
}

// ---------------------------------------------------------------------------------------------
// model, versions and segments
// ---------------------------------------------------------------------------------------------

function rememberModel(name) {
  const recent = JSON.parse(sessionStorage.getItem(MODELS_STORAGE) ?? '[]').filter((m) => m !== name);
  recent.unshift(name);
  sessionStorage.setItem(MODELS_STORAGE, JSON.stringify(recent.slice(0, 20)));
  renderRecentModels();
}

function renderRecentModels() {
  const list = $('recent-models');
  list.replaceChildren(...JSON.parse(sessionStorage.getItem(MODELS_STORAGE) ?? '[]').map((m) => element('option', null, { value: m })));
}

async function openModel(name) {
  showStatus('');
  const catalogue = await api(`models/${enc(name)}`);
  state.model = catalogue;
  rememberModel(name);
  const definition = catalogue.definition;
  $('model-classes').textContent = definition.classes.join(', ');
  $('model-positive').textContent = definition.positiveClass ?? '–';

  const versions = Object.keys(catalogue.versions).sort();
  const body = $('versions-body');
  body.replaceChildren(...versions.map((v) => {
    const tr = row([element('td', v, { class: 'text' }), element('td', catalogue.versions[v].join(', '), { class: 'text' })]);
    tr.dataset.testid = `version-${v}`;
    return tr;
  }));
  const select = $('version-select');
  select.replaceChildren(...versions.map((v) => element('option', v, { value: v })));
  fillSegments();
  $('model-info').hidden = false;
  if (versions.length === 0) {
    showStatus(`Model ${name} has no predictions yet.`);
  }

  await Promise.all([loadDrift(), loadRollout()]);
}

function fillSegments() {
  const version = $('version-select').value;
  const segments = state.model?.versions?.[version] ?? [];
  $('segment-select').replaceChildren(...segments.map((s) => element('option', s, { value: s })));
}

// ---------------------------------------------------------------------------------------------
// matrix: heatmap normalised by row, per-class metrics over every window, label coverage
// ---------------------------------------------------------------------------------------------

function matrixPath(version, segment, window) {
  return `models/${enc(state.model.definition.model)}/versions/${enc(version)}/segments/${enc(segment)}/matrix?window=${enc(window)}`;
}

async function openMatrix() {
  showStatus('');
  const version = $('version-select').value;
  const segment = $('segment-select').value;
  const window = $('window-select').value;
  const all = await Promise.all(WINDOWS.map((w) => api(matrixPath(version, segment, w))));
  const byWindow = Object.fromEntries(WINDOWS.map((w, i) => [w, all[i]]));
  const matrix = byWindow[window];
  $('matrix-title').textContent = `${matrix.model} ${matrix.version} · ${matrix.segment} · window ${matrix.window}`;
  $('matrix-total').textContent = matrix.total;
  $('matrix-asof').textContent = when(matrix.asOf);
  drawHeatmap(matrix);
  drawClassMetrics(matrix.classes, byWindow);
  drawLabelCoverage(matrix.labels);
  $('matrix-section').hidden = false;
}

function heat(share) {
  // White to deep blue; the text turns white where the cell is dark.
  const lightness = 97 - 62 * share;
  return `hsl(214 70% ${lightness}%)`;
}

function drawHeatmap(matrix) {
  const table = $('heatmap');
  table.replaceChildren();
  const head = document.createElement('thead');
  head.append(row([element('th', 'actual \\ predicted', { class: 'text' }), ...matrix.classes.map((c) => element('th', c))], 'th'));
  const body = document.createElement('tbody');
  matrix.counts.forEach((counts, a) => {
    const actual = matrix.classes[a];
    const rowTotal = counts.reduce((s, c) => s + c, 0);
    const cells = counts.map((count, p) => {
      const predicted = matrix.classes[p];
      const share = rowTotal === 0 ? null : count / rowTotal;
      const td = element('td', share === null ? '–' : percent(share), {
        'data-testid': `cell-${actual}-${predicted}`,
        'data-count': String(count),
        'data-share': share === null ? '' : String(share),
        title: `actual ${actual}, predicted ${predicted}: ${count} of ${rowTotal}${share === null ? '' : ` (${percent(share)})`}`,
      });
      td.style.background = heat(share ?? 0);
      td.classList.toggle('dark', (share ?? 0) > 0.55);
      return td;
    });
    body.append(row([element('th', actual, { class: 'text', title: `${rowTotal} with actual ${actual}` }), ...cells]));
  });
  table.append(head, body);
}

function drawClassMetrics(classes, byWindow) {
  const table = $('class-metrics');
  table.replaceChildren();
  const head = document.createElement('thead');
  head.append(row([element('th', 'class', { class: 'text' }),
    ...WINDOWS.map((w) => element('th', `recall ${w}`)),
    ...WINDOWS.map((w) => element('th', `precision ${w}`))], 'th'));
  const body = document.createElement('tbody');
  for (const c of classes) {
    const cells = [element('th', c, { class: 'text' })];
    for (const metric of ['recall', 'precision']) {
      for (const w of WINDOWS) {
        const m = byWindow[w].metrics.perClass[c];
        // Without support (recall) or without predictions of the class (precision) the ratio is undefined.
        const defined = metric === 'recall' ? m.support > 0 : m.tp + m.fp > 0;
        cells.push(element('td', defined ? number(m[metric]) : '–', {
          'data-testid': `${metric}-${c}-${w}`,
          'data-value': defined ? String(m[metric]) : '',
          title: `${metric} of ${c} over ${w}: tp ${m.tp}, fp ${m.fp}, fn ${m.fn}, support ${m.support}`,
        }));
      }
    }
    body.append(row(cells));
  }
  table.append(head, body);
}

function drawLabelCoverage(labels) {
  const latency = labels.latency ?? {};
  const seconds = (s) => (s === null || s === undefined ? '–' : `${Number(s).toFixed(1)} s`);
  facts($('label-coverage'), [
    ['coverage', percent(labels.coverage), 'coverage-ratio'],
    ['labelled', labels.labelled, 'coverage-labelled'],
    ['waiting for a label', labels.pending, 'coverage-pending'],
    ['label never came', labels.expired, 'coverage-expired'],
    ['label latency p50 / p90 / p99', `${seconds(latency.p50Seconds)} / ${seconds(latency.p90Seconds)} / ${seconds(latency.p99Seconds)}`, 'coverage-latency'],
  ]);
}

// ---------------------------------------------------------------------------------------------
// drift verdicts
// ---------------------------------------------------------------------------------------------

async function loadDrift() {
  const report = await api(`models/${enc(state.model.definition.model)}/drift`);
  $('drift-summary').textContent = `${report.evaluations} evaluations, last ${when(report.lastEvaluatedAt)}; `
    + `alpha ${report.policy.alpha}, minimum drop recall ${report.policy.minRecallDrop} / precision ${report.policy.minPrecisionDrop}, severe ${report.policy.severeDrop}.`;
  const table = $('drift-verdicts');
  table.replaceChildren();
  const head = document.createElement('thead');
  head.append(row(['version', 'segment', 'decision', 'reference', 'live / reference n', 'KL', 'p (omnibus)',
    'per class: reference → live (drop; always-valid p vs threshold)', 'reason'].map((t) => element('th', t))));
  const body = document.createElement('tbody');
  for (const v of report.verdicts ?? []) {
    const deltas = element('td', null, { class: 'text deltas' });
    for (const d of v.classDeltas ?? []) {
      const flag = d.significant && d.material ? ' ⚠' : '';
      deltas.append(element('div', `${d.metric} ${d.class}: ${number(d.reference)} → ${number(d.live)} `
        + `(drop ${number(d.drop)}; p ${number(d.alwaysValidPValue, 4)} vs ${number(d.threshold, 4)}; n ${d.referenceDenominator}/${d.liveDenominator})${flag}`));
    }
    const tr = row([
      element('td', v.version, { class: 'text' }),
      element('td', v.segment, { class: 'text' }),
      element('td', v.decision, { class: `text decision-${v.decision}`, 'data-testid': `decision-${v.version}-${v.segment}` }),
      element('td', v.reference, { class: 'text' }),
      element('td', `${v.liveTotal} / ${v.referenceTotal}`),
      element('td', number(v.kl, 4)),
      element('td', number(v.omnibusAdjustedPValue, 4)),
      deltas,
      element('td', v.reason, { class: 'text reason' }),
    ]);
    tr.dataset.testid = `verdict-${v.version}-${v.segment}`;
    body.append(tr);
  }
  table.append(head, body);
  $('drift-section').hidden = false;
}

// ---------------------------------------------------------------------------------------------
// rollout
// ---------------------------------------------------------------------------------------------

async function loadRollout() {
  const view = await api(`models/${enc(state.model.definition.model)}/rollout`);
  drawRollout(view);
}

function drawRollout(view) {
  const r = view.routing;
  facts($('rollout-state'), [
    ['phase', r.phase, 'rollout-phase'],
    ['stable', r.stable ?? '–', 'rollout-stable'],
    ['canary', r.canary ?? '–', 'rollout-canary'],
    ['canary weight', `${r.canaryWeightPercent}%`, 'rollout-weight'],
    ['previous stable', view.previousStable ?? '–'],
    ['promoted at', when(view.promotedAt)],
  ]);
  const table = $('rollout-history');
  table.replaceChildren();
  const head = document.createElement('thead');
  head.append(row(['#', 'at', 'action', 'actor', 'from', 'to', 'stable', 'canary', 'weight', 'reason'].map((t) => element('th', t))));
  const body = document.createElement('tbody');
  for (const t of [...(view.history ?? [])].reverse()) {
    const tr = row([t.sequence, when(t.at), t.action, t.actor, t.from, t.to, t.stable ?? '–', t.canary ?? '–', `${t.canaryWeightPercent}%`, t.reason]
      .map((x, i) => element('td', x, i >= 2 ? { class: 'text' } : {})));
    tr.dataset.testid = `history-${t.sequence}`;
    body.append(tr);
  }
  table.append(head, body);
  $('rollout-section').hidden = false;
  updateActionButtons();
}

function askReason(action) {
  const dialog = $('reason-dialog');
  $('reason-question').textContent = `${action} the rollout of ${state.model.definition.model}: why?`;
  $('reason-input').value = '';
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      const reason = $('reason-input').value.trim();
      resolve(dialog.returnValue === 'confirm' && reason ? reason : null);
    }, { once: true });
    dialog.showModal();
  });
}

async function act(action) {
  const reason = await askReason(action);
  if (!reason) {
    showStatus(`${action}: cancelled (a reason is required).`);
    return;
  }
  const view = await api(`models/${enc(state.model.definition.model)}/rollout/${enc(action)}`, {
    method: 'POST',
    body: { reason, actor: state.identity?.name ?? undefined },
  });
  drawRollout(view);
  showStatus(`${action} done: phase ${view.routing.phase}.`);
}

// ---------------------------------------------------------------------------------------------
// wiring
// ---------------------------------------------------------------------------------------------

function guarded(handler) {
  return async (event) => {
    event?.preventDefault?.();
    try {
      await handler(event);
    } catch (error) {
      showStatus(explain(error), true);
    }
  };
}

$('login').addEventListener('submit', guarded(async () => {
  const key = $('api-key').value.trim();
  if (key) {
    sessionStorage.setItem(KEY_STORAGE, key);
  }
  $('api-key').value = '';
  showStatus('');
  await refreshIdentity();
  if (state.model) {
    await openModel(state.model.definition.model);
  }
}));
$('logout').addEventListener('click', guarded(async () => {
  sessionStorage.removeItem(KEY_STORAGE);
  await refreshIdentity();
}));
$('model-form').addEventListener('submit', guarded(() => openModel($('model-input').value.trim())));
$('version-select').addEventListener('change', fillSegments);
$('matrix-form').addEventListener('submit', guarded(openMatrix));
for (const button of document.querySelectorAll('[data-action]')) {
  button.addEventListener('click', guarded(() => act(button.dataset.action)));
}

renderRecentModels();
await refreshIdentity();
const requested = new URLSearchParams(location.search).get('model');
if (requested) {
  $('model-input').value = requested;
  await guarded(() => openModel(requested))();
}
document.body.dataset.ready = 'true';
