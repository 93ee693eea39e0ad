// The tfjpeg explore page: region selection, tool forms from the server's ToolSpecs, edits with
// progress, undo/redo, save, and the consistency badge. Talks to the JSON API of app.py.
"use strict";

const $ = (id) => document.getElementById(id);
const HEADERS = { "X-Tfjpeg": "1" };
let state = null;        // the last /api/state answer
let region = null;       // [y0, x0, y1, x1] in image pixels, or null for the whole image
let shownVersion = -1;   // version of the current image on screen
let polling = null;      // timer of the fast poll while an edit runs
let copied = null;       // data: URL of the copied selection (content of "image" parameters)
let painted = false;     // whether the paint layer holds strokes
const SOURCE_PARAMS = ["source_y0", "source_x0", "source_y1", "source_x1"];

function showMessage(text) {
  const box = $("message");
  box.textContent = text || "";
  box.hidden = !text;
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (!response.ok) {
    throw new Error((body && body.error) || `${response.status} ${response.statusText}`);
  }
  return body;
}

function post(path, payload) {
  return api(path, {
    method: "POST",
    headers: { ...HEADERS, "Content-Type": "application/json" },
    body: JSON.stringify(payload || {}),
  });
}

// ------------------------------------------------------------------ rendering the state

function render(next) {
  const fileChanged = !state || next.file !== state.file || next.width !== state.width ||
    JSON.stringify(next.tools) !== JSON.stringify(state.tools);
  state = next;
  document.body.dataset.busy = String(next.job.running);
  $("file").textContent = next.file ? `${next.file} (${next.width}x${next.height})` : "no file";
  $("output-dir").textContent = next.output_dir;
  $("undo").disabled = !next.can_undo;
  $("redo").disabled = !next.can_redo;
  $("apply").disabled = next.job.running || !next.tools.length;
  renderBadge(next.consistency);
  renderJob(next.job);
  if (fileChanged) {
    buildToolMenu(next.tools);
    setZoom();
    resetPaint();
    region = null;
    drawRegion();
    $("standard").src = `/api/image/standard?v=${next.version}`;
    if (next.file) $("save-name").value = next.file.replace(/\.[^.]*$/, "") + "_explored.png";
  }
  if (next.version !== shownVersion && next.width) {
    const img = $("current");
    img.onload = () => { document.body.dataset.version = String(next.version); };
    img.src = `/api/image/current?v=${next.version}`;
    shownVersion = next.version;
    renderAlternatives(next);
  }
  if (next.error) showMessage(next.error);
}

// Each alternative as a button showing the selected region (the whole image without one).
function renderAlternatives(next) {
  const strip = $("alternative-strip");
  const buttons = [];
  const [y0, x0, y1, x1] = region || [0, 0, next.height, next.width];
  const scale = Math.max(1, Math.floor(160 / Math.max(y1 - y0, x1 - x0)));
  for (let i = 0; i < (next.alternatives || 0); i++) {
    const button = document.createElement("button");
    button.type = "button";
    button.title = `use alternative ${i + 1}`;
    button.dataset.index = String(i);
    const canvas = document.createElement("canvas");
    canvas.width = (x1 - x0) * scale;
    canvas.height = (y1 - y0) * scale;
    const source = new Image();
    source.onload = () => {
      const ctx = canvas.getContext("2d");
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(source, x0, y0, x1 - x0, y1 - y0, 0, 0, canvas.width, canvas.height);
    };
    source.src = `/api/image/alternative${i}?v=${next.version}`;
    button.append(canvas);
    button.addEventListener("click", () => run(async () => {
      render(await post("/api/choose", { index: i }));
    }));
    buttons.push(button);
  }
  strip.replaceChildren(...buttons);
  $("alternatives").hidden = !buttons.length;
}

function renderBadge(consistency) {
  const badge = $("badge");
  if (!consistency) {
    badge.dataset.consistent = "";
    badge.textContent = "consistency: –";
    return;
  }
  const share = consistency.share == null ? "" :
    ` (${(100 * consistency.share).toFixed(2)}% of coefficients)`;
  badge.dataset.consistent = String(consistency.consistent);
  badge.textContent = (consistency.consistent ? "consistent ✓" : "NOT consistent ✗") + share;
}

function renderJob(job) {
  const bar = $("progress");
  bar.hidden = !job.running;
  bar.value = job.progress || 0;
  $("job").textContent = job.running
    ? `${job.tool}: ${Math.round(100 * (job.progress || 0))}%` : "";
}

// ------------------------------------------------------------------ tool forms

function buildToolMenu(tools) {
  const menu = $("tool");
  const previous = menu.value;
  menu.replaceChildren(...tools.map((t) => new Option(t.name, t.name)));
  if (tools.some((t) => t.name === previous)) menu.value = previous;
  buildForm();
}

function currentTool() {
  return state && state.tools.find((t) => t.name === $("tool").value);
}

function buildForm() {
  const form = $("params");
  const tool = currentTool();
  form.replaceChildren();
  $("tool-description").textContent = tool ? tool.description : "";
  const names = tool ? tool.params.map((p) => p.name) : [];
  $("source-tools").hidden = !SOURCE_PARAMS.every((n) => names.includes(n));
  $("paint-tools").hidden = !(tool && tool.params.some((p) => p.kind === "image"));
  if ($("paint-tools").hidden) setPaintMode(false);
  if (!tool) return;
  for (const p of tool.params) {
    const id = `param-${p.name}`;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = p.name;
    label.title = p.help;
    let input;
    if (p.kind === "choice") {
      input = document.createElement("select");
      for (const c of p.choices || []) input.add(new Option(String(c), String(c)));
      if (p.default != null) input.value = String(p.default);
    } else {
      input = document.createElement("input");
      if (p.kind === "bool") {
        input.type = "checkbox";
        input.checked = Boolean(p.default);
      } else if (p.kind === "image") {
        input.type = "file";
        input.accept = "image/*";
      } else {
        input.type = "number";
        input.step = p.kind === "int" ? "1" : "any";
        if (p.minimum != null) input.min = String(p.minimum);
        if (p.maximum != null) input.max = String(p.maximum);
        if (p.default != null) input.value = String(p.default);
      }
    }
    input.id = id;
    input.name = p.name;
    input.dataset.kind = p.kind;
    input.title = p.help;
    form.append(label, input);
    if (p.help) {
      const help = document.createElement("p");
      help.className = "help";
      help.textContent = p.help;
      form.append(help);
    }
  }
}

function readFile(file, how) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    if (how === "dataURL") reader.readAsDataURL(file); else reader.readAsArrayBuffer(file);
  });
}

async function formParams() {
  const params = {};
  for (const input of $("params").querySelectorAll("input, select")) {
    const kind = input.dataset.kind;
    if (kind === "bool") params[input.name] = input.checked;
    else if (kind === "image") {
      if (input.files.length) params[input.name] = await readFile(input.files[0], "dataURL");
      else if (copied) params[input.name] = copied;
      else if (painted) params[input.name] = paintedContent();
    } else if (kind === "choice") {
      const choice = state && currentTool().params.find((p) => p.name === input.name);
      const match = (choice.choices || []).find((c) => String(c) === input.value);
      params[input.name] = match === undefined ? input.value : match;
    } else if (input.value !== "") params[input.name] = Number(input.value);
  }
  return params;
}

// ------------------------------------------------------------------ region selection

function imagePoint(stage, event) {
  const img = stage.querySelector("img");
  const box = img.getBoundingClientRect();
  const sx = state.width / box.width, sy = state.height / box.height;
  const x = Math.min(Math.max((event.clientX - box.left) * sx, 0), state.width);
  const y = Math.min(Math.max((event.clientY - box.top) * sy, 0), state.height);
  return [y, x];
}

function drawRegion() {
  for (const stage of document.querySelectorAll(".stage")) {
    const box = stage.querySelector(".selection");
    if (!region || !state || !state.width) { box.hidden = true; continue; }
    const [y0, x0, y1, x1] = region;
    box.hidden = false;
    box.style.left = `${(100 * x0) / state.width}%`;
    box.style.top = `${(100 * y0) / state.height}%`;
    box.style.width = `${(100 * (x1 - x0)) / state.width}%`;
    box.style.height = `${(100 * (y1 - y0)) / state.height}%`;
  }
  $("region").textContent = region
    ? `rows ${region[0]}-${region[2]}, columns ${region[1]}-${region[3]}` : "whole image";
}

function setupSelection(stage) {
  let start = null;
  const toRegion = (a, b) => {
    const y0 = Math.floor(Math.min(a[0], b[0])), y1 = Math.ceil(Math.max(a[0], b[0]));
    const x0 = Math.floor(Math.min(a[1], b[1])), x1 = Math.ceil(Math.max(a[1], b[1]));
    return y1 - y0 >= 1 && x1 - x0 >= 1 ? [y0, x0, y1, x1] : null;
  };
  stage.addEventListener("pointerdown", (event) => {
    if (!state || !state.width || event.button !== 0) return;
    if (paintMode() && stage.dataset.stage === "current") return;  // the brush has it
    start = imagePoint(stage, event);
    stage.setPointerCapture(event.pointerId);
    event.preventDefault();
  });
  stage.addEventListener("pointermove", (event) => {
    if (!start) return;
    region = toRegion(start, imagePoint(stage, event));
    drawRegion();
  });
  const finish = (event) => {
    if (!start) return;
    const end = imagePoint(stage, event);
    const moved = Math.abs(end[0] - start[0]) + Math.abs(end[1] - start[1]);
    region = moved < 1 ? null : toRegion(start, end);  // a click clears the selection
    start = null;
    drawRegion();
  };
  stage.addEventListener("pointerup", finish);
  stage.addEventListener("pointercancel", finish);
}

// ------------------------------------------------------------------ content: copy, paint

function paintMode() { return $("paint-mode").checked; }

function setPaintMode(on) {
  $("paint-mode").checked = on;
  $("paint").style.pointerEvents = on ? "auto" : "none";
  $("paint").style.cursor = on ? "crosshair" : "";
}

function resetPaint() {
  const canvas = $("paint");
  if (state && state.width) { canvas.width = state.width; canvas.height = state.height; }
  canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
  painted = false;
  copied = null;
  $("content-preview").hidden = true;
}

// The explored image with the paint layer on top, cut to the region (or whole), as PNG.
function crop(withPaint) {
  const [y0, x0, y1, x1] = region || [0, 0, state.height, state.width];
  const canvas = document.createElement("canvas");
  canvas.width = x1 - x0;
  canvas.height = y1 - y0;
  const ctx = canvas.getContext("2d");
  ctx.drawImage($("current"), x0, y0, x1 - x0, y1 - y0, 0, 0, x1 - x0, y1 - y0);
  if (withPaint) ctx.drawImage($("paint"), x0, y0, x1 - x0, y1 - y0, 0, 0, x1 - x0, y1 - y0);
  return canvas.toDataURL("image/png");
}

function paintedContent() { return crop(true); }

function copySelection() {
  if (!state || !state.width) return;
  copied = crop(false);
  const preview = $("content-preview");
  preview.src = copied;
  preview.hidden = false;
}

function setupPaint() {
  const canvas = $("paint");
  let last = null;
  const point = (event) => {
    const [y, x] = imagePoint(canvas.parentElement, event);
    return [x, y];
  };
  const stroke = (from, to) => {
    const ctx = canvas.getContext("2d");
    ctx.strokeStyle = $("paint-color").value;
    ctx.fillStyle = $("paint-color").value;
    ctx.lineWidth = Number($("paint-size").value) || 4;
    ctx.lineCap = "round";
    ctx.beginPath();
    ctx.moveTo(...from);
    ctx.lineTo(...to);
    ctx.stroke();
    painted = true;
  };
  canvas.addEventListener("pointerdown", (event) => {
    if (!paintMode() || event.button !== 0) return;
    canvas.setPointerCapture(event.pointerId);
    last = point(event);
    stroke(last, last);
    event.preventDefault();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!last) return;
    const next = point(event);
    stroke(last, next);
    last = next;
  });
  const end = () => { last = null; };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
}

function sourceFromSelection() {
  if (!region) throw new Error("Select the source rectangle first (drag on an image).");
  const [y0, x0, y1, x1] = region;
  const values = { source_y0: y0, source_x0: x0, source_y1: y1, source_x1: x1 };
  for (const [name, value] of Object.entries(values)) $(`param-${name}`).value = String(value);
}

// ------------------------------------------------------------------ actions

async function refresh() {
  try {
    render(await api("/api/state"));
  } catch (err) {
    showMessage(`The server did not answer: ${err.message}`);
  }
  return state;
}

function pollWhileRunning() {
  if (polling) return;
  polling = setInterval(async () => {
    const next = await refresh();
    if (next && !next.job.running) { clearInterval(polling); polling = null; }
  }, 200);
}

async function run(action) {
  showMessage("");
  try {
    await action();
  } catch (err) {
    showMessage(err.message);
  }
}

async function applyTool() {
  const tool = currentTool();
  if (!tool) return;
  const params = await formParams();
  render(await post("/api/apply", { tool: tool.name, region, params }));
  pollWhileRunning();
  if (painted || copied) resetPaint();  // used once
}

async function openFile(file) {
  $("file").textContent = `opening ${file.name}…`;
  try {
    render(await api("/api/open", {
      method: "POST",
      headers: { ...HEADERS, "X-Filename": encodeURIComponent(file.name),
                 "Content-Type": "application/octet-stream" },
      body: await readFile(file, "arrayBuffer"),
    }));
  } finally {
    if (state) $("file").textContent = state.file ? `${state.file} (${state.width}x${state.height})` : "no file";
  }
}

async function savePng() {
  const answer = await post("/api/save", {
    name: $("save-name").value, overwrite: $("overwrite").checked,
  });
  $("saved").textContent = `Saved ${answer.saved}`;
}

function setZoom() {
  const zoom = $("zoom").value;
  document.body.dataset.zoom = zoom;
  for (const img of document.querySelectorAll(".stage img")) {
    img.style.width = zoom === "fit" || !state ? "" : `${state.width * Number(zoom)}px`;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".stage").forEach(setupSelection);
  $("tool").addEventListener("change", buildForm);
  $("apply").addEventListener("click", () => run(applyTool));
  $("undo").addEventListener("click", () => run(async () => render(await post("/api/undo"))));
  $("redo").addEventListener("click", () => run(async () => render(await post("/api/redo"))));
  $("save").addEventListener("click", () => run(savePng));
  $("clear-region").addEventListener("click", () => { region = null; drawRegion(); });
  $("open").addEventListener("change", (event) => {
    const file = event.target.files[0];
    event.target.value = "";
    if (file) run(() => openFile(file));
  });
  $("zoom").addEventListener("change", setZoom);
  $("source-from-selection").addEventListener("click", () => run(async () => sourceFromSelection()));
  $("copy-selection").addEventListener("click", copySelection);
  $("paint-mode").addEventListener("change", (event) => setPaintMode(event.target.checked));
  $("paint-clear").addEventListener("click", resetPaint);
  setupPaint();
  setZoom();
  refresh().then((s) => { if (s && s.job.running) pollWhileRunning(); });
  // Another tab's edits show up here too.
  setInterval(() => { if (!polling) refresh(); }, 2000);
});
