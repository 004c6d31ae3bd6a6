// PNG export of the map as drawn (this zoom, colouring, selections, rings) with a legend under
// it: composed in the page from the two canvases and downloaded through a same-origin blob URL
// (no request leaves the page).

const LEGEND_FONT_PX = 13;

Object.assign(LatentMap.prototype, {
  // What the legend says, in drawing order: [{text, fill, ring}] (fill: a swatch colour, ring:
  // an outline colour) and, for a continuous colouring, the colour bar {title, lo, hi}.
  legendSpec() {
    const p = this.points, items = [];
    let bar = null;
    if (p && p.colors) {
      bar = { title: this.data.colorTitle || "value", lo: fmt(p.colorRange[0]), hi: fmt(p.colorRange[1]) };
    } else if (p && p.labels) {
      const present = new Map();
      for (let i = 0; i < p.n; i++) present.set(p.labels[i], (present.get(p.labels[i]) || 0) + 1);
      for (const v of [...present.keys()].sort((a, b) => a - b)) {
        if (this.hidden.has(v)) continue;
        items.push({ text: `${this.labelName(v)} (${present.get(v).toLocaleString()})`,
                     fill: PALETTE[((v % PALETTE.length) + PALETTE.length) % PALETTE.length] });
      }
    }
    for (const s of SLOTS) {
      if (this.selCounts && this.selCounts[s]) items.push({ text: `${s.toUpperCase()} (${this.selCounts[s].toLocaleString()})`, ring: SEL_COLORS[s] });
    }
    return { title: (this.mapInfo || {}).label || "", bar, items };
  },

  // One canvas: the points canvas, the overlay on it, and the legend below (device pixels).
  composePng() {
    const dpr = this.size.dpr, W = this.canvas.width, H = this.canvas.height;
    const theme = this.theme(), spec = this.legendSpec();
    const fs = Math.round(LEGEND_FONT_PX * dpr), lineH = Math.round(fs * 1.6), pad = Math.round(8 * dpr);
    const sw = Math.round(11 * dpr), gap = Math.round(6 * dpr), sep = Math.round(18 * dpr);
    const scratch = document.createElement("canvas").getContext("2d");
    scratch.font = `${fs}px ${theme.font}`;
    // lay the items out in rows that fit the width
    const rows = [[]];
    let x = pad;
    for (const it of spec.items) {
      const w = sw + gap + scratch.measureText(it.text).width;
      if (x + w > W - pad && rows[rows.length - 1].length) { rows.push([]); x = pad; }
      rows[rows.length - 1].push({ ...it, x });
      x += w + sep;
    }
    const lines = (spec.title ? 1 : 0) + (spec.bar ? 2 : 0) + (spec.items.length ? rows.length : 0);
    const out = document.createElement("canvas");
    out.width = W; out.height = H + 2 * pad + lines * lineH;
    const ctx = out.getContext("2d");
    ctx.fillStyle = `rgb(${theme.bg.join(",")})`;
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.drawImage(this.canvas, 0, 0);
    ctx.drawImage(this.overlay, 0, 0);
    ctx.font = `${fs}px ${theme.font}`;
    ctx.textBaseline = "middle";
    ctx.fillStyle = theme.text;
    let y = H + pad + lineH / 2;
    if (spec.title) { ctx.fillText(spec.title, pad, y); y += lineH; }
    if (spec.bar) {
      ctx.fillText(spec.bar.title, pad, y); y += lineH;
      const bw = Math.min(W - 2 * pad, Math.round(256 * dpr)), lo = scratch.measureText(spec.bar.lo).width;
      ctx.fillText(spec.bar.lo, pad, y);
      for (let k = 0; k < bw; k++) {
        const [r, g, b] = scaleOf(this.data)[Math.round(255 * k / Math.max(1, bw - 1))];
        ctx.fillStyle = `rgb(${r},${g},${b})`;
        ctx.fillRect(pad + lo + gap + k, y - sw / 2, 1, sw);
      }
      ctx.fillStyle = theme.text;
      ctx.fillText(spec.bar.hi, pad + lo + 2 * gap + bw, y);
      y += lineH;
    }
    for (const row of spec.items.length ? rows : []) {
      for (const it of row) {
        ctx.beginPath();
        ctx.arc(it.x + sw / 2, y, sw / 2 - (it.ring ? dpr : 0), 0, 2 * Math.PI);
        if (it.ring) { ctx.lineWidth = 2 * dpr; ctx.strokeStyle = it.ring; ctx.stroke(); }
        else { ctx.fillStyle = it.fill; ctx.fill(); }
        ctx.fillStyle = theme.text;
        ctx.fillText(it.text, it.x + sw + gap, y);
      }
      y += lineH;
    }
    return out;
  },

  exportPng() {
    if (!this.size || !this.points) return;
    this.composePng().toBlob((blob) => {
      if (!blob) return;
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = "latent-map.png";
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    }, "image/png");
  },
});
