// Selection: box and lasso gestures, two named selections (S1, S2) as bitsets, the map's own
// toolbar (mode, target, clear / invert / isolate), search results and latent neighbours.
//
// A selection is a bitset (bit i of byte i >> 3, least significant first; vae_explorer/selection.py
// decodes the same). The hit test runs over the points' screen coordinates: the polygon's
// bounding box picks cells of the points' spatial grid, then a bounding-box check and ray
// casting per candidate, with no allocation per point. Python gets one value per gesture
// ("selection": {slot, bits, count, seq}) and sends the selections back with every render; a
// render older than the last gesture (seq) does not overwrite it.

const SLOTS = ["s1", "s2"];
const DIM = 0.12; // alpha factor of points outside the selection (or the search results)
// Outline colours of S1 and S2 (Paul Tol's "vibrant" blue and magenta: apart from the label
// palette, the search rings' red and the neighbours' orange).
const SEL_COLORS = { s1: "#0077BB", s2: "#EE3377" };
const SEL_RGB = { s1: hexToRgb(SEL_COLORS.s1), s2: hexToRgb(SEL_COLORS.s2) };

// Points of `p` whose screen position (px = ox + (x - cx) * sx, py = oy - (y - cy) * sy) lies
// inside `poly` (flat [x0, y0, x1, y1, ...] screen coordinates) and for which keep(i) is true
// (or keep is null): their bits are set in `out` (cleared first). Returns the count.
// A hand-drawn lasso has hundreds of vertices: testing every edge for every point cost 75 ms at
// 70,000 points. The edges are bucketed into horizontal bands once per gesture, so a point's
// ray meets only the few edges of its band (the same crossings, so the same answer).
function hitPolygon(p, tx, poly, keep, out) {
  out.fill(0);
  const m = poly.length >> 1;
  if (m < 3 || !p || !p.n) return 0;
  let bx0 = Infinity, bx1 = -Infinity, by0 = Infinity, by1 = -Infinity;
  for (let k = 0; k < m; k++) {
    const x = poly[2 * k], y = poly[2 * k + 1];
    if (x < bx0) bx0 = x; if (x > bx1) bx1 = x; if (y < by0) by0 = y; if (y > by1) by1 = y;
  }
  const nb = Math.max(1, Math.min(1024, Math.ceil((by1 - by0) / 2)));
  const bh = (by1 - by0) / nb || 1;
  const band = (y) => { const b = Math.floor((y - by0) / bh); return b < 0 ? 0 : b >= nb ? nb - 1 : b; };
  const start = new Int32Array(nb + 1);
  for (let a = 0, b = m - 1; a < m; b = a++) {
    const ya = poly[2 * a + 1], yb = poly[2 * b + 1];
    if (ya === yb) continue; // a horizontal edge never crosses a horizontal ray
    for (let k = band(Math.min(ya, yb)), e = band(Math.max(ya, yb)); k <= e; k++) start[k + 1]++;
  }
  for (let k = 0; k < nb; k++) start[k + 1] += start[k];
  const edges = new Int32Array(start[nb]), fill = start.slice(0, nb);
  for (let a = 0, b = m - 1; a < m; b = a++) {
    const ya = poly[2 * a + 1], yb = poly[2 * b + 1];
    if (ya === yb) continue;
    for (let k = band(Math.min(ya, yb)), e = band(Math.max(ya, yb)); k <= e; k++) edges[fill[k]++] = a;
  }
  const { ox, oy, sx, sy, cx, cy } = tx;
  // the box in data coordinates -> the cells of the spatial grid it covers
  const dx0 = cx + (bx0 - ox) / sx, dx1 = cx + (bx1 - ox) / sx;
  const dy0 = cy - (by1 - oy) / sy, dy1 = cy - (by0 - oy) / sy;
  const ix = p.index, g = ix.g, xy = p.xy;
  const c0 = Math.max(0, Math.floor((dx0 - ix.x0) / ix.cw)), c1 = Math.min(g - 1, Math.floor((dx1 - ix.x0) / ix.cw));
  const r0 = Math.max(0, Math.floor((dy0 - ix.y0) / ix.ch)), r1 = Math.min(g - 1, Math.floor((dy1 - ix.y0) / ix.ch));
  let count = 0;
  for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) {
    const cell = r * g + c;
    for (let k = ix.start[cell], e = ix.start[cell + 1]; k < e; k++) {
      const i = ix.items[k];
      const px = ox + (xy[2 * i] - cx) * sx, py = oy - (xy[2 * i + 1] - cy) * sy;
      if (px < bx0 || px > bx1 || py < by0 || py > by1) continue;
      let inside = false;
      const bk = band(py);
      for (let q = start[bk], qe = start[bk + 1]; q < qe; q++) {
        const a = edges[q], b = a === 0 ? m - 1 : a - 1;
        const ya = poly[2 * a + 1], yb = poly[2 * b + 1];
        if ((ya > py) !== (yb > py)) {
          const xa = poly[2 * a], xb = poly[2 * b];
          if (px < (xb - xa) * (py - ya) / (yb - ya) + xa) inside = !inside;
        }
      }
      if (inside && (keep === null || keep(i))) { out[i >> 3] |= 1 << (i & 7); count++; }
    }
  }
  return count;
}

function bitCount(bits) {
  let c = 0;
  for (let k = 0; k < bits.length; k++) { let v = bits[k]; while (v) { v &= v - 1; c++; } }
  return c;
}
function bitsToB64(bits) {
  if (typeof bits.toBase64 === "function") return bits.toBase64();
  let s = "";
  for (let k = 0; k < bits.length; k += 0x8000) s += String.fromCharCode.apply(null, bits.subarray(k, k + 0x8000));
  return btoa(s);
}
function bitsFromB64(s, n) {
  const want = (n + 7) >> 3;
  if (!s) return null;
  const u = b64bytes(s);
  return u.length === want ? u : null;
}

Object.assign(LatentMap.prototype, {
  buildToolbar(root) {
    this.mode = "pan";
    this.slot = "s1";
    this.sel = { s1: null, s2: null };
    this.selSeq = 0;
    this.isolate = false;
    const bar = this.toolbar = el("div", "lm-toolbar");
    root.prepend(bar);
    bar.setAttribute("data-testid", "latent-map-toolbar");
    const group = (title) => { const g = el("div", "lm-group", bar); g.title = title; return g; };
    const btn = (g, text, name, fn, tip) => {
      const b = el("button", "lm-tool", g);
      b.type = "button"; b.textContent = text; b.title = tip; b.dataset.tool = name;
      b.addEventListener("click", fn);
      return b;
    };
    const modes = group("What a drag on the map does");
    this.modeBtns = [["pan", "Pan", "Drag pans the map (shift-drag adds a box to the selection, alt-drag removes one)"],
      ["box", "Box", "Drag selects the points in a rectangle (shift: add to the selection, alt: remove)"],
      ["lasso", "Lasso", "Drag draws a free shape; the points inside are selected (shift: add, alt: remove)"]]
      .map(([m, t, tip]) => btn(modes, t, m, () => { this.mode = m; this.syncToolbar(); }, tip));
    const slots = group("Which selection a drag sets");
    this.slotBtns = SLOTS.map((s) => btn(slots, s.toUpperCase(), s, () => { this.slot = s; this.syncToolbar(); },
      `The next selection gesture sets ${s.toUpperCase()}`));
    const acts = group("Change the selection the buttons on the left name");
    btn(acts, "Clear", "clear", () => this.setSelection(this.slot, null), "Clear this selection");
    btn(acts, "Invert", "invert", () => this.invertSelection(), "Select every other point instead");
    this.isolateBtn = btn(acts, "Isolate", "isolate", () => { this.isolate = !this.isolate; this.syncToolbar(); this.scheduleDraw(); },
      "Show only the selected points");
    const out = group("Save the map");
    btn(out, "PNG", "png", () => this.exportPng(),
      "Download the map as drawn (this zoom and colouring) with its legend, as a PNG");
    this.selInfo = el("span", "lm-selinfo", bar);
    this.selInfo.setAttribute("data-testid", "latent-map-selinfo");
    this.syncToolbar();
  },

  syncToolbar() {
    for (const b of this.modeBtns) b.setAttribute("aria-pressed", String(b.dataset.tool === this.mode));
    for (const b of this.slotBtns) b.setAttribute("aria-pressed", String(b.dataset.tool === this.slot));
    this.isolateBtn.setAttribute("aria-pressed", String(this.isolate));
    const c = SLOTS.map((s) => this.sel[s] ? bitCount(this.sel[s]) : 0);
    this.selCounts = { s1: c[0], s2: c[1] };
    this.hlBits = this.highlightBits();
    this.selInfo.textContent = SLOTS.map((s, k) => `${s.toUpperCase()}: ${c[k] ? c[k].toLocaleString() : "—"}`).join(" · ") +
      (this.found ? ` · found: ${this.found.count.toLocaleString()}` : "");
    this.overlay.style.cursor = this.mode === "pan" ? "" : "crosshair";
    this.buildSelLegend();
    this.root.setAttribute("data-sel-s1", String(c[0]));
    this.root.setAttribute("data-sel-s2", String(c[1]));
  },

  // From Python on every render: selections (unless older than our last gesture), search
  // results and neighbours.
  updateSelection(data) {
    const n = this.points ? this.points.n : 0;
    const s = data.selections || {};
    this.toolbar.hidden = !data.select;
    if (!data.select) this.mode = "pan";
    if ((s.seq || 0) >= this.selSeq) {
      this.selSeq = s.seq || 0;
      for (const k of SLOTS) this.sel[k] = bitsFromB64(s[k], n);
    }
    const f = data.found;
    const prevId = this.found ? this.found.id : null;
    this.found = f && f.bits ? { id: f.id, count: f.count, bits: bitsFromB64(f.bits, n), list: f.list || [] } : null;
    if (this.found && !this.found.bits) this.found = null;
    if (this.found && this.found.id !== prevId) this.zoomToBits(this.found.bits);
    this.neigh = data.neighbours || null;
    this.syncToolbar();
  },

  // The active highlight as one bitset (search results first, else S1 | S2), made when either
  // changes so that a redraw reads one byte a point.
  highlightBits() {
    if (this.found) return this.found.bits;
    const a = this.sel.s1, c = this.sel.s2;
    if (!a || !c) return a || c || null;
    const out = new Uint8Array(a.length);
    for (let k = 0; k < a.length; k++) out[k] = a[k] | c[k];
    return out;
  },
  inSel(i) { const b = this.hlBits; return b ? (b[i >> 3] >> (i & 7)) & 1 : 0; },
  highlighting() { return !!this.hlBits; },
  isolated() { return this.isolate && this.highlighting(); },

  screenTransform() {
    const v = this.ensureView(), pr = this.plotRect();
    return { ox: pr.x + pr.w / 2, oy: pr.y + pr.h / 2, sx: v.sx, sy: v.sy, cx: v.cx, cy: v.cy };
  },

  visibleFn() {
    const p = this.points, hidden = this.hidden;
    const useHidden = hidden.size > 0 && p.labels && !p.colors;
    const iso = this.isolated();
    if (!useHidden && !iso) return null;
    return (i) => !(useHidden && hidden.has(p.labels[i])) && (!iso || this.inSel(i) === 1);
  },

  // poly: flat screen coordinates (CSS px in the canvas). Returns {bits, count, ms}.
  hitTest(poly) {
    const p = this.points;
    const bits = new Uint8Array((p.n + 7) >> 3);
    const t0 = performance.now();
    const count = hitPolygon(p, this.screenTransform(), poly, this.visibleFn(), bits);
    const ms = performance.now() - t0;
    this.stats.hitMs = ms;
    return { bits, count, ms };
  },

  setSelection(slot, bits) {
    if (!this.points) return;
    this.sel[slot] = bits && bitCount(bits) ? bits : null;
    this.selSeq += 1;
    this.syncToolbar();
    this.scheduleDraw();
    this.sendLink({ kind: "selection", slot, bits: this.sel[slot], seq: this.selSeq, n: this.points.n }); // link.js
    if (this.setStateValue) {
      this.setStateValue("selection", { slot, bits: this.sel[slot] ? bitsToB64(this.sel[slot]) : "",
        count: this.selCounts[slot], seq: this.selSeq, n: this.points.n });
    }
  },

  invertSelection() {
    const p = this.points;
    if (!p) return;
    const cur = this.sel[this.slot], bits = new Uint8Array((p.n + 7) >> 3);
    for (let i = 0; i < p.n; i++) if (!(cur && (cur[i >> 3] >> (i & 7)) & 1)) bits[i >> 3] |= 1 << (i & 7);
    this.setSelection(this.slot, bits);
  },

  zoomToBits(bits) {
    const p = this.points;
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < p.n; i++) {
      if (!((bits[i >> 3] >> (i & 7)) & 1)) continue;
      const x = p.xy[2 * i], y = p.xy[2 * i + 1];
      if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
    }
    if (!(x1 >= x0)) return;
    const [bx0, bx1, by0, by1] = p.bounds;
    // a single point (or a tight group) gets a window a tenth of the data's extent
    const wx = Math.max((x1 - x0) * 1.2, (bx1 - bx0) / 10), wy = Math.max((y1 - y0) * 1.2, (by1 - by0) / 10);
    const mx = (x0 + x1) / 2, my = (y0 + y1) / 2;
    this.ensureView();
    this.view = this.viewOf([mx - wx / 2, mx + wx / 2, my - wy / 2, my + wy / 2]);
    this.userView = true;
    this.scheduleDraw();
    this.viewSettled();
  },

  // ------------------------------------------------------------ gestures (from interact.js)
  // The legend's "S1 (n)" / "S2 (n)" entries, each with its outline colour.
  buildSelLegend() {
    const box = this.selLegend;
    box.replaceChildren();
    for (const s of SLOTS) {
      if (!this.selCounts[s]) continue;
      const item = el("span", "lm-legend-item lm-sel-item", box);
      item.dataset.slot = s;
      const sw = el("span", "lm-swatch lm-ring", item);
      sw.style.borderColor = SEL_COLORS[s];
      el("span", "", item).textContent = `${s.toUpperCase()} (${this.selCounts[s].toLocaleString()})`;
    }
    box.hidden = !box.childElementCount;
  },

  // op: "set" replaces the selection, "add" (shift) joins it, "sub" (alt) takes the gesture out.
  startGesture(kind, px, py, op) { this.gesture = { kind, op: op || "set", pts: [px, py], x0: px, y0: py, x1: px, y1: py }; },
  moveGesture(px, py) {
    const g = this.gesture;
    g.x1 = px; g.y1 = py;
    const n = g.pts.length;
    if (g.kind === "lasso" && Math.hypot(px - g.pts[n - 2], py - g.pts[n - 1]) >= 2) g.pts.push(px, py);
    this.drawOverlay();
  },
  endGesture() {
    const g = this.gesture;
    this.gesture = null;
    const poly = g.kind === "box" ? [g.x0, g.y0, g.x1, g.y0, g.x1, g.y1, g.x0, g.y1] : g.pts;
    this.lastPoly = poly; // for the tests
    const { bits } = this.hitTest(poly);
    const cur = this.sel[this.slot];
    if (cur && g.op === "add") for (let k = 0; k < bits.length; k++) bits[k] |= cur[k];
    else if (g.op === "sub") for (let k = 0; k < bits.length; k++) bits[k] = cur ? cur[k] & ~bits[k] : 0;
    this.setSelection(this.slot, bits);
  },

  // ------------------------------------------------------------ overlay (from draw.js)
  drawSelectionOverlay(ctx, ink) {
    const g = this.gesture, p = this.points;
    if (g) {
      ctx.lineWidth = 1.5; ctx.strokeStyle = ink; ctx.setLineDash([5, 4]);
      ctx.fillStyle = "rgba(120,120,255,0.12)";
      ctx.beginPath();
      if (g.kind === "box") ctx.rect(g.x0, g.y0, g.x1 - g.x0, g.y1 - g.y0);
      else { ctx.moveTo(g.pts[0], g.pts[1]); for (let k = 2; k < g.pts.length; k += 2) ctx.lineTo(g.pts[k], g.pts[k + 1]); ctx.closePath(); }
      ctx.fill(); ctx.stroke(); ctx.setLineDash([]);
    }
    const ring = (i, r, color, width) => {
      if (!p || i == null || i < 0 || i >= p.n) return;
      const x = this.dx(p.xy[2 * i]), y = this.dy(p.xy[2 * i + 1]);
      ctx.lineWidth = width + 2; ctx.strokeStyle = "rgba(255,255,255,0.9)";
      ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI); ctx.stroke();
      ctx.lineWidth = width; ctx.strokeStyle = color;
      ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI); ctx.stroke();
    };
    if (this.found) for (const i of this.found.list) ring(i, 9, "#d62728", 2);
    const nb = this.neigh;
    if (nb && nb.idx) {
      for (const i of nb.idx) ring(i, 6, "#ff7f0e", 2);
      ring(nb.of, 10, "#ff7f0e", 3);
    }
  },
});
