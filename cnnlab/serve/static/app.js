// cnnlab serve: the page. It computes nothing of its own: every number comes from the JSON API
// (/api/openapi.json), which answers with cnnlab.summary, cnnlab.explain and cnnlab.viz; this script
// draws the answers.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { model: null, info: null, summary: null, input: null, layers: null, cam: null, field: null,
                version: 0 };  // version: counts the inputs; an answer about an older input is dropped
const SEEN = 196;  // the size of the "what the model sees" canvas

// ---------------------------------------------------------------- the API
async function api(path, body) {
  const options = body === undefined ? {} :
    { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, options);
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer;
}

function withInput(extra) {
  return Object.assign({ model: state.model }, state.input, extra || {});
}

function fail(error) { $("status").textContent = String(error.message || error); }
function clearStatus() { $("status").textContent = ""; }

// numbers as the explain panel and the tiles show them: 6 significant digits, no trailing zeros
function fmt(v) {
  if (v === null || v === undefined) return "−∞";
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(6)));
}

// ---------------------------------------------------------------- colours
function diverging(t) {  // t in [-1, 1]: blue, white, red
  t = Math.max(-1, Math.min(1, t));
  if (t >= 0) return [255, Math.round(255 * (1 - t)), Math.round(255 * (1 - t))];
  return [Math.round(255 * (1 + t)), Math.round(255 * (1 + t)), 255];
}

function heat(t) {  // t in [0, 1]: transparent blue to opaque yellow-red, for class maps
  t = Math.max(0, Math.min(1, t));
  const r = Math.round(255 * Math.min(1, 2 * t)), g = Math.round(255 * Math.min(1, 2 - 2 * t) * t * 1.6);
  return [r, Math.min(255, g), Math.round(255 * (1 - t) * 0.6), Math.round(170 * t)];
}

// ---------------------------------------------------------------- models and summary
async function loadModels() {
  const { models } = await api("/api/models");
  const select = $("model");
  select.innerHTML = "";
  for (const m of models) select.add(new Option(`${m.name} (${m.dataset})`, m.name));
  select.onchange = () => chooseModel(select.value, models);
  await chooseModel(models[0].name, models);
}

async function chooseModel(name, models) {
  state.model = name;
  state.info = models.find((m) => m.name === name);
  const info = state.info;
  $("model-info").textContent = `${info.model} trained on ${info.dataset} for ${info.epochs} epochs` +
    (info.test_acc === null ? "" : `: ${(100 * info.test_acc).toFixed(2)}% test accuracy`);
  $("sample").max = 9999;
  const methods = $("cam-method");
  methods.querySelector("option[value=cam]").disabled = !info.cam;
  if (!info.cam && methods.value === "cam") methods.value = "off";
  const classes = $("cam-class");
  classes.innerHTML = "";
  classes.add(new Option("the predicted one", ""));
  info.classes.forEach((c, i) => classes.add(new Option(c, String(i))));
  const { summary } = await api(`/api/model?model=${encodeURIComponent(name)}`);
  state.summary = summary;
  drawSummary(summary);
  const layers = $("cam-layer");  // Grad-CAM takes any layer whose output is maps (C, H, W)
  layers.innerHTML = "";
  for (const row of summary.rows) {
    if (row.output_shape.length === 4) layers.add(new Option(`${row.name} (${row.layer_type})`, row.name));
  }
  if (info.gradcam_default) layers.value = info.gradcam_default;
  if (state.input) refresh(); else pickSample(0);
}

function drawSummary(s) {
  const table = $("summary-table");
  const head = ["layer (type)", "output shape", "params", "MACs", "window", "RF", "S", "P"];
  const axes = (v) => (v === null ? "—" : new Set(v).size === 1 ? String(v[0]) : v.join("×"));
  const window_ = (r) => (r.kernel_size === null ? "" :
    `k${axes(r.kernel_size)} s${axes(r.stride)} p${axes(r.padding_per_side.map((p) => p[0]))}` +
    (r.dilation.some((d) => d !== 1) ? ` d${axes(r.dilation)}` : ""));
  table.innerHTML = "<tr>" + head.map((h) => `<th>${h}</th>`).join("") + "</tr>" + s.rows.map((r) =>
    `<tr><td>${r.name} (${r.layer_type})</td><td>(${r.output_shape.join(", ")})</td>` +
    `<td>${r.params.toLocaleString("en")}</td><td>${r.macs.toLocaleString("en")}</td><td>${window_(r)}</td>` +
    `<td>${axes(r.receptive_field)}</td><td>${axes(r.effective_stride)}</td><td>${axes(r.effective_padding)}</td></tr>`
  ).join("");
  $("summary-totals").textContent = `Total params ${s.total_params.toLocaleString("en")}, MACs ` +
    `${s.total_macs.toLocaleString("en")} (FLOPs ${s.total_flops.toLocaleString("en")}) for input ` +
    `(${s.input_size.join(", ")}). ${s.conventions}`;
}

// ---------------------------------------------------------------- the input
const pad = $("pad"), padContext = pad.getContext("2d");
let drawing = false, last = null, throttle = null;

function clearPad() {
  padContext.fillStyle = "#000";
  padContext.fillRect(0, 0, pad.width, pad.height);
}

function padPoint(event) {
  const box = pad.getBoundingClientRect();
  return [(event.clientX - box.left) * pad.width / box.width, (event.clientY - box.top) * pad.height / box.height];
}

function padInput() {  // a drawn digit is centred as MNIST's are (for a gray model)
  return { image: pad.toDataURL("image/png"), center: state.info.input_shape[0] === 1 };
}

pad.addEventListener("pointerdown", (event) => {
  drawing = true;
  pad.setPointerCapture(event.pointerId);
  last = padPoint(event);
  stroke(last, last);
});
pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  const p = padPoint(event);
  stroke(last, p);
  last = p;
  if (!throttle) throttle = setTimeout(() => { throttle = null; if (drawing) { setInput(padInput()); predictOnly(); } }, 150);
});
for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, () => {
    if (!drawing) return;
    drawing = false;
    setInput(padInput());
    refresh();
  });
}

function stroke(a, b) {
  padContext.strokeStyle = "#fff";
  padContext.lineWidth = 20;
  padContext.lineCap = padContext.lineJoin = "round";
  padContext.beginPath();
  padContext.moveTo(a[0], a[1]);
  padContext.lineTo(b[0], b[1]);
  padContext.stroke();
}

$("clear").onclick = () => { clearPad(); };
$("upload").onchange = () => {
  const file = $("upload").files[0];
  if (!file) return;
  const reader = new FileReader();
  reader.onload = () => { setInput({ image: reader.result, center: false }); refresh(); };
  reader.readAsDataURL(file);
};
$("pick").onclick = () => pickSample(Number($("sample").value) || 0);
$("random").onclick = () => pickSample(Math.floor(Math.random() * 10000));

function pickSample(k) {
  $("sample").value = k;
  setInput({ sample: k });
  refresh();
}

function drawSeen(pixels, note) {
  const h = pixels.length, w = pixels[0].length, canvas = $("seen");
  canvas.width = w; canvas.height = h;
  const context = canvas.getContext("2d"), image = context.createImageData(w, h);
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
    const v = pixels[i][j], k = 4 * (i * w + j);
    const rgb = Array.isArray(v) ? v : [v, v, v];
    image.data.set([rgb[0], rgb[1], rgb[2], 255], k);
  }
  context.putImageData(image, 0, 0);
  $("input-note").textContent = note;
}

function inputNote(input) {
  const parts = [];
  if (input.sample !== undefined) parts.push(`test image ${input.sample}, labelled ${state.info.classes[input.label]}`);
  if (input.centered) parts.push("centred as MNIST's digits are");
  if (input.inverted) parts.push("inverted (a light background)");
  return parts.join("; ");
}

// ---------------------------------------------------------------- prediction
function setInput(input) {
  state.input = input;
  state.version += 1;
}

async function predictOnly() {
  const version = state.version;
  try {
    const answer = await api("/api/predict", withInput({ top_k: Math.min(5, state.info.classes.length) }));
    if (version !== state.version) return;
    drawTop(answer.top);
    drawSeen(answer.input.pixels, inputNote(answer.input));
  } catch (error) { fail(error); }
}

function drawTop(top) {  // built from elements: the Content-Security-Policy allows no inline style attribute
  const list = $("top");
  list.innerHTML = "";
  for (const t of top) {
    const item = document.createElement("li"), label = document.createElement("span");
    const bar = document.createElement("span"), fill = document.createElement("span"), p = document.createElement("span");
    item.dataset.index = t.index;
    label.className = "label"; label.textContent = t.label;
    bar.className = "bar"; fill.style.width = `${(100 * t.probability).toFixed(1)}%`; bar.appendChild(fill);
    p.className = "p"; p.textContent = `${(100 * t.probability).toFixed(1)}%`;
    item.append(label, bar, p);
    list.appendChild(item);
  }
}

async function refresh() {
  clearStatus();
  const version = state.version;
  try {
    const [answer, features] = await Promise.all([
      api("/api/predict", withInput({ top_k: Math.min(5, state.info.classes.length) })),
      api("/api/features", withInput()),
    ]);
    if (version !== state.version) return;  // a newer input is on its way
    drawTop(answer.top);
    drawSeen(answer.input.pixels, inputNote(answer.input));
    state.field = null;
    drawLayers(features.layers);
    await drawCam();
    document.body.dataset.ready = String(Date.now());
  } catch (error) { fail(error); }
}

// ---------------------------------------------------------------- the network view
function decode(base64) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}

function drawLayers(layers) {
  const box = $("layers");
  box.innerHTML = "";
  state.layers = {};
  for (const layer of layers) {
    const data = decode(layer.data), shape = layer.shape;
    state.layers[layer.name] = { data, shape, type: layer.type };
    const row = document.createElement("div");
    row.className = "layer";
    row.dataset.layer = layer.name;
    const title = document.createElement("div");
    title.className = "title";
    title.textContent = `${layer.name} (${layer.type}) → (${shape.join(", ")})`;
    const where = document.createElement("span");
    where.className = "where";
    title.appendChild(where);
    row.appendChild(title);
    const tiles = document.createElement("div");
    tiles.className = "tiles";
    const scaleMax = Math.max(Math.abs(layer.min), Math.abs(layer.max)) || 1;
    if (shape.length === 3) {
      const [C, H, W] = shape, scale = Math.max(2, Math.floor(84 / Math.max(H, W)));
      for (let c = 0; c < C; c++) tiles.appendChild(tile(layer.name, data.subarray(c * H * W, (c + 1) * H * W),
        H, W, scale, scaleMax, (i, j) => [c, i, j], where));
    } else if (shape.length === 1) {
      const F = shape[0], cols = Math.min(F, 42), rows = Math.ceil(F / cols);
      const padded = new Float32Array(rows * cols).fill(NaN);
      padded.set(data);
      tiles.appendChild(tile(layer.name, padded, rows, cols, 12, scaleMax,
        (i, j) => (i * cols + j < F ? [i * cols + j] : null), where));
    }
    row.appendChild(tiles);
    box.appendChild(row);
  }
}

function tile(name, values, H, W, scale, scaleMax, at, where) {
  const holder = document.createElement("div");
  holder.className = "tile";
  const canvas = document.createElement("canvas");
  canvas.width = W; canvas.height = H;
  canvas.style.width = `${W * scale}px`;
  canvas.style.height = `${H * scale}px`;
  const context = canvas.getContext("2d"), image = context.createImageData(W, H);
  for (let k = 0; k < H * W; k++) {
    const v = values[k];
    image.data.set(Number.isNaN(v) ? [240, 240, 240, 255] : [...diverging(v / scaleMax), 255], 4 * k);
  }
  context.putImageData(image, 0, 0);
  const cell = (event) => {
    const i = Math.min(H - 1, Math.floor(event.offsetY / scale)), j = Math.min(W - 1, Math.floor(event.offsetX / scale));
    const position = at(i, j);
    return position === null ? null : { i, j, position, value: values[i * W + j] };
  };
  canvas.addEventListener("mousemove", (event) => {
    const c = cell(event);
    where.textContent = c ? `[${c.position.join(", ")}] = ${fmt(c.value)}` : "";
  });
  canvas.addEventListener("click", (event) => {
    const c = cell(event);
    if (!c) return;
    for (const m of document.querySelectorAll(".tile .marker")) m.remove();
    const marker = document.createElement("div");
    marker.className = "marker";
    marker.style.left = `${c.j * scale}px`; marker.style.top = `${c.i * scale}px`;
    marker.style.width = `${scale + 2}px`; marker.style.height = `${scale + 2}px`;
    holder.appendChild(marker);
    explain(name, c.position, c.value);
  });
  holder.appendChild(canvas);
  return holder;
}

// ---------------------------------------------------------------- explain one value
async function explain(layer, at, shown) {
  try {
    const e = await api("/api/explain", withInput({ layer, at }));
    state.field = e.receptive_field;
    drawOverlay();
    $("explain").innerHTML = explanationHtml(e, shown);
  } catch (error) { fail(error); }
}

function grid(rows, cls) {
  return `<table class="win">` + rows.map((row, i) => "<tr>" + row.map((v, j) =>
    `<td class="${cls ? cls(i, j) : ""}">${v}</td>`).join("") + "</tr>").join("") + "</table>";
}

function windowRows(terms, shape) {  // terms of one channel, row-major over the taps
  const [kh, kw] = shape, rows = [];
  for (let m = 0; m < kh; m++) rows.push(terms.slice(m * kw, (m + 1) * kw));
  return rows;
}

function explanationHtml(e, shown) {
  const head = `<p><b>${e.layer}</b> (${e.layer_type}) output [${e.at.join(", ")}] of (${e.output_shape.join(", ")})` +
    `; its input (${e.input_shape.join(", ")})</p>`;
  let body = "";
  const el = e.element;
  if (e.kind === "conv") {
    const taps = el.terms.length / el.channel_sums.length;   // the kernel's taps, row-major
    const kw = Math.max(...el.terms.slice(0, taps).map((t) => t.weight_index[3])) + 1, shape = [taps / kw, kw];
    const channels = el.channel_sums.map((c) => c[0]);
    body += `<p>stride ${el.stride.join("×")}, dilation ${el.dilation.join("×")}; the window on the padded input ` +
      `starts at (${el.window[0].join(", ")}); ${channels.length} input channel${channels.length > 1 ? "s" : ""} × ${taps} taps</p><div class="channels">`;
    channels.slice(0, 3).forEach((c, n) => {
      const terms = el.terms.slice(n * taps, (n + 1) * taps);
      const inside = (t) => t.position.every((q, a) => q >= el.pads[a][0] && q < el.pads[a][0] + e.input_shape[1 + a]);
      body += `<div><h3>channel ${c}: input window</h3>` + grid(windowRows(terms.map((t) => fmt(t.value)), shape),
        (i, j) => (inside(terms[i * shape[1] + j]) ? "" : "pad")) +
        `<h3>kernel</h3>` + grid(windowRows(terms.map((t) => fmt(t.weight)), shape)) +
        `<h3>products</h3>` + grid(windowRows(terms.map((t) => fmt(t.value * t.weight)), shape)) +
        `<p>Σ = ${fmt(el.channel_sums[n][1])}</p></div>`;
    });
    body += "</div>";
    if (channels.length > 3) {
      body += `<p>per input channel: ${el.channel_sums.map((c) => `Σ<sub>${c[0]}</sub> = ${fmt(c[1])}`).join(", ")}</p>`;
    }
    if (channels.length > 1) {
      const total = el.channel_sums.reduce((a, c) => a + c[1], 0);
      body += `<p class="formula">Σ over the ${channels.length} channels = ${fmt(total)}` +
        (el.bias === null ? "" : `, + bias ${fmt(el.bias)}`) + "</p>";
    }
  } else if (e.kind === "max_pool" || e.kind === "avg_pool") {
    const shape = el.settings.kernel;
    const rows = windowRows(el.terms.map((t) => fmt(t.value)), shape);
    const won = (i, j) => (el.winner && el.window[i * shape[1] + j].every((q, a) => q === el.winner[a]) ? "won" : "");
    body += `<h3>the window of channel ${e.at[0]} (kernel ${shape.join("×")}, stride ${el.settings.stride.join("×")})</h3>` +
      grid(rows, e.kind === "max_pool" ? won : null);
    body += e.kind === "max_pool"
      ? `<p>the maximum wins${el.winner ? ` (at padded position ${el.winner.join(", ")})` : ""}</p>`
      : `<p>sum ${fmt(el.total)} / divisor ${el.divisor}</p>`;
  } else if (e.kind === "linear") {
    const order = e.terms.map((t, i) => i).sort((a, b) =>
      Math.abs(e.terms[b].value * e.terms[b].weight) - Math.abs(e.terms[a].value * e.terms[a].weight));
    body += `<h3>the largest of ${e.terms.length} products x<sub>i</sub>·W[${e.at[0]}, i]</h3>` +
      grid(order.slice(0, 8).map((i) => [`i = ${i}`, fmt(e.terms[i].value), "×", fmt(e.terms[i].weight), "=",
        fmt(e.terms[i].value * e.terms[i].weight)]));
  } else if (e.kind === "pointwise" || e.kind === "batch_norm") {
    body += `<p>before: ${fmt(e.terms[0].value)} → after: ${fmt(e.value)}</p>`;
  }
  const check = e.agrees ? `<span class="ok">✓ the layer's output is the same</span>` :
    `<span class="bad">✗ the layer's output differs</span>`;
  return head + body + `<p class="formula">${e.formula}</p>` +
    `<p class="result">= <b id="explain-sum">${fmt(e.computed)}</b>; the value shown: ` +
    `<b id="explain-value">${fmt(shown)}</b> ${check}</p>` +
    `<p class="note">${e.receptive_field ? `its receptive field: input rows ${e.receptive_field.clipped_start[0]}..` +
      `${e.receptive_field.clipped_end[0]}, columns ${e.receptive_field.clipped_start[1]}..${e.receptive_field.clipped_end[1]}` +
      " (outlined on the input)" : e.receptive_field_note || ""}</p>`;
}

// ---------------------------------------------------------------- CAM and Grad-CAM
for (const id of ["cam-method", "cam-layer", "cam-class"]) $(id).onchange = () => drawCam().catch(fail);

async function drawCam() {
  const method = $("cam-method").value;
  $("cam-layer").disabled = method !== "gradcam";
  if (method === "off" || !state.input) {
    state.cam = null;
    $("cam-note").textContent = "";
    drawOverlay();
    return;
  }
  const request = { method };
  if (method === "gradcam") request.layer = $("cam-layer").value;
  if ($("cam-class").value !== "") request.target = Number($("cam-class").value);
  const answer = await api("/api/cam", withInput(request));
  state.cam = answer;
  $("cam-note").textContent = `${method === "cam" ? "CAM" : `Grad-CAM of layer ${answer.layer}`} for class ` +
    `${answer.label} (score ${fmt(answer.scores[answer.target])})`;
  drawOverlay();
}

function drawOverlay() {
  const canvas = $("overlay"), context = canvas.getContext("2d");
  context.clearRect(0, 0, SEEN, SEEN);
  if (state.cam) {
    const map = state.cam.map, h = map.length, w = map[0].length, top = state.cam.max || 1;
    const small = document.createElement("canvas");
    small.width = w; small.height = h;
    const sc = small.getContext("2d"), image = sc.createImageData(w, h);
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) image.data.set(heat(map[i][j] / top), 4 * (i * w + j));
    sc.putImageData(image, 0, 0);
    context.imageSmoothingEnabled = false;
    context.drawImage(small, 0, 0, SEEN, SEEN);
  }
  if (state.field) {
    const n = state.info.input_shape[1], s = SEEN / n, f = state.field;
    context.strokeStyle = "#00e0ff";
    context.lineWidth = 2;
    context.strokeRect(f.clipped_start[1] * s + 1, f.clipped_start[0] * s + 1,
      (f.clipped_end[1] - f.clipped_start[1] + 1) * s - 2, (f.clipped_end[0] - f.clipped_start[0] + 1) * s - 2);
  }
  canvas.dataset.drawn = String(Boolean(state.cam || state.field));
}

// ---------------------------------------------------------------- the convolution playground
const PRESETS = {
  lecture: { n: 3, k: 2, p: 0, s: 1, d: 1, mode: "explicit" },
  dilated: { n: 11, k: 3, p: 1, s: 2, d: 2, mode: "explicit" },
  same: { n: 5, k: 3, p: 0, s: 1, d: 1, mode: "same" },
};
const pg = { step: 0, timer: null, answer: null };

function pgValue(name) { return Number($(`pg-${name}`).value); }

function pgSettings() {
  const n = pgValue("n"), k = pgValue("k"), mode = $("pg-mode").value;
  const input = [], kernel = [];
  for (let i = 0; i < n; i++) input.push(Array.from({ length: n }, (_, j) => i * n + j + 1));
  for (let i = 0; i < k; i++) kernel.push(Array.from({ length: k }, (_, j) => 10 * (i * k + j + 1)));
  return { input, kernel, stride: pgValue("s"), dilation: pgValue("d"),
           padding: mode === "explicit" ? pgValue("p") : mode };
}

async function playground() {
  for (const name of ["n", "k", "p", "s", "d"]) $(`pg-${name}-v`).textContent = $(`pg-${name}`).value;
  $("pg-p").disabled = $("pg-mode").value !== "explicit";
  const settings = pgSettings();
  try {
    const sizes = await api(`/api/output-size?n=${settings.input.length}&kernel=${settings.kernel.length}` +
      `&stride=${settings.stride}&dilation=${settings.dilation}&padding=${settings.padding}`);
    const out = sizes.out;
    pg.step = Math.min(pg.step, out * out - 1);
    const answer = await api("/api/conv", Object.assign(settings, { at: [Math.floor(pg.step / out), pg.step % out] }));
    pg.answer = answer;
    $("pg-error").textContent = "";
    drawPlayground(answer, settings);
  } catch (error) {
    pg.answer = null;
    $("pg-error").textContent = String(error.message || error);
    $("pg-out").textContent = "(none)";
    for (const id of ["pg-input", "pg-kernel", "pg-output"]) $(id).innerHTML = "";
    $("pg-sum").textContent = ""; $("pg-lines").textContent = "";
  }
}

function cells(box, rows, cls) {
  box.style.gridTemplateColumns = `repeat(${rows[0].length}, auto)`;
  box.innerHTML = rows.map((row, i) => row.map((v, j) => `<div class="${cls(i, j)}">${fmt(v)}</div>`).join("")).join("");
}

function drawPlayground(answer, settings) {
  const e = answer.explanation, out = answer.output, [rows] = answer.sizes;
  const taps = new Set(e.window.map((q) => q.join(",")));
  const pads = answer.sizes.map((s) => s.padding);
  const n = settings.input.length;
  cells($("pg-input"), answer.padded, (i, j) => (taps.has(`${i},${j}`) ? "tap" : "") +
    (i < pads[0][0] || j < pads[1][0] || i >= pads[0][0] + n || j >= pads[1][0] + n ? " pad" : ""));
  cells($("pg-kernel"), settings.kernel, () => "");
  const [, , oi, oj] = e.index;
  cells($("pg-output"), out, (i, j) => (i === oi && j === oj ? "now" : ""));
  $("pg-out").textContent = `${out.length}×${out[0].length}`;
  $("pg-step").textContent = `window ${pg.step + 1} of ${out.length * out[0].length}: output (${oi}, ${oj})`;
  $("pg-sum").textContent = answer.sum_line;
  $("pg-lines").textContent = rows.lines.join("\n") +
    `\n(the same along the columns; windows start at rows ${rows.starts.join(", ")})`;
}

for (const name of ["n", "k", "p", "s", "d"]) $(`pg-${name}`).addEventListener("input", () => { pg.step = 0; playground(); });
$("pg-mode").onchange = () => { pg.step = 0; playground(); };
$("pg-preset").onchange = () => {
  const preset = PRESETS[$("pg-preset").value];
  for (const name of ["n", "k", "p", "s", "d"]) $(`pg-${name}`).value = preset[name];
  $("pg-mode").value = preset.mode;
  pg.step = 0;
  playground();
};
function pgMove(delta) {
  if (!pg.answer) return;
  const total = pg.answer.output.length * pg.answer.output[0].length;
  pg.step = (pg.step + delta + total) % total;
  playground();
}
$("pg-prev").onclick = () => pgMove(-1);
$("pg-next").onclick = () => pgMove(1);
$("pg-play").onclick = () => {
  if (pg.timer) { clearInterval(pg.timer); pg.timer = null; $("pg-play").textContent = "play"; return; }
  $("pg-play").textContent = "stop";
  pg.timer = setInterval(() => pgMove(1), 900);
};

// ---------------------------------------------------------------- start
clearPad();
playground();
loadModels().catch(fail);
