// Latent map: a Streamlit custom component (v2). Draws every point on a plain canvas,
// shows a hovered point's original + reconstruction (or the image decoded at the cursor)
// from client-side atlases, and sends clicks back to Python.
//
// Data (from explorer/latent_map.py): small JSON fields + "refs" to big payloads (points,
// atlases) that are content-addressed. A payload is sent only when this page does not have it
// yet ("blobs"); decoded payloads live in STORE for the life of the page. If a ref is missing
// (evicted, or a message was dropped), the component asks Python for it via the "missing"
// trigger.
//
// Text from data goes into the DOM through textContent only.

const STORE = (window.__latentMapStore = window.__latentMapStore || new Map()); // ref -> entry
const STORE_MAX = 12;
const INSTANCES = new WeakMap(); // parentElement -> LatentMap
window.__latentMaps = window.__latentMaps || {};
window.__latentMapStats = window.__latentMapStats || {};

// Paul Tol's "muted" qualitative scheme (colour-blind safe) + dark grey as a 10th colour.
const PALETTE = ["#CC6677", "#332288", "#DDCC77", "#117733", "#88CCEE",
                 "#882255", "#44AA99", "#999933", "#AA4499", "#555555"];
const HOVER_RADIUS_PX = 6;
const MARGIN = { left: 46, right: 10, top: 10, bottom: 30 };

function hexToRgb(h) {
  const v = parseInt(h.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}
const PALETTE_RGB = PALETTE.map(hexToRgb);

function viridis(t) { // polynomial fit of matplotlib's viridis (t in 0..1)
  t = Math.min(1, Math.max(0, t));
  const c = [[0.2777273272234177, 0.005407344544966578, 0.3340998053353061],
    [0.1050930431085774, 1.404613529898575, 1.384590162594685],
    [-0.3308618287255563, 0.214847559468213, 0.09509516302823659],
    [-4.634230498983486, -5.799100973351585, -19.33244095627987],
    [6.228269936347081, 14.17993336680509, 56.69055260068105],
    [4.776384997670288, -13.74514537774601, -65.35303263337234],
    [-5.435455855934631, 4.645852612178535, 26.3124352495832]];
  const out = [0, 0, 0];
  for (let k = 0; k < 3; k++) {
    let v = c[6][k];
    for (let j = 5; j >= 0; j--) v = c[j][k] + t * v;
    out[k] = Math.round(255 * Math.min(1, Math.max(0, v)));
  }
  return out;
}
const VIRIDIS = Array.from({ length: 256 }, (_, i) => viridis(i / 255));

function b64bytes(s) {
  if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(s);
  const bin = atob(s);
  const u = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
  return u;
}
function typed(s, dtype) {
  const u = b64bytes(s);
  const buf = u.byteOffset % 8 === 0 ? u.buffer : u.slice().buffer;
  const n = u.byteLength;
  switch (dtype) {
    case "f4": return new Float32Array(buf, u.byteOffset, n / 4);
    case "u1": return new Uint8Array(buf, u.byteOffset, n);
    case "u2": return new Uint16Array(buf, u.byteOffset, n / 2);
    case "i4": return new Int32Array(buf, u.byteOffset, n / 4);
    default: throw new Error("unknown dtype " + dtype);
  }
}

// ---------------------------------------------------------------- payload decoding (STORE)
function decodePoints(p) {
  const xy = typed(p.xy, "f4");
  const labels = p.labels ? typed(p.labels, p.labelsDtype) : null;
  const colors = p.colors ? typed(p.colors, "f4") : null;
  const n = p.n;
  // Draw order: a fixed shuffle so that no class systematically hides another.
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let s = 12345;
  for (let i = n - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    const t = order[i]; order[i] = order[j]; order[j] = t;
  }
  // Spatial grid index in data coordinates (counting sort).
  const [x0, x1, y0, y1] = p.bounds;
  const g = Math.max(1, Math.min(512, Math.ceil(Math.sqrt(n / 4))));
  const cw = (x1 - x0) / g || 1, ch = (y1 - y0) / g || 1;
  const cellOf = new Uint32Array(n);
  const counts = new Uint32Array(g * g + 1);
  for (let i = 0; i < n; i++) {
    let cx = Math.floor((xy[2 * i] - x0) / cw), cy = Math.floor((xy[2 * i + 1] - y0) / ch);
    cx = cx < 0 ? 0 : cx >= g ? g - 1 : cx; cy = cy < 0 ? 0 : cy >= g ? g - 1 : cy;
    const c = cy * g + cx; cellOf[i] = c; counts[c + 1]++;
  }
  for (let c = 0; c < g * g; c++) counts[c + 1] += counts[c];
  const fill = counts.slice(0, g * g);
  const sorted = new Uint32Array(n);
  for (let i = 0; i < n; i++) sorted[fill[cellOf[i]]++] = i;
  return { kind: "points", n, xy, labels, colors, colorRange: p.colorRange, bounds: p.bounds,
           order, index: { g, x0, y0, cw, ch, start: counts, items: sorted } };
}

// Decoding a PNG page into pixels (base64 -> bytes -> bitmap -> RGBA -> one channel) takes
// 150-450 ms of main-thread time per 2048x2048 page, ~2.2 s for 70k points in 8 pages, during
// which pan, zoom and hover stall. A Web Worker (from an inline source, so no extra file to
// serve) does it off the main thread; the main thread only receives the pixel buffers.
function decodePagePixels(bytes, channels, makeCanvas) {
  return createImageBitmap(new Blob([bytes], { type: "image/png" }),
    { premultiplyAlpha: "none", colorSpaceConversion: "none" }).then((bmp) => {
    const w = bmp.width, h = bmp.height;
    const ctx = makeCanvas(w, h).getContext("2d", { willReadFrequently: true });
    ctx.drawImage(bmp, 0, 0);
    bmp.close();
    const rgba = ctx.getImageData(0, 0, w, h).data;
    if (channels === 1) { // keep one byte per pixel (4x less memory)
      const g = new Uint8Array(w * h);
      for (let i = 0, k = 0; i < g.length; i++, k += 4) g[i] = rgba[k];
      return { w, h, data: g };
    }
    return { w, h, data: rgba };
  });
}

const WORKER_SRC = `
${b64bytes.toString()}
${decodePagePixels.toString()}
onmessage = (e) => {
  const { id, b64, channels } = e.data;
  decodePagePixels(b64bytes(b64), channels, (w, h) => new OffscreenCanvas(w, h)).then(
    (r) => postMessage({ id, w: r.w, h: r.h, data: r.data }, [r.data.buffer]),
    (err) => postMessage({ id, error: String(err && err.message || err) }));
};`;

let WORKER = null, WORKER_SEQ = 0;
const WORKER_WAIT = new Map();
function decodeWorker() {
  if (WORKER === null) {
    try {
      const url = URL.createObjectURL(new Blob([WORKER_SRC], { type: "text/javascript" }));
      WORKER = new Worker(url);
      WORKER.onmessage = (e) => {
        const cb = WORKER_WAIT.get(e.data.id);
        WORKER_WAIT.delete(e.data.id);
        if (cb) e.data.error ? cb.reject(new Error(e.data.error)) : cb.resolve(e.data);
      };
      WORKER.onerror = () => { WORKER = false; };
    } catch (err) {
      WORKER = false; // e.g. a page that forbids blob: workers: decode on the main thread
    }
  }
  return WORKER || null;
}

async function decodeAtlasPage(b64, channels) {
  const w = typeof OffscreenCanvas === "function" ? decodeWorker() : null;
  if (w) {
    try {
      const page = await new Promise((resolve, reject) => {
        const id = ++WORKER_SEQ;
        WORKER_WAIT.set(id, { resolve, reject });
        w.postMessage({ id, b64, channels });
      });
      window.__latentMapStats.workerPages = (window.__latentMapStats.workerPages || 0) + 1;
      return page;
    } catch (err) {
      console.warn("latent_map: worker decode failed, decoding on the main thread", err);
    }
  }
  return decodePagePixels(b64bytes(b64), channels, (cw, ch) =>
    typeof OffscreenCanvas === "function" ? new OffscreenCanvas(cw, ch)
      : Object.assign(document.createElement("canvas"), { width: cw, height: ch }));
}

async function decodeAtlas(p) {
  const t0 = performance.now();
  const pages = await Promise.all(p.pages.map((b) => decodeAtlasPage(b, p.channels)));
  return { kind: "atlas", count: p.count, cellW: p.cellW, cellH: p.cellH, cols: p.cols,
           perPage: p.perPage, channels: p.channels, pages, decodeMs: performance.now() - t0 };
}

function storePut(ref, payload) {
  if (STORE.has(ref)) return STORE.get(ref);
  const entry = { ref, value: null, promise: null, error: null, used: performance.now() };
  if (payload.kind === "points") {
    entry.value = decodePoints(payload);
  } else {
    entry.promise = decodeAtlas(payload).then((v) => { entry.value = v; return v; },
      (e) => { entry.error = e; console.error("latent_map: atlas decode failed", e); });
  }
  STORE.set(ref, entry);
  storeEvict();
  return entry;
}

function storeEvict() {
  if (STORE.size <= STORE_MAX) return;
  const live = new Set();
  for (const k of Object.keys(window.__latentMaps)) {
    const m = window.__latentMaps[k];
    if (m && m.refs) for (const r of m.refs()) live.add(r);
  }
  const entries = [...STORE.values()].filter((e) => !live.has(e.ref)).sort((a, b) => a.used - b.used);
  while (STORE.size > STORE_MAX && entries.length) STORE.delete(entries.shift().ref);
}

// ---------------------------------------------------------------- small helpers
function el(tag, cls, parent) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (parent) parent.appendChild(e);
  return e;
}
function niceTicks(lo, hi, target) {
  const span = hi - lo;
  if (!(span > 0) || !isFinite(span)) return [lo];
  const raw = span / Math.max(1, target);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / mag;
  const step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}
function fmt(v) {
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1);
  return String(+v.toPrecision(3));
}
function cssVar(node, name, fallback) {
  const v = getComputedStyle(node).getPropertyValue(name).trim();
  return v && v !== "unset" ? v : fallback;
}
function parseColor(c, fallback) {
  const m = /^#([0-9a-f]{6})$/i.exec(c);
  if (m) return hexToRgb(c);
  const r = /rgba?\((\d+)[ ,]+(\d+)[ ,]+(\d+)/i.exec(c);
  if (r) return [+r[1], +r[2], +r[3]];
  return fallback;
}

// ---------------------------------------------------------------- the component instance
class LatentMap {
  constructor(parent) {
    this.parent = parent;
    this.gen = 0;
    this.view = null;          // {cx, cy, s}: data centre and pixels per data unit (CSS px)
    this.hidden = new Set();   // hidden label values
    this.hover = null;         // {kind: "point"|"grid"|"none", index, x, y}
    this.stats = { points: 0, drawMs: 0, hoverMs: null, hoverEventMs: null, hoverKind: null,
                   hoverIndex: null, atlasesReady: false, updates: 0 };
    this.localEventId = 0;
    this.build();
  }

  build() {
    const root = el("div", "lm-root");
    this.root = root;
    const main = el("div", "lm-main", root);
    const mapBox = el("div", "lm-map", main);
    this.mapBox = mapBox;
    this.canvas = el("canvas", "lm-canvas", mapBox);
    this.overlay = el("canvas", "lm-overlay", mapBox);
    this.overlay.setAttribute("data-testid", "latent-map-canvas");
    this.resetBtn = el("button", "lm-reset", mapBox);
    this.resetBtn.type = "button";
    this.resetBtn.textContent = "reset view";
    this.resetBtn.title = "Reset zoom and pan (or double-click the map)";
    this.resetBtn.hidden = true;
    this.status = el("div", "lm-status", mapBox);

    const side = el("div", "lm-side", main);
    this.side = side;
    this.caption = el("div", "lm-caption", side);
    this.caption.setAttribute("data-testid", "latent-map-caption");
    this.slots = [0, 1].map(() => {
      const fig = el("figure", "lm-fig", side);
      const cv = el("canvas", "lm-img", fig);
      const cap = el("figcaption", "", fig);
      return { fig, cv, cap, ctx: cv.getContext("2d"), imgData: null };
    });
    this.coords = el("div", "lm-coords", side);
    this.hint = el("div", "lm-hint", side);
    this.hint.textContent = "Hover a point to see its image and reconstruction; hover empty " +
      "space to decode the latent code under the cursor. Click to select. Wheel: zoom, drag: pan.";
    this.colorbar = el("div", "lm-colorbar", side);

    this.legend = el("div", "lm-legend", root);
    this.parent.appendChild(root);

    this.ctx = this.canvas.getContext("2d");
    this.octx = this.overlay.getContext("2d");

    const on = (t, name, fn, opt) => { t.addEventListener(name, fn, opt); this.listeners.push([t, name, fn, opt]); };
    this.listeners = [];
    on(this.overlay, "mousemove", (e) => this.onMove(e));
    on(this.overlay, "mouseleave", () => this.setHover(null));
    on(this.overlay, "mousedown", (e) => this.onDown(e));
    on(window, "mousemove", (e) => this.onDrag(e));
    on(window, "mouseup", (e) => this.onUp(e));
    on(this.overlay, "wheel", (e) => this.onWheel(e), { passive: false });
    on(this.overlay, "dblclick", () => this.resetView());
    on(this.resetBtn, "click", () => this.resetView());
    this.ro = new ResizeObserver(() => this.resize());
    this.ro.observe(mapBox);
  }

  destroy() {
    for (const [t, name, fn, opt] of this.listeners) t.removeEventListener(name, fn, opt);
    this.ro.disconnect();
    if (this.root.parentNode) this.root.parentNode.removeChild(this.root);
    if (this.key && window.__latentMaps[this.key] === this.api) delete window.__latentMaps[this.key];
    INSTANCES.delete(this.parent);
  }

  refs() { return this.data ? Object.values(this.data.refs || {}).filter(Boolean) : []; }

  // ------------------------------------------------------------ data update from Python
  update(data, setStateValue, setTriggerValue) {
    this.setStateValue = setStateValue;
    this.setTriggerValue = setTriggerValue;
    const prev = this.data;
    this.data = data;
    this.key = data.key || "latent_map";
    this.stats.updates++;
    if (this.stats.firstUpdateAt == null) this.stats.firstUpdateAt = performance.now(); // ms since navigation start
    this.api = {
      refs: () => this.refs(),
      stats: this.stats,
      project: (i) => this.projectIndex(i),
      toClient: (x, y) => this.toClient(x, y),
      instance: this,
    };
    window.__latentMaps[this.key] = this.api;
    window.__latentMapStats = this.stats;
    this.root.style.height = (data.height || 560) + "px";
    this.root.setAttribute("data-key", this.key);

    // Put new payloads into the store, then resolve refs.
    for (const [ref, payload] of Object.entries(data.blobs || {})) storePut(ref, payload);
    const missing = [];
    const get = (ref) => {
      if (!ref) return null;
      const e = STORE.get(ref);
      if (!e) { missing.push(ref); return null; }
      e.used = performance.now();
      return e;
    };
    const refs = data.refs || {};
    const pe = get(refs.points), oe = get(refs.orig), re = get(refs.recon), ge = get(refs.grid);
    if (missing.length) {
      this.status.textContent = "loading…";
      if (this.setTriggerValue) this.setTriggerValue("missing", missing);
      return;
    }
    const pointsChanged = !prev || !this.points || this.points !== (pe && pe.value);
    this.points = pe ? pe.value : null;
    this.atlasEntries = { orig: oe, recon: re, grid: ge };
    this.labelNames = data.labelNames || [];
    this.grid = data.grid || null;
    if (pointsChanged) {
      const keepView = prev && prev.refs && prev.refs.points === refs.points && this.view;
      if (!keepView) { this.view = null; this.userView = false; }
      this.hover = null;
    }
    const pending = [oe, re, ge].filter((e) => e && !e.value && e.promise);
    this.stats.atlasesReady = pending.length === 0;
    if (!pending.length && this.stats.readyAt == null) this.stats.readyAt = performance.now();
    this.root.setAttribute("data-ready", pending.length ? "0" : "1");
    if (pending.length) {
      const gen = this.gen;
      Promise.all(pending.map((e) => e.promise)).then(() => {
        if (this.gen !== gen) return;
        this.stats.atlasesReady = true;
        this.stats.readyAt = performance.now();
        this.root.setAttribute("data-ready", "1");
        this.status.textContent = "";
        this.refreshHover();
      });
      this.status.textContent = "loading images…";
    } else {
      this.status.textContent = "";
    }
    this.buildLegend();
    this.buildColorbar();
    this.resize(true);
    this.refreshHover();
  }

  colorOf(i) {
    const p = this.points;
    if (p.colors) {
      const [lo, hi] = p.colorRange;
      const v = p.colors[i];
      if (!isFinite(v)) return [160, 160, 160];
      const t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
      return VIRIDIS[Math.max(0, Math.min(255, Math.round(t * 255)))];
    }
    const l = p.labels ? p.labels[i] : 0;
    return PALETTE_RGB[((l % PALETTE_RGB.length) + PALETTE_RGB.length) % PALETTE_RGB.length];
  }

  labelName(l) {
    return l >= 0 && l < this.labelNames.length ? String(this.labelNames[l]) : String(l);
  }

  buildLegend() {
    const p = this.points;
    this.legend.replaceChildren();
    if (!p || p.colors || !p.labels) { this.legend.hidden = true; return; }
    this.legend.hidden = false;
    const present = new Map();
    for (let i = 0; i < p.n; i++) present.set(p.labels[i], (present.get(p.labels[i]) || 0) + 1);
    const values = [...present.keys()].sort((a, b) => a - b);
    for (const v of values) {
      const item = el("button", "lm-legend-item", this.legend);
      item.type = "button";
      item.title = "Click to show/hide this class";
      const sw = el("span", "lm-swatch", item);
      sw.style.background = PALETTE[((v % PALETTE.length) + PALETTE.length) % PALETTE.length];
      const name = el("span", "", item);
      name.textContent = this.labelName(v);
      const cnt = el("span", "lm-count", item);
      cnt.textContent = present.get(v).toLocaleString();
      if (this.hidden.has(v)) item.classList.add("off");
      item.addEventListener("click", () => {
        if (this.hidden.has(v)) this.hidden.delete(v); else this.hidden.add(v);
        item.classList.toggle("off", this.hidden.has(v));
        this.drawPoints();
        this.drawOverlay();
      });
    }
  }

  buildColorbar() {
    const p = this.points;
    this.colorbar.replaceChildren();
    if (!p || !p.colors) { this.colorbar.hidden = true; return; }
    this.colorbar.hidden = false;
    const title = el("div", "lm-cb-title", this.colorbar);
    title.textContent = this.data.colorTitle || "value";
    const cv = el("canvas", "lm-cb-bar", this.colorbar);
    cv.width = 256; cv.height = 1;
    const c = cv.getContext("2d");
    const img = c.createImageData(256, 1);
    for (let i = 0; i < 256; i++) { const [r, g, b] = VIRIDIS[i]; img.data.set([r, g, b, 255], 4 * i); }
    c.putImageData(img, 0, 0);
    const lab = el("div", "lm-cb-labels", this.colorbar);
    const lo = el("span", "", lab), hi = el("span", "", lab);
    lo.textContent = fmt(p.colorRange[0]); hi.textContent = fmt(p.colorRange[1]);
  }

  // ------------------------------------------------------------ geometry
  resize(force) {
    const r = this.mapBox.getBoundingClientRect();
    const w = Math.max(50, Math.floor(r.width)), h = Math.max(50, Math.floor(r.height));
    const dpr = window.devicePixelRatio || 1;
    if (!force && this.size && this.size.w === w && this.size.h === h && this.size.dpr === dpr) return;
    this.size = { w, h, dpr };
    if (!this.userView) this.view = null; // refit unless the user zoomed or panned
    for (const c of [this.canvas, this.overlay]) {
      c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
      c.style.width = w + "px"; c.style.height = h + "px";
    }
    this.imageData = null;
    this.drawPoints();
    this.drawOverlay();
  }

  plotRect() {
    const { w, h } = this.size;
    return { x: MARGIN.left, y: MARGIN.top, w: Math.max(10, w - MARGIN.left - MARGIN.right),
             h: Math.max(10, h - MARGIN.top - MARGIN.bottom) };
  }

  fitView() {
    const p = this.points;
    let [x0, x1, y0, y1] = p ? p.bounds : [-3, 3, -3, 3];
    if (this.grid && this.grid.extent) { // the decoded grid is hoverable too: show all of it
      const [gx0, gx1, gy0, gy1] = this.grid.extent;
      if (!p || p.n === 0) [x0, x1, y0, y1] = [gx0, gx1, gy0, gy1];
      else { x0 = Math.min(x0, gx0); x1 = Math.max(x1, gx1); y0 = Math.min(y0, gy0); y1 = Math.max(y1, gy1); }
    }
    if (this.data.path) for (const [x, y] of this.data.path) {
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
    const pr = this.plotRect();
    const sx = (x1 - x0) || 1, sy = (y1 - y0) || 1;
    const s = Math.min(pr.w / sx, pr.h / sy) * 0.94; // equal aspect: distances mean the same both ways
    return { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, s };
  }

  ensureView() { if (!this.view) this.view = this.fitView(); return this.view; }

  // data -> CSS pixels inside the canvas
  dx(x) { const v = this.view, pr = this.plotRect(); return pr.x + pr.w / 2 + (x - v.cx) * v.s; }
  dy(y) { const v = this.view, pr = this.plotRect(); return pr.y + pr.h / 2 - (y - v.cy) * v.s; }
  ix(px) { const v = this.view, pr = this.plotRect(); return v.cx + (px - pr.x - pr.w / 2) / v.s; }
  iy(py) { const v = this.view, pr = this.plotRect(); return v.cy - (py - pr.y - pr.h / 2) / v.s; }

  toClient(x, y) {
    const r = this.overlay.getBoundingClientRect();
    return [r.left + this.dx(x), r.top + this.dy(y)];
  }
  projectIndex(i) {
    const p = this.points;
    return this.toClient(p.xy[2 * i], p.xy[2 * i + 1]);
  }

  // ------------------------------------------------------------ drawing
  drawPoints() {
    if (!this.size || !this.data) return;
    const t0 = performance.now();
    this.ensureView();
    const { w, h, dpr } = this.size;
    const W = this.canvas.width, H = this.canvas.height;
    const theme = this.theme();
    if (!this.imageData || this.imageData.width !== W || this.imageData.height !== H) {
      this.imageData = this.ctx.createImageData(W, H);
    }
    const buf = this.imageData.data;
    const [br, bg, bb] = theme.bg;
    const u32 = new Uint32Array(buf.buffer);
    u32.fill((255 << 24) | (bb << 16) | (bg << 8) | br); // little endian RGBA
    const p = this.points;
    let drawn = 0;
    if (p) {
      const n = p.n;
      const r = dpr * (n > 30000 ? 1.5 : n > 5000 ? 2.0 : n > 1000 ? 2.6 : 3.2);
      const alpha = n > 30000 ? 0.55 : n > 5000 ? 0.7 : 0.85;
      const R = Math.ceil(r + 0.5);
      const offs = [], wts = [];
      for (let oy = -R; oy <= R; oy++) for (let ox = -R; ox <= R; ox++) {
        const cov = Math.min(1, Math.max(0, r + 0.5 - Math.hypot(ox, oy)));
        if (cov > 0) { offs.push([ox, oy]); wts.push(cov * alpha); }
      }
      const pr = this.plotRect();
      const left = pr.x * dpr, top = pr.y * dpr, right = (pr.x + pr.w) * dpr, bottom = (pr.y + pr.h) * dpr;
      const v = this.view, sx = v.s * dpr, ox0 = (pr.x + pr.w / 2) * dpr, oy0 = (pr.y + pr.h / 2) * dpr;
      const xy = p.xy, order = p.order, labels = p.labels, hidden = this.hidden;
      const useHidden = hidden.size > 0 && labels && !p.colors;
      const K = offs.length;
      const dxs = new Int32Array(K), dys = new Int32Array(K), ws = new Float32Array(wts);
      for (let k = 0; k < K; k++) { dxs[k] = offs[k][0]; dys[k] = offs[k][1]; }
      for (let o = 0; o < n; o++) {
        const i = order[o];
        if (useHidden && hidden.has(labels[i])) continue;
        const px = Math.round(ox0 + (xy[2 * i] - v.cx) * sx);
        const py = Math.round(oy0 - (xy[2 * i + 1] - v.cy) * sx);
        if (px < left - R || px >= right + R || py < top - R || py >= bottom + R) continue;
        drawn++;
        const c = this.colorOf(i);
        const cr = c[0], cg = c[1], cb = c[2];
        for (let k = 0; k < K; k++) {
          const x = px + dxs[k], y = py + dys[k];
          if (x < left || x >= right || y < top || y >= bottom) continue;
          const idx = (y * W + x) * 4, a = ws[k];
          buf[idx] += (cr - buf[idx]) * a;
          buf[idx + 1] += (cg - buf[idx + 1]) * a;
          buf[idx + 2] += (cb - buf[idx + 2]) * a;
        }
      }
    }
    this.ctx.putImageData(this.imageData, 0, 0);
    this.drawAxes(theme);
    const ms = performance.now() - t0;
    this.stats.drawMs = ms;
    this.stats.points = drawn;
    this.stats.totalPoints = p ? p.n : 0;
    this.root.setAttribute("data-points", String(drawn));
    this.root.setAttribute("data-draw-ms", ms.toFixed(1));
    const changed = this.view && this.initialView &&
      (this.view.cx !== this.initialView.cx || this.view.cy !== this.initialView.cy || this.view.s !== this.initialView.s);
    this.resetBtn.hidden = !changed;
  }

  theme() {
    const bg = parseColor(cssVar(this.root, "--st-background-color", "#ffffff"), [255, 255, 255]);
    const text = cssVar(this.root, "--st-text-color", "#31333f");
    const font = cssVar(this.root, "--st-font", "sans-serif");
    return { bg, text, font, dark: bg[0] + bg[1] + bg[2] < 384 };
  }

  drawAxes(theme) {
    const ctx = this.ctx, dpr = this.size.dpr, pr = this.plotRect();
    ctx.save();
    ctx.scale(dpr, dpr);
    ctx.strokeStyle = theme.dark ? "rgba(255,255,255,0.35)" : "rgba(0,0,0,0.35)";
    ctx.lineWidth = 1;
    ctx.strokeRect(pr.x + 0.5, pr.y + 0.5, pr.w - 1, pr.h - 1);
    ctx.fillStyle = theme.text;
    ctx.font = `13px ${theme.font}`;
    const xt = niceTicks(this.ix(pr.x), this.ix(pr.x + pr.w), Math.max(2, Math.floor(pr.w / 90)));
    const yt = niceTicks(this.iy(pr.y + pr.h), this.iy(pr.y), Math.max(2, Math.floor(pr.h / 60)));
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    ctx.beginPath();
    for (const t of xt) {
      const x = Math.round(this.dx(t)) + 0.5;
      if (x < pr.x || x > pr.x + pr.w) continue;
      ctx.moveTo(x, pr.y + pr.h); ctx.lineTo(x, pr.y + pr.h + 4);
      ctx.fillText(fmt(t), x, pr.y + pr.h + 6);
    }
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    for (const t of yt) {
      const y = Math.round(this.dy(t)) + 0.5;
      if (y < pr.y || y > pr.y + pr.h) continue;
      ctx.moveTo(pr.x - 4, y); ctx.lineTo(pr.x, y);
      ctx.fillText(fmt(t), pr.x - 6, y);
    }
    ctx.stroke();
    ctx.restore();
  }

  drawOverlay() {
    if (!this.size || !this.data) return;
    this.ensureView();
    const ctx = this.octx, dpr = this.size.dpr, pr = this.plotRect();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.overlay.width, this.overlay.height);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.save();
    ctx.beginPath(); ctx.rect(pr.x, pr.y, pr.w, pr.h); ctx.clip();
    const theme = this.theme();
    const ink = theme.dark ? "#ffffff" : "#000000";
    // Interpolation path
    const path = this.data.path;
    if (path && path.length) {
      ctx.lineWidth = 2.5; ctx.strokeStyle = ink; ctx.globalAlpha = 0.85;
      ctx.beginPath();
      path.forEach(([x, y], k) => (k ? ctx.lineTo(this.dx(x), this.dy(y)) : ctx.moveTo(this.dx(x), this.dy(y))));
      ctx.stroke();
      ctx.fillStyle = ink;
      for (const [x, y] of path) { ctx.beginPath(); ctx.arc(this.dx(x), this.dy(y), 2.5, 0, 2 * Math.PI); ctx.fill(); }
      ctx.globalAlpha = 1;
    }
    // Selected points (A, B, ...)
    const sel = this.data.selected || [];
    const p = this.points;
    ctx.font = `bold 13px ${theme.font}`;
    sel.forEach((i, k) => {
      if (!p || i == null || i < 0 || i >= p.n) return;
      const x = this.dx(p.xy[2 * i]), y = this.dy(p.xy[2 * i + 1]);
      ctx.lineWidth = 3; ctx.strokeStyle = theme.dark ? "#000" : "#fff";
      ctx.beginPath(); ctx.arc(x, y, 8, 0, 2 * Math.PI); ctx.stroke();
      ctx.lineWidth = 2; ctx.strokeStyle = ink;
      ctx.beginPath(); ctx.arc(x, y, 8, 0, 2 * Math.PI); ctx.stroke();
      const name = String.fromCharCode(65 + k);
      ctx.lineWidth = 3; ctx.strokeStyle = theme.dark ? "#000" : "#fff";
      ctx.strokeText(name, x + 10, y - 10);
      ctx.fillStyle = ink; ctx.fillText(name, x + 10, y - 10);
    });
    // Hover highlight
    const hv = this.hover;
    if (hv && hv.kind === "point" && p) {
      const x = this.dx(p.xy[2 * hv.index]), y = this.dy(p.xy[2 * hv.index + 1]);
      ctx.lineWidth = 2; ctx.strokeStyle = ink;
      ctx.beginPath(); ctx.arc(x, y, 6, 0, 2 * Math.PI); ctx.stroke();
    } else if (hv && hv.kind === "grid" && this.grid) {
      const [gx0, gx1, gy0, gy1] = this.grid.extent, g = this.grid.g;
      const cw = (gx1 - gx0) / g, ch = (gy1 - gy0) / g;
      const cx0 = gx0 + hv.col * cw, cy1 = gy1 - hv.row * ch;
      ctx.lineWidth = 1; ctx.strokeStyle = ink; ctx.setLineDash([3, 3]);
      ctx.strokeRect(this.dx(cx0), this.dy(cy1), cw * this.view.s, ch * this.view.s);
      ctx.setLineDash([]);
    }
    ctx.restore();
  }

  // ------------------------------------------------------------ hover
  nearest(px, py) {
    const p = this.points;
    if (!p || !p.n) return -1;
    const v = this.view, ix = p.index;
    const x = this.ix(px), y = this.iy(py);
    const rd = HOVER_RADIUS_PX / v.s;
    const g = ix.g;
    const cx0 = Math.max(0, Math.floor((x - rd - ix.x0) / ix.cw)), cx1 = Math.min(g - 1, Math.floor((x + rd - ix.x0) / ix.cw));
    const cy0 = Math.max(0, Math.floor((y - rd - ix.y0) / ix.ch)), cy1 = Math.min(g - 1, Math.floor((y + rd - ix.y0) / ix.ch));
    let best = -1, bestD = rd * rd;
    const xy = p.xy, labels = p.labels, hidden = this.hidden, useHidden = hidden.size > 0 && labels && !p.colors;
    for (let cy = cy0; cy <= cy1; cy++) for (let cx = cx0; cx <= cx1; cx++) {
      const c = cy * g + cx;
      for (let k = ix.start[c], e = ix.start[c + 1]; k < e; k++) {
        const i = ix.items[k];
        const ddx = xy[2 * i] - x, ddy = xy[2 * i + 1] - y, d = ddx * ddx + ddy * ddy;
        if (d <= bestD && !(useHidden && hidden.has(labels[i]))) { bestD = d; best = i; }
      }
    }
    return best;
  }

  localXY(e) {
    const r = this.overlay.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  }

  onMove(e) {
    if (this.drag && this.drag.moved) return;
    const t0 = performance.now();
    const [px, py] = this.localXY(e);
    const pr = this.plotRect();
    if (!this.points || px < pr.x || px > pr.x + pr.w || py < pr.y || py > pr.y + pr.h) { this.setHover(null); return; }
    const i = this.nearest(px, py);
    const x = this.ix(px), y = this.iy(py);
    if (i >= 0) this.setHover({ kind: "point", index: i, x, y });
    else {
      const cell = this.gridCell(x, y);
      this.setHover(cell ? { kind: "grid", row: cell[0], col: cell[1], x, y } : { kind: "none", x, y });
    }
    const t1 = performance.now();
    this.stats.hoverMs = t1 - t0;
    this.stats.hoverEventMs = t1 - e.timeStamp;
    this.stats.hoverKind = this.hover ? this.hover.kind : null;
    this.stats.hoverIndex = this.hover && this.hover.kind === "point" ? this.hover.index : null;
    this.stats.hoverCount = (this.stats.hoverCount || 0) + 1;
    const ts = e.timeStamp, count = this.stats.hoverCount;
    requestAnimationFrame(() => { // the next frame (the one that shows the image) starts
      if (this.stats.hoverCount === count) this.stats.hoverFrameMs = performance.now() - ts;
    });
  }

  gridCell(x, y) {
    const gr = this.grid;
    if (!gr || !gr.extent) return null;
    const [x0, x1, y0, y1] = gr.extent, g = gr.g;
    if (!(x >= x0 && x <= x1 && y >= y0 && y <= y1) || x1 <= x0 || y1 <= y0) return null;
    const col = Math.min(g - 1, Math.floor((x - x0) / (x1 - x0) * g));
    const row = Math.min(g - 1, Math.floor((y1 - y) / (y1 - y0) * g));
    return [row, col];
  }

  setHover(h) {
    const old = this.hover;
    this.hover = h;
    const same = old && h && old.kind === h.kind &&
      (h.kind === "point" ? old.index === h.index : h.kind === "grid" ? old.row === h.row && old.col === h.col : false);
    if (!same) { this.showPanel(); this.drawOverlay(); }
    else if (h) this.showCoords(h);
    this.root.setAttribute("data-hover-kind", h ? h.kind : "");
    this.root.setAttribute("data-hover-index", h && h.kind === "point" ? String(h.index) : "");
  }

  refreshHover() { this.showPanel(); this.drawOverlay(); }

  showCoords(h) { this.coords.textContent = h ? `z = (${fmt(h.x)}, ${fmt(h.y)})` : ""; }

  putCell(slot, entry, i, label) {
    const s = this.slots[slot];
    s.fig.hidden = false;
    s.cap.textContent = label;
    const a = entry && entry.value;
    if (!a) {
      s.fig.classList.add("empty");
      if (entry && !entry.value) s.cap.textContent = label + " (loading…)";
      return false;
    }
    s.fig.classList.remove("empty");
    const cw = a.cellW, ch = a.cellH;
    if (s.cv.width !== cw || s.cv.height !== ch) { s.cv.width = cw; s.cv.height = ch; s.imgData = null; }
    if (!s.imgData) s.imgData = s.ctx.createImageData(cw, ch);
    const out = s.imgData.data;
    const pIdx = Math.floor(i / a.perPage), j = i - pIdx * a.perPage;
    const row = Math.floor(j / a.cols), col = j - row * a.cols;
    const page = a.pages[pIdx], pw = page.w, src = page.data;
    const x0 = col * cw, y0 = row * ch;
    if (a.channels === 1) {
      for (let y = 0, k = 0; y < ch; y++) {
        let q = (y0 + y) * pw + x0;
        for (let x = 0; x < cw; x++, k += 4, q++) { const v = src[q]; out[k] = v; out[k + 1] = v; out[k + 2] = v; out[k + 3] = 255; }
      }
    } else {
      for (let y = 0; y < ch; y++) {
        const q = ((y0 + y) * pw + x0) * 4;
        out.set(src.subarray(q, q + cw * 4), y * cw * 4);
      }
    }
    s.ctx.putImageData(s.imgData, 0, 0);
    return true;
  }

  showPanel() {
    const h = this.hover, A = this.atlasEntries || {};
    this.showCoords(h);
    if (!h || h.kind === "none") {
      this.caption.textContent = h ? "outside the decoded grid" : "";
      this.slots.forEach((s) => (s.fig.hidden = true));
      this.hint.hidden = !!h;
      return;
    }
    this.hint.hidden = true;
    if (h.kind === "point") {
      const l = this.points.labels ? this.points.labels[h.index] : null;
      let cap = `data point #${h.index}`;
      if (l !== null && !this.points.colors) cap += ` · ${this.labelName(l)}`;
      else if (this.points.colors) cap += ` · ${this.data.colorTitle || "value"} ${fmt(this.points.colors[h.index])}${l !== null ? " · " + this.labelName(l) : ""}`;
      this.caption.textContent = cap;
      if (A.orig) this.putCell(0, A.orig, h.index, "original");
      else { this.slots[0].fig.hidden = false; this.slots[0].fig.classList.add("empty"); this.slots[0].cap.textContent = "original not available (dataset absent)"; }
      if (A.recon) this.putCell(1, A.recon, h.index, "reconstruction");
      else this.slots[1].fig.hidden = true;
    } else if (h.kind === "grid") {
      const g = this.grid.g;
      this.caption.textContent = `decoded at cursor (grid ${g}×${g})`;
      this.putCell(0, A.grid, h.row * g + h.col, "decoder output");
      this.slots[1].fig.hidden = true;
    }
  }

  // ------------------------------------------------------------ zoom / pan / click
  onDown(e) {
    if (e.button !== 0) return;
    const [px, py] = this.localXY(e);
    this.drag = { px, py, view: { ...this.ensureView() }, moved: false, shift: e.shiftKey };
    e.preventDefault();
  }
  onDrag(e) {
    const d = this.drag;
    if (!d) return;
    const [px, py] = this.localXY(e);
    if (!d.moved && Math.hypot(px - d.px, py - d.py) < 4) return;
    d.moved = true;
    this.overlay.style.cursor = "grabbing";
    this.userView = true;
    this.view = { cx: d.view.cx - (px - d.px) / d.view.s, cy: d.view.cy + (py - d.py) / d.view.s, s: d.view.s };
    this.scheduleDraw();
  }
  onUp(e) {
    const d = this.drag;
    this.drag = null;
    if (!d) return;
    this.overlay.style.cursor = "";
    if (d.moved) return;
    const [px, py] = this.localXY(e);
    const pr = this.plotRect();
    if (px < pr.x || px > pr.x + pr.w || py < pr.y || py > pr.y + pr.h) return;
    const i = this.nearest(px, py);
    const x = this.ix(px), y = this.iy(py);
    this.localEventId = Math.max(this.localEventId, this.data.lastEventId || 0) + 1;
    const ev = { type: "click", index: i >= 0 ? i : null, xy: [x, y], id: this.localEventId, shift: !!d.shift };
    if (this.setStateValue) this.setStateValue("event", ev);
  }
  onWheel(e) {
    e.preventDefault();
    const [px, py] = this.localXY(e);
    const v = this.ensureView();
    const x = this.ix(px), y = this.iy(py);
    const f = Math.pow(1.0015, -e.deltaY * (e.deltaMode === 1 ? 33 : 1));
    const s = Math.min(Math.max(v.s * f, this.initialView.s / 4), this.initialView.s * 500);
    const pr = this.plotRect();
    this.userView = true;
    this.view = { s, cx: x - (px - pr.x - pr.w / 2) / s, cy: y + (py - pr.y - pr.h / 2) / s };
    this.scheduleDraw();
  }
  resetView() {
    this.userView = false;
    this.view = this.fitView();
    this.initialView = { ...this.view };
    this.scheduleDraw();
  }
  scheduleDraw() {
    if (this.rafPending) return;
    this.rafPending = true;
    requestAnimationFrame(() => { this.rafPending = false; this.drawPoints(); this.drawOverlay(); });
  }
}

// Patch ensureView so that the initial fitted view is remembered (for the reset button).
const _ensure = LatentMap.prototype.ensureView;
LatentMap.prototype.ensureView = function () {
  if (!this.view) { this.view = this.fitView(); this.initialView = { ...this.view }; }
  return _ensure.call(this);
};

// Python sends the data dict as UTF-8 JSON bytes (see latent_map.py: a dict would make
// Streamlit import pandas to look for dataframes in it, ~0.5 s on the first render).
function decodeData(data) {
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return JSON.parse(new TextDecoder().decode(bytes));
  }
  return data;
}

export default function (component) {
  const { parentElement, setStateValue, setTriggerValue } = component;
  let data;
  try { data = decodeData(component.data); } catch (err) { console.error("latent_map: bad data", err); return; }
  if (!data || typeof data !== "object") return;
  let inst = INSTANCES.get(parentElement);
  if (!inst) { inst = new LatentMap(parentElement); INSTANCES.set(parentElement, inst); }
  const gen = ++inst.gen;
  try {
    inst.update(data, setStateValue, setTriggerValue);
  } catch (err) {
    console.error("latent_map update failed", err);
    inst.status.textContent = "latent map error: " + (err && err.message ? err.message : String(err));
  }
  // Streamlit calls the cleanup of an out-of-date render right away; only the latest may destroy.
  return () => { if (inst.gen === gen) inst.destroy(); };
}
