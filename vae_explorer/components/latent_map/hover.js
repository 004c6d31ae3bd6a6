// Hover: nearest point, grid cell under the cursor, and the side panel.

Object.assign(LatentMap.prototype, {
  // ------------------------------------------------------------ hover
  nearest(px, py) {
    const p = this.points;
    if (!p || !p.n) return -1;
    const v = this.view, ix = p.index;
    const x = this.ix(px), y = this.iy(py);
    const rdx = HOVER_RADIUS_PX / v.sx, rdy = HOVER_RADIUS_PX / v.sy;
    const g = ix.g;
    const cx0 = Math.max(0, Math.floor((x - rdx - ix.x0) / ix.cw)), cx1 = Math.min(g - 1, Math.floor((x + rdx - ix.x0) / ix.cw));
    const cy0 = Math.max(0, Math.floor((y - rdy - ix.y0) / ix.ch)), cy1 = Math.min(g - 1, Math.floor((y + rdy - ix.y0) / ix.ch));
    let best = -1, bestD = HOVER_RADIUS_PX * HOVER_RADIUS_PX; // in CSS px²
    const xy = p.xy, labels = p.labels, hidden = this.hidden, useHidden = hidden.size > 0 && labels && !p.colors;
    for (let cy = cy0; cy <= cy1; cy++) for (let cx = cx0; cx <= cx1; cx++) {
      const c = cy * g + cx;
      for (let k = ix.start[c], e = ix.start[c + 1]; k < e; k++) {
        const i = ix.items[k];
        const ddx = (xy[2 * i] - x) * v.sx, ddy = (xy[2 * i + 1] - y) * v.sy, d = ddx * ddx + ddy * ddy;
        if (d <= bestD && !(useHidden && hidden.has(labels[i]))) { bestD = d; best = i; }
      }
    }
    return best;
  },

  localXY(e) {
    const r = this.overlay.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  },

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
      const c = this.gridAt(x, y);
      this.setHover(c ? { kind: "grid", grid: c.grid, row: c.row, col: c.col, near: c.near, x, y }
        : { kind: "none", x, y });
    }
    const t1 = performance.now();
    this.stats.hoverMs = t1 - t0;
    this.stats.hoverEventMs = t1 - e.timeStamp;
    this.stats.hoverKind = this.hover ? this.hover.kind : null;
    this.stats.hoverIndex = this.hover && this.hover.kind === "point" ? this.hover.index : null;
    this.stats.hoverGrid = this.hover && this.hover.kind === "grid"
      ? (this.hover.near ? "nearest" : this.hover.grid.kind) : null;
    this.stats.hoverCount = (this.stats.hoverCount || 0) + 1;
    const ts = e.timeStamp, count = this.stats.hoverCount;
    requestAnimationFrame(() => { // the next frame (the one that shows the image) starts
      if (this.stats.hoverCount === count) this.stats.hoverFrameMs = performance.now() - ts;
    });
  },

  setHover(h) {
    const old = this.hover;
    this.hover = h;
    const same = old && h && old.kind === h.kind &&
      (h.kind === "point" ? old.index === h.index
        : h.kind === "grid" ? old.grid === h.grid && old.row === h.row && old.col === h.col : false);
    if (!same) {
      this.showPanel(); this.drawOverlay();
      this.sendLink({ kind: "hover", index: h && h.kind === "point" ? h.index : null }); // link.js
    }
    else if (h) this.showCoords(h);
    this.root.setAttribute("data-hover-kind", h ? h.kind : "");
    this.root.setAttribute("data-hover-index", h && h.kind === "point" ? String(h.index) : "");
  },

  refreshHover() { this.showPanel(); this.drawOverlay(); },

  // The readout: on a map of the latent itself the position is z; on a projection it is a map
  // position, and the latent that is decoded there is shown apart (first dims and norm).
  showCoords(h) {
    if (!h) { this.coords.textContent = ""; return; }
    const mi = this.mapInfo || {};
    if (mi.latent) { this.coords.textContent = `z = (${fmt(h.x)}, ${fmt(h.y)})`; return; }
    let text = `map (${fmt(h.x)}, ${fmt(h.y)})`;
    const a = h.kind === "grid" && h.grid.entry.value;
    if (a && a.zhead) {
      const i = h.row * h.grid.g + h.col, k = a.zheadDims;
      const head = Array.from(a.zhead.subarray(i * k, i * k + k), fmt).join(", ");
      text += `\ndecodes z = (${head}${a.zdim > k ? ", …" : ""}) |z| = ${fmt(a.znorm[i])}`;
      text += "\n" + this.decodeNote(h);
    }
    this.coords.textContent = text;
  },

  decodeNote(h) {
    const method = (this.mapInfo || {}).method;
    if (method === "pca") return "(the point on the PCA plane)";
    if (method === "aligned") return "(B's own latent point here: the alignment undone)";
    const [x0, x1, y0, y1] = this.points ? this.points.bounds : [0, 0, 0, 0];
    const beyond = h.x < x0 || h.x > x1 || h.y < y0 || h.y > y1;
    return beyond ? "(beyond the data: weighted toward the nearest codes)"
      : "(a distance-weighted mix of the nearest codes)";
  },

  pointCaption(i) {
    const p = this.points, l = p.labels ? p.labels[i] : null;
    let cap = `data point #${i}`;
    if (l !== null) cap += ` · label ${this.labelName(l)}`;
    if (p.colors) { // "KL (nats)" -> "KL 22.4 nats"
      const m = /^(.*?)\s*\(([^()]*)\)$/.exec(this.data.colorTitle || "value");
      const name = m ? m[1] : (this.data.colorTitle || "value"), unit = m ? " " + m[2] : "";
      cap += ` · ${name} ${fmt(p.colors[i])}${unit}`;
    }
    return cap;
  },

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
  },

  showPanel() {
    const h = this.hover, A = this.atlasEntries || {};
    this.showCoords(h);
    if (!h || h.kind === "none") {
      this.caption.textContent = h ? "nothing decoded yet" : "";
      this.slots.forEach((s) => (s.fig.hidden = true));
      this.hint.hidden = !!h;
      return;
    }
    this.hint.hidden = true;
    if (h.kind === "point") {
      this.caption.textContent = this.pointCaption(h.index);
      let want = 0, shown = 0;
      if (A.orig) { want++; shown += this.putCell(0, A.orig, h.index, "original"); }
      else { this.slots[0].fig.hidden = false; this.slots[0].fig.classList.add("empty"); this.slots[0].cap.textContent = "original not available (dataset absent)"; }
      if (A.recon) { want++; shown += this.putCell(1, A.recon, h.index, "reconstruction"); }
      else this.slots[1].fig.hidden = true;
      // When a point's images were first all on screen: the warm-open benchmark's "ready".
      if (want && shown === want && this.stats.hoverImagesAt == null) {
        this.stats.hoverImagesAt = performance.now();
      }
    } else if (h.kind === "grid") {
      const g = h.grid.g, asking = this.askPending();
      this.caption.textContent = h.near
        ? `nearest decoded cell${asking ? " (decoding this view…)" : ""}`
        : `decoded at cursor (grid ${g}×${g}${h.grid.kind === "window" ? " over this view" : ""})` +
          (asking ? " — decoding this view…" : "");
      this.putCell(0, h.grid.entry, h.row * g + h.col, "decoder output");
      this.slots[1].fig.hidden = true;
    }
  },

});
