// Interpolation scrubber: a Streamlit custom component (v2). Python sends every frame of the
// path once, packed into a PNG atlas (vae_explorer/scrub.py); dragging the slider swaps frames in
// the browser with no server round trip. The position goes back to Python on release only.
// Text from data goes into the DOM through textContent only.

const INSTANCES = new WeakMap(); // parentElement -> Scrub
window.__scrubs = window.__scrubs || {};

class Scrub {
  constructor(parent) {
    this.root = document.createElement("div");
    this.root.className = "sc-root";
    this.canvas = document.createElement("canvas");
    this.canvas.className = "sc-frame";
    this.cap = document.createElement("div");
    this.cap.className = "sc-caption";
    this.range = document.createElement("input");
    this.range.type = "range";
    this.range.className = "sc-range";
    this.range.setAttribute("aria-label", "A → B");
    const ends = document.createElement("div");
    ends.className = "sc-ends";
    for (const t of ["A", "B"]) { const s = document.createElement("span"); s.textContent = t; ends.append(s); }
    this.root.append(this.canvas, this.cap, this.range, ends);
    parent.append(this.root);
    this.range.addEventListener("input", () => this.show(+this.range.value));
    this.range.addEventListener("change", () => this.report());
    this.sig = null;
    this.pages = [];
  }

  update(data, setStateValue) {
    this.setStateValue = setStateValue;
    this.data = data;
    this.key = data.key;
    this.root.dataset.key = data.key;
    window.__scrubs[data.key] = this;
    const n = data.atlas.count;
    if (this.canvas.width !== data.atlas.cellW) {
      this.canvas.width = data.atlas.cellW; this.canvas.height = data.atlas.cellH;
    }
    this.range.min = 0; this.range.max = n - 1; this.range.step = 1;
    if (this.sig !== data.sig) { // new frames: decode the pages, then show the current one
      this.sig = data.sig;
      this.root.dataset.ready = "0";
      this.pages = [];
      Promise.all(data.atlas.pages.map((b64) => {
        const img = new Image();
        img.src = "data:image/png;base64," + b64;
        return img.decode().then(() => img);
      })).then((imgs) => {
        if (this.sig !== data.sig) return;
        this.pages = imgs;
        this.root.dataset.ready = "1";
        this.show(+this.range.value);
      }, (err) => { this.cap.textContent = "could not decode frames: " + err; });
    }
    const i = Math.round(data.t * (n - 1));
    this.range.value = String(i);
    this.show(i);
  }

  show(i) {
    const d = this.data, a = d.atlas;
    i = Math.max(0, Math.min(a.count - 1, i | 0));
    const t = i / (a.count - 1);
    this.root.dataset.frame = String(i);
    this.root.dataset.t = t.toFixed(4);
    const norm = d.norms[i];
    this.cap.textContent = `t = ${t.toFixed(2)}` + (norm == null ? "" : `, |z| = ${norm.toFixed(2)}`);
    if (!this.pages.length) return;
    const page = Math.floor(i / a.perPage), j = i % a.perPage;
    const x = (j % a.cols) * a.cellW, y = Math.floor(j / a.cols) * a.cellH;
    const c = this.canvas;
    if (c.width !== a.cellW || c.height !== a.cellH) { c.width = a.cellW; c.height = a.cellH; }
    const ctx = c.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.clearRect(0, 0, c.width, c.height);
    ctx.drawImage(this.pages[page], x, y, a.cellW, a.cellH, 0, 0, a.cellW, a.cellH);
    this.shown = (this.shown || 0) + 1;
  }

  report() {
    const n = this.data.atlas.count;
    const t = Math.round((+this.range.value / (n - 1)) * 1000) / 1000;
    if (this.setStateValue) this.setStateValue("t", t);
  }
}

export default function (component) {
  const { parentElement, setStateValue } = component;
  let data;
  try { data = JSON.parse(component.data); } catch (err) { console.error("scrub: bad data", err); return; }
  let inst = INSTANCES.get(parentElement);
  if (!inst) { inst = new Scrub(parentElement); INSTANCES.set(parentElement, inst); }
  inst.update(data, setStateValue);
}
