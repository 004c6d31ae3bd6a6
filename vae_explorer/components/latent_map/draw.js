// Drawing: points on the main canvas (a plain RGBA buffer), axes, and the overlay
// (interpolation path, selected points, hover highlight).

// Pixel offsets at distances in (r0, r1] from a point's centre: an outline around its disc;
// `lin` is each offset's index step in an RGBA buffer W pixels wide.
function ringKernel(r0, r1, W) {
  const dx = [], dy = [], lin = [], R = Math.ceil(r1);
  for (let oy = -R; oy <= R; oy++) for (let ox = -R; ox <= R; ox++) {
    const d = Math.hypot(ox, oy);
    if (d > r0 && d <= r1) { dx.push(ox); dy.push(oy); lin.push((oy * W + ox) * 4); }
  }
  return { dx: Int32Array.from(dx), dy: Int32Array.from(dy), lin: Int32Array.from(lin), R };
}

Object.assign(LatentMap.prototype, {
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
      const v = this.view, sx = v.sx * dpr, sy = v.sy * dpr, ox0 = (pr.x + pr.w / 2) * dpr, oy0 = (pr.y + pr.h / 2) * dpr;
      const xy = p.xy, order = p.order, labels = p.labels, hidden = this.hidden;
      const useHidden = hidden.size > 0 && labels && !p.colors;
      const K = offs.length, hl = this.hlBits, iso = this.isolated(), dim = iso ? 0 : DIM;
      const dxs = new Int32Array(K), dys = new Int32Array(K), ws = new Float32Array(wts);
      for (let k = 0; k < K; k++) { dxs[k] = offs[k][0]; dys[k] = offs[k][1]; }
      // S1 and S2 as outlines in their own colours (a point in both: S2's ring outside S1's).
      // Above 5,000 points the rings are thinner, and a ring clear of the plot's edges is written
      // without a bounds test per pixel: outlining 67,000 of 70,000 points took the redraw from
      // ~11 to ~30 ms without these, ~14 ms with them (bench/lasso_select.py, load average 5-8).
      const s1 = this.sel ? this.sel.s1 : null, s2 = this.sel ? this.sel.s2 : null;
      const rw = (n > 5000 ? 1.0 : 1.5) * dpr;
      const ring1 = ringKernel(r + 0.4, r + 0.4 + rw, W), ring2 = ringKernel(r + 0.4 + rw, r + 0.4 + 2 * rw, W);
      const Rc = s1 || s2 ? Math.max(R, ring2.R) : R;
      const ring = (kern, rgb, px, py) => {
        const kr = kern.R, c0 = rgb[0], c1 = rgb[1], c2 = rgb[2];
        if (px - kr >= left && px + kr < right && py - kr >= top && py + kr < bottom) {
          const base = (py * W + px) * 4, lin = kern.lin;
          for (let k = 0; k < lin.length; k++) { const idx = base + lin[k]; buf[idx] = c0; buf[idx + 1] = c1; buf[idx + 2] = c2; }
          return;
        }
        for (let k = 0; k < kern.dx.length; k++) {
          const x = px + kern.dx[k], y = py + kern.dy[k];
          if (x < left || x >= right || y < top || y >= bottom) continue;
          const idx = (y * W + x) * 4;
          buf[idx] = c0; buf[idx + 1] = c1; buf[idx + 2] = c2;
        }
      };
      for (let o = 0; o < n; o++) {
        const i = order[o];
        if (useHidden && hidden.has(labels[i])) continue;
        const f = !hl || (hl[i >> 3] >> (i & 7)) & 1 ? 1 : dim; // selections, search results stand out
        if (f === 0) continue;
        const px = Math.round(ox0 + (xy[2 * i] - v.cx) * sx);
        const py = Math.round(oy0 - (xy[2 * i + 1] - v.cy) * sy);
        if (px < left - Rc || px >= right + Rc || py < top - Rc || py >= bottom + Rc) continue;
        if (px >= left - R && px < right + R && py >= top - R && py < bottom + R) drawn++;
        if (s1 || s2) {
          const b = i >> 3, m = 1 << (i & 7), in1 = s1 && (s1[b] & m), in2 = s2 && (s2[b] & m);
          if (in1) ring(ring1, SEL_RGB.s1, px, py);
          if (in2) ring(in1 ? ring2 : ring1, SEL_RGB.s2, px, py);
        }
        const c = this.colorOf(i);
        const cr = c[0], cg = c[1], cb = c[2];
        for (let k = 0; k < K; k++) {
          const x = px + dxs[k], y = py + dys[k];
          if (x < left || x >= right || y < top || y >= bottom) continue;
          const idx = (y * W + x) * 4, a = ws[k] * f;
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
    // First points on screen, ms after navigation start (bench/warm_open.py).
    if (drawn && this.stats.pointsAt == null) this.stats.pointsAt = performance.now();
    this.root.setAttribute("data-points", String(drawn));
    this.root.setAttribute("data-draw-ms", ms.toFixed(1));
    const changed = this.view && this.initialView &&
      (this.view.cx !== this.initialView.cx || this.view.cy !== this.initialView.cy || this.view.sx !== this.initialView.sx || this.view.sy !== this.initialView.sy);
    this.resetBtn.hidden = !changed;
  },

  theme() {
    const bg = parseColor(cssVar(this.root, "--st-background-color", "#ffffff"), [255, 255, 255]);
    const text = cssVar(this.root, "--st-text-color", "#31333f");
    const font = cssVar(this.root, "--st-font", "sans-serif");
    return { bg, text, font, dark: bg[0] + bg[1] + bg[2] < 384 };
  },

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
  },

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
    this.drawSelectionOverlay(ctx, ink);
    this.drawLinked(ctx); // link.js
    // Hover highlight
    const hv = this.hover;
    if (hv && hv.kind === "point" && p) {
      const x = this.dx(p.xy[2 * hv.index]), y = this.dy(p.xy[2 * hv.index + 1]);
      ctx.lineWidth = 2; ctx.strokeStyle = ink;
      ctx.beginPath(); ctx.arc(x, y, 6, 0, 2 * Math.PI); ctx.stroke();
    } else if (hv && hv.kind === "grid" && hv.grid) {
      const [gx0, gx1, gy0, gy1] = hv.grid.extent, g = hv.grid.g;
      const cw = (gx1 - gx0) / g, ch = (gy1 - gy0) / g;
      const cx0 = gx0 + hv.col * cw, cy1 = gy1 - hv.row * ch;
      ctx.lineWidth = 1; ctx.strokeStyle = ink; ctx.setLineDash([3, 3]);
      ctx.strokeRect(this.dx(cx0), this.dy(cy1), cw * this.view.sx, ch * this.view.sy);
      ctx.setLineDash([]);
    }
    ctx.restore();
  },

});
