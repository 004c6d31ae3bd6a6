// The component instance: DOM, data updates from Python, legend, colour bar, geometry.
// draw.js, hover.js and interact.js add the drawing, hover panel and input methods.

const FIT_MARGIN = 0.05;

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
      "space to decode the latent code under the cursor. Click to pick A / B and see its neighbours " +
      "(or press N over a point: neighbours only). Wheel: zoom, drag: pan (or select, with Box / " +
      "Lasso above). Shift-drag adds to the selection, alt-drag removes from it.";
    // S1 / S2 entries in the side column: a row under the map would shrink it (and move every
    // point) whenever a selection starts or ends.
    this.selLegend = el("div", "lm-sellegend", side);
    this.selLegend.setAttribute("data-testid", "latent-map-sel-legend");
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
    on(window, "keydown", (e) => this.onKey(e));
    on(this.overlay, "dblclick", () => this.resetView());
    on(this.resetBtn, "click", () => this.resetView());
    this.buildToolbar(root);
    this.ro = new ResizeObserver(() => this.resize());
    this.ro.observe(mapBox);
  }

  destroy() {
    for (const [t, name, fn, opt] of this.listeners) t.removeEventListener(name, fn, opt);
    this.ro.disconnect();
    if (this.root.parentNode) this.root.parentNode.removeChild(this.root);
    if (this.key && window.__latentMaps[this.key] === this.api) delete window.__latentMaps[this.key];
    if (URL_VIEW.owner === this) URL_VIEW.owner = null;
    INSTANCES.delete(this.parent);
  }

  refs() {
    const own = this.data ? Object.values(this.data.refs || {}).filter(Boolean) : [];
    return own.concat([...(this.windows || new Map()).keys()]);
  }

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
      hitTest: (poly) => this.hitTest(poly),
      selection: () => ({ s1: this.selCounts.s1, s2: this.selCounts.s2, seq: this.selSeq,
                          found: this.found ? this.found.count : 0, mode: this.mode, slot: this.slot }),
      selectedIndices: (slot) => { const b = this.sel[slot], out = [];
        if (b) for (let i = 0; i < this.points.n; i++) if ((b[i >> 3] >> (i & 7)) & 1) out.push(i);
        return out; },
      neighbours: () => this.neigh,
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
    const we = get(refs.window);
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
    this.mapInfo = data.map || {};
    this.setLink(this.mapInfo.link); // link.js
    if (pointsChanged) {
      // The same map with other colours keeps its view (and the view in the URL).
      const keepView = prev && this.view && (prev.refs || {}).points === refs.points ||
        (prev && this.view && (prev.map || {}).id && (prev.map || {}).id === (data.map || {}).id);
      if (!keepView) { this.view = null; this.userView = false; }
      this.hover = null;
      this.linked = null;
    }
    this.updateSelection(data);
    this.setGrids(ge, we, pointsChanged);
    const pending = [oe, re, ge, we].filter((e) => e && !e.value && e.promise);
    this.stats.atlasesReady = pending.length === 0;
    if (!pending.length && this.stats.readyAt == null) this.stats.readyAt = performance.now();
    this.root.setAttribute("data-ready", pending.length ? "0" : "1");
    if (pending.length) {
      const gen = this.gen;
      // A hovered point shows each image as soon as its atlas is decoded (originals first);
      // these run before the Promise.all below, which therefore need not refresh again.
      for (const e of pending) e.promise.then(() => { if (this.gen === gen) this.refreshHover(); });
      Promise.all(pending.map((e) => e.promise)).then(() => {
        if (this.gen !== gen) return;
        this.stats.atlasesReady = true;
        this.stats.readyAt = performance.now();
        this.root.setAttribute("data-ready", "1");
        this.status.textContent = "";
        this.reportReady();
      }, () => { if (this.gen === gen) this.reportReady(); }); // points drawn, images or not
      this.status.textContent = "loading images…";
    } else {
      this.status.textContent = "";
    }
    this.buildLegend();
    this.buildColorbar();
    this.resize(true);
    this.refreshHover();
    this.viewSettled();
    if (!pending.length) this.reportReady();
  }

  // Points drawn and images decoded: tell Python once, if it asks (data.wantReady). It starts
  // loading the model then: torch's import and the per-point figures no longer compete for the
  // CPU with the browser drawing the map (vae_explorer/modelstart.py).
  reportReady() {
    if (this.readySent || !(this.data && this.data.wantReady) || !this.setTriggerValue) return;
    this.readySent = true;
    this.stats.readySentAt = performance.now();
    this.setTriggerValue("ready", true);
  }

  colorOf(i) {
    const p = this.points;
    if (p.colors) {
      const [lo, hi] = p.colorRange;
      const v = p.colors[i];
      if (!isFinite(v)) return [160, 160, 160];
      if (this.data.colorScale === "hue") return HUE[Math.floor(256 * (((v % 1) + 1) % 1)) & 255];
      const t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
      return scaleOf(this.data)[Math.max(0, Math.min(255, Math.round(t * 255)))];
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
    const scale = scaleOf(this.data);
    for (let i = 0; i < 256; i++) { const [r, g, b] = scale[i]; img.data.set([r, g, b, 255], 4 * i); }
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
    // A user's (or the link's) view keeps the rectangle it shows when the box changes size
    // (e.g. the toolbar above the map wraps onto one line less once the page is laid out).
    const keep = this.userView && this.view && this.size ? this.viewRect() : null;
    this.size = { w, h, dpr };
    if (!this.userView) this.view = null; // refit unless the user zoomed, panned or the URL set it
    else if (keep) this.view = this.viewOf(keep);
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

  // The default view frames the data (and the path) with a 5% margin on each side; x and y
  // scale apart so that neither axis shows a band of empty space (shapes: y used to run
  // -3.8..6 for data in -1.4..3.8). Panning or zooming out beyond it still decodes (hover.js).
  fitView() {
    const p = this.points;
    let [x0, x1, y0, y1] = p && p.n ? p.bounds : (this.grid ? this.grid.extent : [-3, 3, -3, 3]);
    if (this.data.path) for (const [x, y] of this.data.path) {
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
    const mx = ((x1 - x0) || 1) * FIT_MARGIN, my = ((y1 - y0) || 1) * FIT_MARGIN;
    return this.viewOf([x0 - mx, x1 + mx, y0 - my, y1 + my]);
  }

  // {cx, cy, sx, sy} showing the rectangle [x0, x1, y0, y1] in the plot.
  viewOf([x0, x1, y0, y1]) {
    const pr = this.plotRect();
    return { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, sx: pr.w / ((x1 - x0) || 1), sy: pr.h / ((y1 - y0) || 1) };
  }

  // The rectangle [x0, x1, y0, y1] the plot shows.
  viewRect() {
    const pr = this.plotRect();
    return [this.ix(pr.x), this.ix(pr.x + pr.w), this.iy(pr.y + pr.h), this.iy(pr.y)];
  }

  ensureView() {
    if (!this.view) {
      this.view = this.fitView();
      this.initialView = { ...this.view }; // for the reset button
      // The view this page last showed for the same map (e.g. before a trip to another page and
      // back) beats the link's zoom=, which the server only learns when the session starts.
      const mi = this.mapInfo || {};
      const last = mi.urlView && URL_VIEW.mapId === mi.id ? URL_VIEW.rect : null;
      const u = last || mi.initialView;
      if (u && !this.urlViewUsed) { // once per mount
        this.urlViewUsed = true;
        this.view = this.viewOf(u);
        this.userView = true;
      }
    }
    return this.view;
  }

  // data -> CSS pixels inside the canvas
  dx(x) { const v = this.view, pr = this.plotRect(); return pr.x + pr.w / 2 + (x - v.cx) * v.sx; }
  dy(y) { const v = this.view, pr = this.plotRect(); return pr.y + pr.h / 2 - (y - v.cy) * v.sy; }
  ix(px) { const v = this.view, pr = this.plotRect(); return v.cx + (px - pr.x - pr.w / 2) / v.sx; }
  iy(py) { const v = this.view, pr = this.plotRect(); return v.cy - (py - pr.y - pr.h / 2) / v.sy; }

  toClient(x, y) {
    const r = this.overlay.getBoundingClientRect();
    return [r.left + this.dx(x), r.top + this.dy(y)];
  }
  projectIndex(i) {
    const p = this.points;
    return this.toClient(p.xy[2 * i], p.xy[2 * i + 1]);
  }

}
