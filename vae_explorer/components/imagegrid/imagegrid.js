// A grid of clickable images (a Streamlit custom component, v2): each cell is one PNG (the
// original and its reconstruction side by side) with a caption; a click sends the cell's dataset
// index back once (a trigger value). Captions go into the DOM through textContent only.

const GRIDS = new WeakMap(); // parentElement -> root

export default function (component) {
  const { parentElement, setTriggerValue } = component;
  let data;
  try { data = JSON.parse(component.data); } catch (err) { console.error("imagegrid: bad data", err); return; }
  let root = GRIDS.get(parentElement);
  if (!root) {
    root = document.createElement("div");
    root.className = "ig-root";
    parentElement.append(root);
    GRIDS.set(parentElement, root);
  }
  root.onclick = (ev) => {
    const cell = ev.target.closest(".ig-cell");
    if (cell && setTriggerValue) setTriggerValue("click", +cell.dataset.index);
  };
  if (root.dataset.sig === data.sig) return;
  root.dataset.sig = data.sig;
  root.dataset.key = data.key;
  root.style.setProperty("--ig-cell", data.cell_px + "px");
  root.replaceChildren(...data.cells.map((c) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "ig-cell";
    b.dataset.index = String(c.i);
    b.title = "Show on the map";
    const img = document.createElement("img");
    img.src = "data:image/png;base64," + c.png;
    img.alt = "#" + c.i;
    const cap = document.createElement("span");
    cap.textContent = c.cap;
    b.append(img, cap);
    return b;
  }));
}
