// Latent map: a Streamlit custom component (v2). Draws every point on a plain canvas,
// shows a hovered point's original + reconstruction (or the image decoded at the cursor)
// from client-side atlases, and sends clicks back to Python.
//
// Data (from vae_explorer/latent_map.py): small JSON fields + "refs" to big payloads (points,
// atlases) that are content-addressed. A payload is sent only when this page does not have it
// yet ("blobs"); decoded payloads live in STORE for the life of the page. If a ref is missing
// (evicted, or a message was dropped), the component asks Python for it via the "missing"
// trigger.
//
// Text from data goes into the DOM through textContent only.

const STORE = (window.__latentMapStore = window.__latentMapStore || new Map()); // ref -> entry
const STORE_MAX = 18; // points, 3 atlases, up to 6 window grids per map, + spare
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
// A cyclic factor (a hue in turns, 0..1) is drawn in its own hue: 0 and 1 meet, as they should.
function hueRgb(t) {
  const h = 6 * (((t % 1) + 1) % 1), s = 0.75, v = 0.9, c = v * s;
  const x = c * (1 - Math.abs((h % 2) - 1)), m = v - c;
  const [r, g, b] = h < 1 ? [c, x, 0] : h < 2 ? [x, c, 0] : h < 3 ? [0, c, x]
    : h < 4 ? [0, x, c] : h < 5 ? [x, 0, c] : [c, 0, x];
  return [r, g, b].map(u => Math.round(255 * (u + m)));
}
const HUE = Array.from({ length: 256 }, (_, i) => hueRgb(i / 256));
const SCALES = { viridis: VIRIDIS, hue: HUE };
function scaleOf(data) { return SCALES[data && data.colorScale] || VIRIDIS; }

function b64bytes(s) {
  if (s instanceof Uint8Array) return s; // sent raw (entry.js decodeData)
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
// The map's own atlases come as "deflate" pages (vae_explorer/atlas.py encode_deflate): the raw
// pixels zlib-compressed, each value kept to `bits` bits. Inflating one is ~15 ms, where an
// image format's decode and canvas read-back took 60-90 ms of the same two cores.
function inflatePage(bytes, channels, shape, bits) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Response(stream).arrayBuffer().then((buf) => {
    const h = shape[0], w = shape[1], raw = new Uint8Array(buf);
    if (raw.length !== w * h * channels) {
      throw new Error(`atlas page of ${raw.length} bytes, not ${w}x${h}x${channels}`);
    }
    if (bits < 8) { // back to 0..255 as atlas.dequantize does
      const top = (1 << bits) - 1, lut = new Uint8Array(top + 1);
      for (let v = 0; v <= top; v++) lut[v] = Math.round((v * 255) / top);
      for (let i = 0; i < raw.length; i++) raw[i] = lut[raw[i]];
    }
    if (channels === 1) return { w, h, data: raw };
    const rgba = new Uint8Array(w * h * 4); // colour pages are read as RGBA (hover.js putCell)
    for (let i = 0, k = 0, q = 0; i < w * h; i++, k += 4, q += 3) {
      rgba[k] = raw[q]; rgba[k + 1] = raw[q + 1]; rgba[k + 2] = raw[q + 2]; rgba[k + 3] = 255;
    }
    return { w, h, data: rgba };
  });
}

function decodePagePixels(bytes, channels, makeCanvas, type, shape, bits) {
  if (type === "deflate") return inflatePage(bytes, channels, shape, bits);
  return createImageBitmap(new Blob([bytes], { type: type || "image/png" }),
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
${inflatePage.toString()}
${decodePagePixels.toString()}
onmessage = (e) => {
  const { id, b64, channels, type, shape, bits } = e.data;
  const canvas = (w, h) => new OffscreenCanvas(w, h);
  decodePagePixels(b64bytes(b64), channels, canvas, type, shape, bits).then(
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

async function decodeAtlasPage(b64, channels, type, shape, bits) {
  const w = typeof OffscreenCanvas === "function" ? decodeWorker() : null;
  if (w) {
    try {
      const page = await new Promise((resolve, reject) => {
        const id = ++WORKER_SEQ;
        WORKER_WAIT.set(id, { resolve, reject });
        // copied, not transferred: the fallback may need it
        w.postMessage({ id, b64, channels, type, shape, bits });
      });
      window.__latentMapStats.workerPages = (window.__latentMapStats.workerPages || 0) + 1;
      return page;
    } catch (err) {
      console.warn("latent_map: worker decode failed, decoding on the main thread", err);
    }
  }
  return decodePagePixels(b64bytes(b64), channels, (cw, ch) =>
    typeof OffscreenCanvas === "function" ? new OffscreenCanvas(cw, ch)
      : Object.assign(document.createElement("canvas"), { width: cw, height: ch }),
  type, shape, bits);
}

async function decodeAtlas(p) {
  const t0 = performance.now();
  const type = p.format === "deflate" ? "deflate" : "image/" + (p.format || "png");
  const pages = await Promise.all(p.pages.map((b, i) =>
    decodeAtlasPage(b, p.channels, type, (p.pageShapes || [])[i], p.bits || 8)));
  const a = { kind: "atlas", count: p.count, cellW: p.cellW, cellH: p.cellH, cols: p.cols,
              perPage: p.perPage, channels: p.channels, pages, decodeMs: performance.now() - t0 };
  if (p.zhead) { // decoded grids of projected maps: the latent of each cell (first dims, norm)
    a.zhead = typed(p.zhead, "f4"); a.znorm = typed(p.znorm, "f4"); a.zdim = p.zdim;
    a.zheadDims = Math.max(1, Math.round(a.zhead.length / p.count));
  }
  return a;
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

