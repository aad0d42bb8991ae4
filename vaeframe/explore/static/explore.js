// vaeframe explore: the page. Talks only to its own server's /api/*; no library, no CDN.
"use strict";

const explorer = {
  state: null,        // /api/state: the run, its dimensions in order of KL, splits, scores
  points: [],         // /api/map: the sampled grids with their means and principal components
  grid: null,         // the grid shown as input (a list of rows)
  gridCode: null,     // that grid's own code (its posterior mean)
  code: null,         // the code the sliders say
  decodedCode: null,  // the code whose decoding is on screen
  selected: null,     // {split, index} of the chosen grid, or {painted: true}
  a: null, b: null,   // interpolation ends: {code, label}
  stripCodes: [],     // the codes along the strip, ends included
  timings: [],        // ms from a slider's input event to its decoded grid on screen
  busy: 0,            // requests in flight
  ready: false,
};
window.explorer = explorer;

const $ = (id) => document.getElementById(id);
let paintColour = 1;

// -- talking to the server ------------------------------------------------------------------

async function api(path, body) {
  explorer.busy += 1;
  try {
    const options = body === undefined ? {} : {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body)};
    const response = await fetch(path, options);
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  } finally {
    explorer.busy -= 1;
  }
}

function say(text) { $("message").textContent = text || ""; }

function guarded(action) {
  return async (...args) => {
    try { say(""); await action(...args); } catch (error) { say(error.message); }
  };
}

// -- drawing grids --------------------------------------------------------------------------

function drawGrid(canvas, grid, box = 150) {
  const rows = grid.length, cols = grid[0].length;
  const cell = Math.max(3, Math.min(24, Math.floor(box / Math.max(rows, cols))));
  canvas.width = cols * cell;
  canvas.height = rows * cell;
  canvas.dataset.rows = rows;
  canvas.dataset.cols = cols;
  canvas.dataset.cell = cell;
  const context = canvas.getContext("2d");
  const palette = explorer.state.palette;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      context.fillStyle = palette[grid[r][c]];
      context.fillRect(c * cell, r * cell, cell, cell);
    }
  }
  if (cell >= 6) {  // cell borders, as ARC shows grids; cell centres keep their colour
    context.strokeStyle = "rgba(128,128,128,0.5)";
    context.lineWidth = 1;
    context.beginPath();
    for (let r = 0; r <= rows; r++) { context.moveTo(0, r * cell + 0.5); context.lineTo(cols * cell, r * cell + 0.5); }
    for (let c = 0; c <= cols; c++) { context.moveTo(c * cell + 0.5, 0); context.lineTo(c * cell + 0.5, rows * cell); }
    context.stroke();
  }
}

const afterPaint = () => new Promise((done) =>
  requestAnimationFrame(() => requestAnimationFrame(done)));

// -- the sliders ----------------------------------------------------------------------------

function buildSliders() {
  const holder = $("sliders");
  holder.textContent = "";
  for (const dim of explorer.state.dims) {
    const row = document.createElement("div");
    row.className = "slider" + (dim.active ? "" : " inactive");
    row.dataset.dim = dim.dim;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = `dim ${dim.dim} · KL ${dim.kl.toFixed(2)}${dim.active ? "" : " ×"}`;
    name.title = dim.active ? "active" : "inactive: Var(E[z|x]) ≤ 0.01 over the data";
    const input = document.createElement("input");
    input.type = "range";
    input.id = `slider-${dim.dim}`;
    input.setAttribute("aria-label", `latent dimension ${dim.dim}`);
    setRange(input, dim.low, dim.high);
    const value = document.createElement("span");
    value.className = "value";
    input.addEventListener("input", () => {
      explorer.code[dim.dim] = parseFloat(input.value);
      value.textContent = explorer.code[dim.dim].toFixed(2);
      showCodeJson();
      requestDecode();
    });
    row.append(name, input, value);
    if (dim.factors.length) {
      const holds = document.createElement("span");
      holds.className = "holds";
      holds.textContent = "holds " + dim.factors.map((f) =>
        `${f.factor} (MIG gap ${num(f.gap)}, ${pct(f.share)} of its entropy)`).join(", ");
      row.append(holds);
    }
    holder.append(row);
  }
}

function setRange(input, low, high) {
  input.min = low;
  input.max = high;
  input.step = (high - low) / 1000;
}

function setSliders(code) {
  for (const dim of explorer.state.dims) {
    const input = $(`slider-${dim.dim}`), v = code[dim.dim];
    setRange(input, Math.min(dim.low, v), Math.max(dim.high, v));  // a far code still fits
    input.value = v;
    input.parentElement.querySelector(".value").textContent = v.toFixed(2);
  }
  showCodeJson();
}

function showCodeJson() { $("code-json").value = JSON.stringify(explorer.code); }

// Latest wins: while a decode is in flight, moves only mark that another is due.
let inputSeq = 0, pendingInputs = [], decodeInFlight = false, decodeDue = false;

function requestDecode() {
  inputSeq += 1;
  pendingInputs.push({seq: inputSeq, t: performance.now()});
  if (decodeInFlight) { decodeDue = true; return; }
  sendDecode();
}

async function sendDecode() {
  decodeInFlight = true;
  const seq = inputSeq, code = explorer.code.slice();
  try {
    const {grids} = await api("/api/decode", {codes: [code]});
    drawGrid($("decoded-grid"), grids[0]);
    explorer.decodedCode = code;
    await afterPaint();
    const now = performance.now();
    const done = pendingInputs.filter((p) => p.seq <= seq);
    pendingInputs = pendingInputs.filter((p) => p.seq > seq);
    for (const p of done) explorer.timings.push(now - p.t);
  } catch (error) {
    say(error.message);
  } finally {
    decodeInFlight = false;
  }
  if (decodeDue) { decodeDue = false; sendDecode(); }
}

// -- choosing and painting grids ------------------------------------------------------------

function showGrid(found, selected) {
  explorer.grid = found.grid;
  explorer.gridCode = found.code.slice();
  explorer.code = found.code.slice();
  explorer.decodedCode = found.code.slice();
  explorer.selected = selected;
  drawGrid($("input-grid"), found.grid);
  drawGrid($("recon-grid"), found.reconstruction);
  drawGrid($("decoded-grid"), found.reconstruction);
  $("paint-height").value = found.grid.length;
  $("paint-width").value = found.grid[0].length;
  setSliders(explorer.code);
  if (selected.painted) {
    $("selected").textContent = `painted grid, ${found.grid.length}×${found.grid[0].length}`;
  } else {
    const labels = Object.entries(found.labels || {}).map(([k, v]) => `${k} ${v}`).join(" · ");
    $("selected").textContent = `${splitName(selected.split)} grid #${selected.index} ` +
      `(${found.grid.length}×${found.grid[0].length})` + (labels ? ` — ${labels}` : "");
    $("split").value = selected.split;
    $("index").value = selected.index;
  }
  drawMap();
}

const splitName = (split) => (split === "train" ? "training" : "held-out");

async function selectGrid(split, index) {
  const found = await api(`/api/grid?split=${split}&index=${index}`);
  showGrid(found, {split, index});
}

async function encodePainted(grid) {
  const found = await api("/api/encode", {grid});
  showGrid(found, {painted: true});
}

function buildPaintTools() {
  const palette = $("palette");
  explorer.state.palette.forEach((colour, k) => {
    const button = document.createElement("button");
    button.type = "button";
    button.style.background = colour;
    button.title = `colour ${k}`;
    button.dataset.colour = k;
    if (k === paintColour) button.classList.add("chosen");
    button.addEventListener("click", () => {
      paintColour = k;
      for (const b of palette.children) b.classList.toggle("chosen", b === button);
    });
    palette.append(button);
  });
  const canvas = $("input-grid");
  let painting = false, changed = false;
  const paintAt = (event) => {
    if (!explorer.grid) return;
    const cell = Number(canvas.dataset.cell), box = canvas.getBoundingClientRect();
    const scale = canvas.width / box.width;
    const r = Math.floor((event.clientY - box.top) * scale / cell);
    const c = Math.floor((event.clientX - box.left) * scale / cell);
    if (r < 0 || c < 0 || r >= explorer.grid.length || c >= explorer.grid[0].length) return;
    if (explorer.grid[r][c] === paintColour) return;
    explorer.grid = explorer.grid.map((row) => row.slice());
    explorer.grid[r][c] = paintColour;
    changed = true;
    drawGrid(canvas, explorer.grid);
  };
  canvas.addEventListener("pointerdown", (event) => {
    painting = true; changed = false; paintAt(event);
  });
  canvas.addEventListener("pointermove", (event) => { if (painting) paintAt(event); });
  const finish = guarded(async () => {
    if (!painting) return;
    painting = false;
    if (changed) await encodePainted(explorer.grid);
  });
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointerleave", finish);
  const resize = guarded(async () => {
    const rows = Number($("paint-height").value), cols = Number($("paint-width").value);
    if (!(rows >= 1 && rows <= 30 && cols >= 1 && cols <= 30)) {
      throw new Error("a grid has 1 to 30 rows and 1 to 30 columns");
    }
    const old = explorer.grid || [[0]];
    const grid = Array.from({length: rows}, (_, r) => Array.from({length: cols},
      (_, c) => (r < old.length && c < old[0].length ? old[r][c] : 0)));
    await encodePainted(grid);
  });
  $("paint-height").addEventListener("change", resize);
  $("paint-width").addEventListener("change", resize);
  $("blank").addEventListener("click", guarded(async () => {
    const rows = Number($("paint-height").value) || 10, cols = Number($("paint-width").value) || 10;
    await encodePainted(Array.from({length: Math.min(30, rows)},
      () => Array(Math.min(30, cols)).fill(0)));
  }));
}

function buildFinder() {
  const form = $("find");
  form.textContent = "";
  const split = $("split").value;
  const columns = explorer.state.labels[split].filter((c) => !explorer.state.factors.includes(c));
  const shown = columns.length ? columns : explorer.state.labels[split];
  if (!shown.length) return;
  form.append("find by ");
  for (const column of shown) {
    const input = document.createElement("input");
    input.name = column;
    input.placeholder = column;
    input.setAttribute("aria-label", column);
    form.append(input);
  }
  const button = document.createElement("button");
  button.type = "submit";
  button.textContent = "find";
  form.append(button);
}

// -- the map --------------------------------------------------------------------------------

const CATEGORIES = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939"];
const MAP_PAD = 14;
let mapPixels = [];  // [x, y] of each point on the canvas

function buildMapControls() {
  const axes = [["pc:0", `principal component 1 (${pct(explorer.state.explained[0])})`],
                ["pc:1", `principal component 2 (${pct(explorer.state.explained[1])})`],
                ...explorer.state.dims.map((d) => [`dim:${d.dim}`, `dim ${d.dim}`])];
  for (const [select, chosen] of [["map-x", "pc:0"], ["map-y", "pc:1"]]) {
    for (const [value, text] of axes) $(select).append(new Option(text, value, false, value === chosen));
    $(select).addEventListener("change", drawMap);
  }
  const colours = [["split", "split"], ["size", "size (cells)"],
                   ...explorer.state.factors.map((f, k) => [`factor:${k}`, `factor: ${f}`])];
  for (const [value, text] of colours) $("map-colour").append(new Option(text, value));
  $("map-colour").addEventListener("change", drawMap);
}

function axisValue(point, axis) {
  const [kind, k] = axis.split(":");
  return kind === "pc" ? point.pc[Number(k)] : point.mu[Number(k)];
}

function colourOf(point, scheme, range) {
  if (scheme === "split") return point.split === "train" ? CATEGORIES[0] : CATEGORIES[1];
  const value = scheme === "size" ? point.height * point.width
    : point.factors[Number(scheme.split(":")[1])];
  if (range.categorical) return CATEGORIES[range.values.indexOf(value) % CATEGORIES.length];
  const t = range.max > range.min ? (value - range.min) / (range.max - range.min) : 0.5;
  return `hsl(${Math.round(250 - 220 * t)}, 75%, ${Math.round(35 + 20 * t)}%)`;
}

function colourRange(scheme) {
  if (scheme === "split") return {categorical: true, values: ["train", "heldout"]};
  const values = explorer.points.map((p) => (scheme === "size" ? p.height * p.width
    : p.factors[Number(scheme.split(":")[1])]));
  const distinct = [...new Set(values)].sort((x, y) => x - y);
  if (scheme !== "size" && distinct.length <= CATEGORIES.length) {
    return {categorical: true, values: distinct};
  }
  return {categorical: false, min: Math.min(...values), max: Math.max(...values)};
}

function drawMap() {
  const canvas = $("map"), context = canvas.getContext("2d");
  const xAxis = $("map-x").value, yAxis = $("map-y").value, scheme = $("map-colour").value;
  const xs = explorer.points.map((p) => axisValue(p, xAxis));
  const ys = explorer.points.map((p) => axisValue(p, yAxis));
  const span = (values) => {
    const low = Math.min(...values), high = Math.max(...values);
    return high > low ? [low, high] : [low - 1, high + 1];
  };
  const [x0, x1] = span(xs), [y0, y1] = span(ys);
  const w = canvas.width - 2 * MAP_PAD, h = canvas.height - 2 * MAP_PAD;
  mapPixels = xs.map((x, k) => [MAP_PAD + (x - x0) / (x1 - x0) * w,
                                MAP_PAD + (1 - (ys[k] - y0) / (y1 - y0)) * h]);
  const range = colourRange(scheme);
  context.clearRect(0, 0, canvas.width, canvas.height);
  context.globalAlpha = 0.75;
  explorer.points.forEach((point, k) => {
    context.fillStyle = colourOf(point, scheme, range);
    context.beginPath();
    context.arc(mapPixels[k][0], mapPixels[k][1], 2.6, 0, 2 * Math.PI);
    context.fill();
  });
  context.globalAlpha = 1;
  const chosen = explorer.selected && !explorer.selected.painted ? explorer.points.findIndex(
    (p) => p.split === explorer.selected.split && p.index === explorer.selected.index) : -1;
  if (chosen >= 0) {
    context.strokeStyle = "#000";
    context.lineWidth = 2;
    context.beginPath();
    context.arc(mapPixels[chosen][0], mapPixels[chosen][1], 7, 0, 2 * Math.PI);
    context.stroke();
  }
  showLegend(scheme, range);
}

function showLegend(scheme, range) {
  const legend = $("legend");
  legend.textContent = "";
  if (!range.categorical) {
    legend.textContent = `${scheme === "size" ? "size" : explorer.state.factors[Number(scheme.split(":")[1])]}` +
      `: ${range.min} (blue) to ${range.max} (orange)`;
    return;
  }
  range.values.forEach((value, k) => {
    const swatch = document.createElement("span");
    swatch.style.color = CATEGORIES[k % CATEGORIES.length];
    swatch.textContent = "● ";
    legend.append(swatch, scheme === "split" ? splitName(value) + "  " : `${value}  `);
  });
}

function nearestPoint(event) {
  const canvas = $("map"), box = canvas.getBoundingClientRect();
  const x = (event.clientX - box.left) * canvas.width / box.width;
  const y = (event.clientY - box.top) * canvas.height / box.height;
  let best = -1, bestDistance = 64;  // within 8 pixels
  mapPixels.forEach(([px, py], k) => {
    const d = (px - x) ** 2 + (py - y) ** 2;
    if (d < bestDistance) { best = k; bestDistance = d; }
  });
  return best;
}

const hoverCache = new Map();

function buildMapEvents() {
  const canvas = $("map"), tooltip = $("tooltip");
  let hovered = -1;
  canvas.addEventListener("mousemove", async (event) => {
    const k = nearestPoint(event);
    if (k < 0) { tooltip.hidden = true; hovered = -1; return; }
    tooltip.style.left = `${event.clientX + 14}px`;
    tooltip.style.top = `${event.clientY + 14}px`;
    if (k === hovered) return;
    hovered = k;
    const point = explorer.points[k], key = `${point.split}:${point.index}`;
    try {
      if (!hoverCache.has(key)) hoverCache.set(key, await api(`/api/grid?split=${point.split}&index=${point.index}`));
    } catch (error) { return; }
    if (hovered !== k) return;
    drawGrid($("tooltip-grid"), hoverCache.get(key).grid, 90);
    $("tooltip-text").textContent = `${splitName(point.split)} #${point.index}` +
      (explorer.state.factors.length ? " · " + explorer.state.factors.map(
        (f, j) => `${f} ${point.factors[j]}`).join(", ") : "");
    tooltip.hidden = false;
  });
  canvas.addEventListener("mouseleave", () => { tooltip.hidden = true; hovered = -1; });
  canvas.addEventListener("click", guarded(async (event) => {
    const k = nearestPoint(event);
    if (k < 0) return;
    const point = explorer.points[k];
    if (event.shiftKey) {
      const found = await api(`/api/grid?split=${point.split}&index=${point.index}`);
      await setEnd("b", found.code, `${splitName(point.split)} #${point.index}`);
    } else {
      await selectGrid(point.split, point.index);
    }
  }));
}

// The canvas position of point k, for scripts and tests: {x, y} from the canvas's top left.
explorer.pointPixel = (k) => ({x: mapPixels[k][0], y: mapPixels[k][1]});

// -- between two grids ----------------------------------------------------------------------

async function setEnd(which, code, label) {
  explorer[which] = {code: code.slice(), label};
  if (explorer.a && explorer.b) await drawStrip();
  else $("ends").textContent = `${which.toUpperCase()} = ${label}; now choose ` +
    `${which === "a" ? "B" : "A"}.`;
}

async function drawStrip() {
  const {codes, grids} = await api("/api/interpolate",
    {a: explorer.a.code, b: explorer.b.code, steps: 9});
  explorer.stripCodes = codes;
  const strip = $("strip");
  strip.textContent = "";
  grids.forEach((grid, k) => {
    const figure = document.createElement("figure");
    const canvas = document.createElement("canvas");
    canvas.className = "strip-grid";
    drawGrid(canvas, grid, 110);
    const caption = document.createElement("figcaption");
    caption.textContent = k === 0 ? "A" : k === grids.length - 1 ? "B" : `${(k / (grids.length - 1)).toFixed(2)}`;
    figure.append(canvas, caption);
    strip.append(figure);
  });
  $("ends").textContent = `A = ${explorer.a.label}, B = ${explorer.b.label}: the codes on the ` +
    "straight line between theirs, decoded.";
}

// -- scores ---------------------------------------------------------------------------------

const num = (x) => (typeof x === "number" ? x.toFixed(3) : "–");
const pct = (x) => (typeof x === "number" ? `${(100 * x).toFixed(0)} %` : "–");

function showScores() {
  const scores = explorer.state.scores, holder = $("scores");
  if (!scores) return;
  const names = {mig: "MIG", dci_disentanglement: "DCI disentanglement",
                 dci_completeness: "DCI completeness", sap: "SAP", factor_vae: "FactorVAE score"};
  const heading = document.createElement("h2");
  heading.textContent = "Disentanglement";
  const line = document.createElement("p");
  line.textContent = Object.entries(scores.headline).map(([k, v]) => `${names[k] || k} ${num(v)}`).join(" · ");
  const table = document.createElement("table");
  table.innerHTML = "<tr><th>factor</th><th>dim</th><th>MIG gap</th><th>share of entropy</th></tr>";
  for (const [factor, entry] of Object.entries(scores.per_factor)) {
    const row = table.insertRow();
    for (const text of [factor, entry.dim, num(entry.gap), pct(entry.share)]) {
      row.insertCell().textContent = text;
    }
  }
  holder.append(heading, line, table);
}

// -- start ----------------------------------------------------------------------------------

async function start() {
  const [state, map] = await Promise.all([api("/api/state"), api("/api/map")]);
  explorer.state = state;
  explorer.points = map.points;
  const s = explorer.state;
  $("run-info").textContent = `${s.run} · ${s.model} · ${s.dataset} · ${s.checkpoint} ` +
    `(epoch ${s.epoch}) · ${s.latent_size} latent dims on ${s.device}`;
  document.title = `${s.run} · vaeframe explore`;
  buildSliders();
  buildPaintTools();
  buildMapControls();
  buildMapEvents();
  buildFinder();
  showScores();
  const sizes = () => { $("split-size").textContent = `of ${s.splits[$("split").value]}`; };
  sizes();
  $("split").addEventListener("change", () => { sizes(); buildFinder(); });
  $("pick").addEventListener("submit", guarded(async (event) => {
    event.preventDefault();
    await selectGrid($("split").value, Number($("index").value));
  }));
  $("random").addEventListener("click", guarded(async () => {
    const split = $("split").value, found = await api(`/api/random?split=${split}`);
    showGrid(found, {split, index: found.index});
  }));
  $("find").addEventListener("submit", guarded(async (event) => {
    event.preventDefault();
    const query = new URLSearchParams({split: $("split").value});
    for (const input of $("find").querySelectorAll("input")) {
      if (input.value.trim()) query.append(input.name, input.value.trim());
    }
    const found = await api(`/api/find?${query}`);
    showGrid(found, {split: found.split, index: found.index});
  }));
  $("reset").addEventListener("click", () => {
    if (!explorer.gridCode) return;
    explorer.code = explorer.gridCode.slice();
    setSliders(explorer.code);
    requestDecode();
  });
  $("copy").addEventListener("click", guarded(async () => {
    const text = JSON.stringify(explorer.code);
    try { await navigator.clipboard.writeText(text); say("code copied"); } catch (error) {
      $("code-json").select(); document.execCommand("copy"); say("code selected and copied");
    }
  }));
  const end = (which) => guarded(async () => {
    if (!explorer.gridCode) return;
    const label = explorer.selected.painted ? "the painted grid"
      : `${splitName(explorer.selected.split)} #${explorer.selected.index}`;
    await setEnd(which, explorer.gridCode, label);
  });
  $("set-a").addEventListener("click", end("a"));
  $("set-b").addEventListener("click", end("b"));
  $("app").hidden = false;
  await selectGrid(explorer.points[0].split, explorer.points[0].index);
  explorer.ready = true;
  document.body.dataset.ready = "true";
}

start().catch((error) => say(`could not load the run: ${error.message}`));
