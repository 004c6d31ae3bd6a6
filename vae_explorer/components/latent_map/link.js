// Linked maps: maps on one page with the same link id (data.map.link, e.g. the Compare page's
// two maps of the same images) ring each other's hovered point and mirror each other's selection
// gestures at once. The component instances share the page's window, so a window-level event
// carries it: no Python round trip per hover. Python still gets each gesture from the map it was
// made on (select.js) and sends the stored selection to both maps with the next render.

const LINK_EVENT = "latent-map-link";
const LINK_COLOR = "#EE7733"; // Paul Tol's vibrant orange: apart from S1 / S2 and the labels

Object.assign(LatentMap.prototype, {
  setLink(link) {
    this.link = link || "";
    if (this.onLinkFn) return;
    this.onLinkFn = (e) => this.onLink(e.detail);
    window.addEventListener(LINK_EVENT, this.onLinkFn);
    this.listeners.push([window, LINK_EVENT, this.onLinkFn, undefined]); // removed by destroy()
  },

  sendLink(msg) {
    if (this.link) window.dispatchEvent(new CustomEvent(LINK_EVENT, { detail: { ...msg, link: this.link, from: this } }));
  },

  onLink(d) {
    if (!d || !this.link || d.link !== this.link || d.from === this || !this.points) return;
    if (d.kind === "hover") {
      const i = Number.isInteger(d.index) && d.index >= 0 && d.index < this.points.n ? d.index : null;
      if (i === this.linked) return;
      this.linked = i;
      this.root.setAttribute("data-linked-index", i == null ? "" : String(i));
      this.drawOverlay();
    } else if (d.kind === "selection" && d.n === this.points.n && SLOTS.includes(d.slot)) {
      // Mirrored, not set: only the map the gesture was made on reports it to Python.
      this.sel[d.slot] = d.bits ? d.bits.slice() : null;
      this.selSeq = Math.max(this.selSeq, d.seq);
      this.syncToolbar();
      this.scheduleDraw();
    }
  },

  // The point hovered in a linked map: a ring larger than the own hover's, in the link colour.
  drawLinked(ctx) {
    const i = this.linked, p = this.points;
    if (i == null || !p || i >= p.n) return;
    const x = this.dx(p.xy[2 * i]), y = this.dy(p.xy[2 * i + 1]);
    ctx.lineWidth = 5; ctx.strokeStyle = "rgba(255,255,255,0.9)";
    ctx.beginPath(); ctx.arc(x, y, 9, 0, 2 * Math.PI); ctx.stroke();
    ctx.lineWidth = 3; ctx.strokeStyle = LINK_COLOR;
    ctx.beginPath(); ctx.arc(x, y, 9, 0, 2 * Math.PI); ctx.stroke();
  },
});
