// Decoded grids: the global one Python sends with the map (over the data's extent), and grids
// for the views the user pans or zooms to. When a pan or zoom ends and no grid held here covers
// the view with at least MIN_VIEW_CELLS cells across, the page asks Python for one (state
// "view"); Python decodes a G x G grid over a lattice window containing the view (see
// vae_explorer/cursor.py: window_key, grid_serves, which this mirrors) and sends it as a small atlas.
// Meanwhile hover uses the finest grid under the cursor, or the nearest decoded cell.

const MIN_VIEW_CELLS = 8;
const EDGE_TOL = 1e-4; // a view this close (fraction of its span) to a grid's edge is inside
const WINDOWS_KEPT = 6; // window grids kept per map (each ~20-90 kB of PNG)
const SETTLE_MS = 250; // a pan or zoom has ended when the view has not changed for this long

Object.assign(LatentMap.prototype, {
  setGrids(ge, we) {
    const refs = this.data.refs || {};
    if (this.windowsFor !== refs.grid) { // another map, decoder class or checkpoint
      this.windows = new Map();
      this.windowsFor = refs.grid;
      this.asked = null;
    }
    this.globalGrid = ge && this.grid
      ? { ref: refs.grid, entry: ge, g: this.grid.g, extent: this.grid.extent, kind: "global" } : null;
    const w = this.data.window;
    if (we && w && refs.window) {
      this.windows.delete(refs.window); // newest last
      this.windows.set(refs.window, { ref: refs.window, entry: we, g: w.g, extent: w.extent, kind: "window" });
      while (this.windows.size > WINDOWS_KEPT) this.windows.delete(this.windows.keys().next().value);
      this.stats.windowsReceived = this.windows.size;
    }
  },

  // Grids still in the store (an evicted one is dropped; it is asked for again if needed).
  allGrids() {
    const out = this.globalGrid ? [this.globalGrid] : [];
    for (const [ref, g] of this.windows || []) {
      if (STORE.get(ref) === g.entry && !g.entry.error) out.push(g);
      else this.windows.delete(ref);
    }
    return out;
  },

  // {grid, row, col, near} for map point (x, y): the finest decoded grid containing it, else
  // the nearest cell of the nearest decoded grid (near: true); null when nothing is decoded.
  gridAt(x, y) {
    let best = null, bestArea = Infinity, nearest = null, nearestD = Infinity;
    for (const gr of this.allGrids()) {
      if (!gr.entry.value) continue;
      const [x0, x1, y0, y1] = gr.extent, g = gr.g;
      const inside = x >= x0 && x <= x1 && y >= y0 && y <= y1;
      const area = (x1 - x0) * (y1 - y0);
      if (inside && area < bestArea) { best = gr; bestArea = area; }
      if (!inside) {
        const ddx = Math.max(x0 - x, 0, x - x1) * this.view.sx, ddy = Math.max(y0 - y, 0, y - y1) * this.view.sy;
        const d = ddx * ddx + ddy * ddy;
        if (d < nearestD) { nearest = gr; nearestD = d; }
      }
    }
    const gr = best || nearest;
    if (!gr) return null;
    const [x0, x1, y0, y1] = gr.extent, g = gr.g;
    const clamp = (v) => Math.max(0, Math.min(g - 1, v));
    return { grid: gr, near: !best, col: clamp(Math.floor((x - x0) / (x1 - x0) * g)),
             row: clamp(Math.floor((y1 - y) / (y1 - y0) * g)) };
  },

  // [row, col] in the grid decoded at (x, y), or null outside every decoded grid (test hook).
  gridCell(x, y) {
    const c = this.gridAt(x, y);
    return c && !c.near ? [c.row, c.col] : null;
  },

  // Whether a grid held (decoded or on its way) covers view [x0, x1, y0, y1] finely enough.
  gridsServe(view) {
    const [v0, v1, w0, w1] = view;
    const ex = (v1 - v0) * EDGE_TOL, ey = (w1 - w0) * EDGE_TOL; // rounding of the view's edges
    return this.allGrids().some((gr) => {
      const [x0, x1, y0, y1] = gr.extent, g = gr.g;
      return x0 <= v0 + ex && v1 <= x1 + ex && y0 <= w0 + ey && w1 <= y1 + ey &&
        (x1 - x0) / g * MIN_VIEW_CELLS <= v1 - v0 && (y1 - y0) / g * MIN_VIEW_CELLS <= w1 - w0;
    });
  },

  askPending() { return !!(this.asked && !this.gridsServe(this.viewRect())); },

  // Called when a pan or zoom may have ended (and after each update from Python).
  viewSettled() {
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => {
      if (!this.view || !this.size) return;
      this.writeUrlView();
      this.askWindow();
    }, SETTLE_MS);
  },

  askWindow() {
    if (!this.globalGrid || !this.setStateValue) return; // a map without hover decoding
    const view = this.viewRect().map((v) => +v.toPrecision(7));
    if (this.gridsServe(view)) return;
    const ask = JSON.stringify([view, (this.mapInfo || {}).id]);
    if (this.lastAsk === ask) return; // asked already: Python answers at most once per view
    this.lastAsk = ask;
    this.askSeq = (this.askSeq || 0) + 1;
    this.asked = { view, map: (this.mapInfo || {}).id || "", id: this.askSeq };
    this.stats.windowAsks = this.askSeq;
    this.setStateValue("view", this.asked);
    this.refreshHover();
  },
});
