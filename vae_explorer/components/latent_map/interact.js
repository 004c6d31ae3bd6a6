// Input: drag to pan, wheel to zoom, click to select; the view in the URL (zoom=x0,x1,y0,y1).

const ZOOM_PARAM = "zoom";

// 4 significant digits relative to the span (vae_explorer/cursor.py format_view writes the same).
function formatView(view) {
  const [x0, x1, y0, y1] = view;
  const out = [];
  for (const [a, span] of [[x0, x1 - x0], [x1, x1 - x0], [y0, y1 - y0], [y1, y1 - y0]]) {
    const digits = Math.max(0, 4 - Math.floor(Math.log10(span)) - 1);
    // "2.000" -> "2", "-1.500" -> "-1.5" (as vae_explorer.cursor.format_view): shorter links
    let t = a.toFixed(Math.min(digits, 12));
    if (t.includes(".")) t = t.replace(/0+$/, "").replace(/\.$/, "");
    out.push(t === "-0" ? "0" : t);
  }
  return out.join(",");
}

Object.assign(LatentMap.prototype, {
  onDown(e) {
    if (e.button !== 0) return;
    const [px, py] = this.localXY(e);
    const op = e.altKey ? "sub" : e.shiftKey ? "add" : "set";
    this.drag = { px, py, view: { ...this.ensureView() }, moved: false, shift: e.shiftKey, op,
                  select: this.toolbar.hidden ? null : this.mode === "lasso" ? "lasso"
                    : this.mode === "box" || op !== "set" ? "box" : null };
    e.preventDefault();
  },
  onDrag(e) {
    const d = this.drag;
    if (!d) return;
    const [px, py] = this.localXY(e);
    if (!d.moved && Math.hypot(px - d.px, py - d.py) < 4) return;
    d.moved = true;
    if (d.select) { // box / lasso (select.js)
      if (!this.gesture) this.startGesture(d.select, d.px, d.py, d.op);
      this.moveGesture(px, py);
      return;
    }
    this.overlay.style.cursor = "grabbing";
    this.userView = true;
    const v = d.view;
    this.view = { cx: v.cx - (px - d.px) / v.sx, cy: v.cy + (py - d.py) / v.sy, sx: v.sx, sy: v.sy };
    this.scheduleDraw();
  },
  onUp(e) {
    const d = this.drag;
    this.drag = null;
    if (!d) return;
    if (d.moved && d.select) { if (this.gesture) this.endGesture(); return; }
    this.overlay.style.cursor = this.mode === "pan" ? "" : "crosshair";
    if (d.moved) { this.viewSettled(); return; }
    const [px, py] = this.localXY(e);
    const pr = this.plotRect();
    if (px < pr.x || px > pr.x + pr.w || py < pr.y || py > pr.y + pr.h) return;
    const i = this.nearest(px, py);
    const x = this.ix(px), y = this.iy(py);
    this.localEventId = Math.max(this.localEventId, this.data.lastEventId || 0) + 1;
    const ev = { type: "click", index: i >= 0 ? i : null, xy: [x, y], id: this.localEventId, shift: !!d.shift };
    if (this.setStateValue) this.setStateValue("event", ev);
  },
  // "n" over a point: its latent neighbours, as a click shows them (A and B stay as they are).
  onKey(e) {
    if (e.key !== "n" && e.key !== "N" || e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
    const t = e.composedPath ? e.composedPath()[0] : e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName || ""))) return;
    const h = this.hover;
    if (!h || h.kind !== "point" || this.toolbar.hidden || !this.setStateValue) return;
    this.localEventId = Math.max(this.localEventId, this.data.lastEventId || 0) + 1;
    this.setStateValue("event", { type: "neighbours", index: h.index, xy: [h.x, h.y], id: this.localEventId, shift: false });
  },
  onWheel(e) {
    e.preventDefault();
    const [px, py] = this.localXY(e);
    const v = this.ensureView(), iv = this.initialView;
    const x = this.ix(px), y = this.iy(py);
    const f = Math.pow(1.0015, -e.deltaY * (e.deltaMode === 1 ? 33 : 1));
    const k = Math.min(Math.max(v.sx * f / iv.sx, 1 / 4), 500); // zoom relative to the fit
    const sx = iv.sx * k, sy = v.sy / v.sx * sx;
    const pr = this.plotRect();
    this.userView = true;
    this.view = { sx, sy, cx: x - (px - pr.x - pr.w / 2) / sx, cy: y + (py - pr.y - pr.h / 2) / sy };
    this.scheduleDraw();
    this.viewSettled();
  },
  resetView() {
    this.userView = false;
    this.view = this.fitView();
    this.initialView = { ...this.view };
    this.scheduleDraw();
    this.viewSettled();
  },
  scheduleDraw() {
    if (this.rafPending) return;
    this.rafPending = true;
    requestAnimationFrame(() => { this.rafPending = false; this.drawPoints(); this.drawOverlay(); });
  },

  // The page's own URL (components v2 run in the page, not in an iframe), with no rerun: a
  // shared link or a reload reopens this view.
  writeUrlView() {
    if (!(this.mapInfo && this.mapInfo.urlView)) return;
    URL_VIEW.owner = this;
    URL_VIEW.value = this.userView ? formatView(this.viewRect()) : null;
    URL_VIEW.mapId = this.mapInfo.id;
    URL_VIEW.rect = this.userView ? this.viewRect() : null;
    const url = withZoom(window.location.href);
    if (url !== window.location.href) HISTORY.replace.call(window.history, window.history.state, "", url);
  },
});

// Streamlit does not read the URL back once it has query parameters of its own: its next write
// (e.g. a=... after a click) sends the query string it last knew, which lacks the view written
// above (or holds the one the page opened with). So Streamlit's own history writes for this page
// get the map's current view put back in. Navigation to another page is left alone.
const URL_VIEW = window.__latentMapUrlView = window.__latentMapUrlView || { owner: null, value: null };
const HISTORY = window.__latentMapHistory = window.__latentMapHistory ||
  { push: window.history.pushState, replace: window.history.replaceState };

function withZoom(url) {
  if (!URL_VIEW.owner) return url;
  const u = new URL(url, window.location.href);
  if (u.origin !== window.location.origin || u.pathname !== window.location.pathname) return url;
  const params = new URLSearchParams(u.search);
  params.delete(ZOOM_PARAM);
  let search = params.toString(); // commas of the view stay unescaped below
  if (URL_VIEW.value) search += (search ? "&" : "") + ZOOM_PARAM + "=" + URL_VIEW.value;
  return u.pathname + (search ? "?" + search : "") + u.hash;
}

if (!window.__latentMapHistoryPatched) {
  window.__latentMapHistoryPatched = true;
  window.history.pushState = function (state, unused, url) {
    return HISTORY.push.call(this, state, unused, url == null ? url : withZoom(String(url)));
  };
  window.history.replaceState = function (state, unused, url) {
    return HISTORY.replace.call(this, state, unused, url == null ? url : withZoom(String(url)));
  };
}
