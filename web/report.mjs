// Rendering of a model (inspect), of a quantization report (facts, tensor tables, the
// bits-per-layer chart in SVG, the coherence check) and of an importance analysis (per-layer
// charts, super weights). Pure DOM building from the jobs' JSON; no state.

export function formatBytes(n) {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

export function formatCount(n) {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

export function formatSeconds(s) {
  if (s === null || !Number.isFinite(s)) return '–';
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${s.toFixed(1)} s`;
}

function element(tag, attributes = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

export function renderFacts(dl, facts) {
  dl.replaceChildren(...facts.map(([label, value]) => {
    const div = element('div');
    div.append(element('dt', {}, label), element('dd', {}, value));
    return div;
  }));
}

/** Rows of a tensor table; with `reasons` a last column says why the type was chosen. */
export function renderTensorTable(tbody, tensors, { reasons = false } = {}) {
  const rows = tensors.map((t) => {
    const tr = element('tr');
    tr.append(
      element('td', { class: 'mono' }, t.name),
      element('td', { class: 'type' }, t.type),
      element('td', { class: 'mono' }, t.shape.join(' × ')),
      element('td', { class: 'num' }, formatBytes(t.bytes)),
      element('td', { class: 'num' }, t.bpw.toFixed(2)),
    );
    if (reasons) tr.append(element('td', { class: 'small muted' }, t.reason ?? ''));
    return tr;
  });
  tbody.replaceChildren(...rows);
}

// Embeddings first, the blocks in order, then what follows them.
function layerOrder(name) {
  if (name.startsWith('token_embd')) return [0, 0];
  const m = /^blk\.(\d+)$/.exec(name);
  if (m) return [1, Number(m[1])];
  return [2, name.startsWith('output_norm') ? 0 : 1];
}

function shortLabel(name) {
  if (name.startsWith('token_embd')) return 'embd';
  const m = /^blk\.(\d+)$/.exec(name);
  if (m) return m[1];
  if (name.startsWith('output_norm')) return 'norm';
  if (name.startsWith('output')) return 'out';
  return name.replace(/\.weight$/, '').slice(0, 8);
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attributes = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// The layer a tensor belongs to, as layer_summary names it: blk.N, or the tensor itself.
export function layerOf(name) {
  const m = /^(blk\.\d+)\./.exec(name);
  return m ? m[1] : name;
}

// Colours of the types, from few bits (warm) to many (cool); the same type always gets the same
// colour, whatever else is in the file.
const TYPE_COLOURS = [
  ['iq1', '#b42318'], ['tq1', '#b42318'], ['tq2', '#d92d20'], ['iq2', '#e0592a'], ['q2', '#f79009'], ['iq3', '#eaaa08'],
  ['q3', '#c4a700'], ['iq4', '#66c61c'], ['q4', '#16b364'], ['mxfp4', '#0e9384'], ['q5', '#06aed4'], ['q6', '#2e90fa'],
  ['q8', '#6172f3'], ['bf16', '#875bf7'], ['f16', '#875bf7'], ['f32', '#98a2b3'],
];
export function typeColour(type) {
  return TYPE_COLOURS.find(([prefix]) => type.startsWith(prefix))?.[1] ?? '#667085';
}

/**
 * Bar chart of bits per weight for each layer of layer_summary, each bar split by the types of
 * the layer's tensors (a segment's height is the bits that type contributes; the colours are
 * typeColour's, with a legend). Small float tensors (norms at 32 bits) would flatten the scale,
 * so the axis follows the weight-carrying layers and taller bars are cut at the top with their
 * value written on them. Protected layers (super weights) are marked with a ★.
 */
export function renderChart(container, layers, tensors = []) {
  const items = [...layers].sort((a, b) => {
    const [ga, ia] = layerOrder(a.layer_name);
    const [gb, ib] = layerOrder(b.layer_name);
    return ga - gb || ia - ib;
  });
  // Bytes of each type in each layer.
  const mix = new Map();
  for (const t of tensors) {
    const layer = layerOf(t.name);
    if (!mix.has(layer)) mix.set(layer, new Map());
    const m = mix.get(layer);
    m.set(t.type, (m.get(t.type) ?? 0) + t.bytes);
  }
  const biggest = Math.max(...items.map((l) => l.parameter_count));
  const heavy = items.filter((l) => l.parameter_count >= biggest / 100).map((l) => l.bit_width);
  const top = Math.min(32, Math.max(8, Math.ceil(Math.max(...heavy) + 1)));
  const W = 960;
  const H = 260;
  const left = 42;
  const right = 10;
  const topPad = 18;
  const bottom = 34;
  const plotW = W - left - right;
  const plotH = H - topPad - bottom;
  const step = plotW / items.length;
  const barW = Math.max(2, Math.min(36, step * 0.7));
  const y = (bits) => topPad + plotH - (Math.min(bits, top) / top) * plotH;

  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'bits per weight of each layer, by type' });
  const tickStep = top > 16 ? 4 : 2;
  for (let t = 0; t <= top; t += tickStep) {
    root.append(svg('line', { class: t === 0 ? 'axis' : 'grid', x1: left, x2: W - right, y1: y(t), y2: y(t) }));
    root.append(svg('text', { x: left - 6, y: y(t) + 4, 'text-anchor': 'end' }, String(t)));
  }
  root.append(svg('text', { x: 12, y: topPad + plotH / 2, transform: `rotate(-90 12 ${topPad + plotH / 2})`, 'text-anchor': 'middle' }, 'bits / weight'));
  const labelEvery = Math.ceil(items.length / 40);
  const used = new Set();
  items.forEach((layer, i) => {
    const cx = left + step * (i + 0.5);
    const clipped = layer.bit_width > top;
    const types = [...(mix.get(layer.layer_name) ?? new Map([[layer.type, 0]]))].sort(([a], [b]) => a.localeCompare(b));
    const total = types.reduce((sum, [, bytes]) => sum + bytes, 0);
    const group = svg('g', { class: clipped ? 'layer clipped' : 'layer', 'data-layer': layer.layer_name });
    let base = 0;
    for (const [type, bytes] of types) {
      used.add(type);
      const bits = total > 0 ? (layer.bit_width * bytes) / total : layer.bit_width;
      const rect = svg('rect', {
        class: 'seg', fill: typeColour(type), 'data-type': type, x: cx - barW / 2, y: y(base + bits), width: barW,
        height: Math.max(1, y(base) - y(base + bits)),
      });
      rect.append(svg('title', {}, `${layer.layer_name}: ${type}, ${formatBytes(bytes)} (${total > 0 ? ((100 * bytes) / total).toFixed(0) : 100}% of the layer)`));
      group.append(rect);
      base += bits;
    }
    const title = svg('title', {}, `${layer.layer_name}: ${layer.bit_width.toFixed(3)} bits/weight, ${formatCount(layer.parameter_count)} parameters`
      + `${layer.is_protected ? ', super weights protected' : ''}`);
    group.prepend(title);
    root.append(group);
    if (items.length <= 48 || clipped) {
      root.append(svg('text', { class: 'value', x: cx, y: y(layer.bit_width) - 4, 'text-anchor': 'middle' },
        (layer.bit_width >= 10 ? layer.bit_width.toFixed(0) : layer.bit_width.toFixed(2)) + (layer.is_protected ? '★' : '')));
    }
    if (i % labelEvery === 0) root.append(svg('text', { x: cx, y: H - bottom + 16, 'text-anchor': 'middle' }, shortLabel(layer.layer_name)));
  });
  root.append(svg('text', { x: left + plotW / 2, y: H - 4, 'text-anchor': 'middle' }, 'layer (embd = token embeddings, out = output)'));
  const legend = element('ul', { class: 'legend' });
  for (const type of [...used].sort((a, b) => typeRank(a) - typeRank(b) || a.localeCompare(b))) {
    const li = element('li', { 'data-type': type });
    const swatch = svg('svg', { viewBox: '0 0 10 10', width: 10, height: 10, 'aria-hidden': 'true' });
    swatch.append(svg('rect', { width: 10, height: 10, rx: 2, fill: typeColour(type) }));
    li.append(swatch, document.createTextNode(` ${type}`));
    legend.append(li);
  }
  container.replaceChildren(root, legend);
}

function typeRank(type) {
  const i = TYPE_COLOURS.findIndex(([prefix]) => type.startsWith(prefix));
  return i < 0 ? TYPE_COLOURS.length : i;
}

/**
 * One bar per layer of analyze's layer_importance: values[i] for layer i, on an axis from 0 to
 * the largest value (rounded up to a readable step). label names the axis; cls colours the bars.
 */
export function renderLayerBars(container, values, { label, digits = 3, cls = '' }) {
  const W = 960;
  const H = 220;
  const left = 58;
  const right = 10;
  const topPad = 18;
  const bottom = 34;
  const plotW = W - left - right;
  const plotH = H - topPad - bottom;
  const biggest = Math.max(0, ...values.filter(Number.isFinite));
  // Axis top: 1, 2 or 5 times a power of ten at or above the largest value.
  let top = 1;
  if (biggest > 0) {
    const p = 10 ** Math.floor(Math.log10(biggest));
    top = [1, 2, 5, 10].map((m) => m * p).find((t) => t >= biggest);
  }
  const y = (v) => topPad + plotH - (Math.max(0, Math.min(v, top)) / top) * plotH;
  const step = plotW / Math.max(1, values.length);
  const barW = Math.max(2, Math.min(36, step * 0.7));

  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${label} of each layer` });
  for (let k = 0; k <= 4; ++k) {
    const t = (top * k) / 4;
    root.append(svg('line', { class: k === 0 ? 'axis' : 'grid', x1: left, x2: W - right, y1: y(t), y2: y(t) }));
    root.append(svg('text', { x: left - 6, y: y(t) + 4, 'text-anchor': 'end' }, Number(t.toPrecision(3)).toString()));
  }
  root.append(svg('text', { x: 12, y: topPad + plotH / 2, transform: `rotate(-90 12 ${topPad + plotH / 2})`, 'text-anchor': 'middle' }, label));
  const labelEvery = Math.ceil(values.length / 40);
  values.forEach((v, i) => {
    const value = Number.isFinite(v) ? v : 0;
    const cx = left + step * (i + 0.5);
    const bar = svg('rect', { class: `bar ${cls}`.trim(), x: cx - barW / 2, y: y(value), width: barW, height: Math.max(1, topPad + plotH - y(value)), rx: 2 });
    bar.append(svg('title', {}, `layer ${i}: ${label} ${value.toPrecision(4)}`));
    root.append(bar);
    if (values.length <= 48) root.append(svg('text', { class: 'value', x: cx, y: y(value) - 4, 'text-anchor': 'middle' }, value.toFixed(digits)));
    if (i % labelEvery === 0) root.append(svg('text', { x: cx, y: H - bottom + 16, 'text-anchor': 'middle' }, String(i)));
  });
  root.append(svg('text', { x: left + plotW / 2, y: H - 4, 'text-anchor': 'middle' }, 'layer'));
  container.replaceChildren(root);
}

/** Rows of the super-weight table (analyze's super_weights.locations). */
export function renderSuperWeightTable(tbody, locations) {
  tbody.replaceChildren(...locations.map((l) => {
    const tr = element('tr');
    tr.append(
      element('td', { class: 'mono' }, l.tensor),
      element('td', { class: 'num' }, String(l.row)),
      element('td', { class: 'num' }, String(l.col)),
      element('td', { class: 'num' }, l.value.toPrecision(4)),
      element('td', { class: 'num' }, l.activation.toPrecision(4)),
    );
    return tr;
  }));
}

/** The worst prompts of a coherence report (quantize's coherence.prompts), lowest score first. */
export function renderCoherenceTable(tbody, prompts, count = 5) {
  const worst = [...prompts].sort((a, b) => a.score - b.score).slice(0, count);
  tbody.replaceChildren(...worst.map((p) => {
    const tr = element('tr');
    tr.append(element('td', { class: 'wrap' }, p.prompt), element('td', { class: 'wrap mono' }, p.text), element('td', { class: 'num' }, p.score.toFixed(3)));
    return tr;
  }));
}
