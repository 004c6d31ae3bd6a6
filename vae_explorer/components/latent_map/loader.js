// The component's registered code: a small loader. The map's own code (latent_map.js_source(),
// ~80 kB, ~20 kB zlib-compressed) comes in the data of a session's first render only ({"code":
// {"ref", "z"}}, named by "codeRef" in every render) and is imported once from a blob: URL; a
// component's registered js goes with every render, so sending the map's code that way cost
// every click ~70 kB.
const MODULES = globalThis.__latentMapModules || (globalThis.__latentMapModules = new Map());

function header(data) { // the JSON header of latent_map.pack_frame's frame (or plain JSON bytes)
  if (!(data instanceof ArrayBuffer || ArrayBuffer.isView(data))) return data;
  const b = data instanceof ArrayBuffer ? new Uint8Array(data)
    : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (!(b.length >= 8 && b[0] === 76 && b[1] === 77 && b[2] === 66 && b[3] === 49)) {
    return JSON.parse(new TextDecoder().decode(b));
  }
  const n = new DataView(b.buffer, b.byteOffset + 4, 4).getUint32(0, true);
  const head = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n)));
  const z = head.code && head.code.z;
  if (z && z.$bin) head.code.z = b.slice(8 + n + z.$bin[0], 8 + n + z.$bin[0] + z.$bin[1]);
  return head;
}

function importCode(z) { // the map's code: inflate (zlib), then import it as a module
  const text = new Response(new Blob([z]).stream().pipeThrough(new DecompressionStream("deflate")));
  return text.blob().then((src) => {
    const url = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
    return import(url).finally(() => URL.revokeObjectURL(url));
  });
}

const failure = (el) => el &&
  Array.from(el.children).find((c) => c.classList.contains("lm-failed"));

function failed(el, err) { // the map's place says so (plain text), instead of staying empty
  if (!el) return;
  let box = failure(el);
  if (!box) {
    box = document.createElement("div");
    box.className = "lm-failed";
    box.setAttribute("role", "alert");
    box.style.cssText = "padding:12px 16px;border:1px solid #d33;border-radius:8px;margin:8px 0";
    el.appendChild(box);
  }
  box.textContent = "The map could not start in this browser (" +
    String((err && err.message) || err).slice(0, 200) +
    "). Reload the page to try again; the other pages work without it.";
}

export default function (component) {
  let head;
  try { head = header(component.data); } catch (err) { console.error("latent_map: bad data", err); return; }
  const ref = head && head.codeRef;
  if (!ref) return;
  let m = MODULES.get(ref);
  if (!m && head.code && head.code.ref === ref) {
    m = { module: null, promise: importCode(head.code.z) };
    m.promise.then((mod) => { m.module = mod; },
      (err) => {
        MODULES.delete(ref); console.error("latent_map: code failed to load", err);
        failed(component.parentElement, err);
        // No map: say ready anyway, so that a session's first render gets its controls.
        if (head.wantReady && component.setTriggerValue) component.setTriggerValue("ready", true);
      });
    MODULES.set(ref, m);
  }
  if (!m) { // a page that lost the code (e.g. reloaded into the same session): ask for it again
    if (component.setTriggerValue) component.setTriggerValue("missing", [ref]);
    return;
  }
  const stale = failure(component.parentElement);
  if (stale) stale.remove(); // the code is there or on its way after all (asked for again)
  if (m.module) return m.module.default(component); // every render after the first: at once
  let cleanup = null, gone = false;
  m.promise.then((mod) => { if (!gone) cleanup = mod.default(component); });
  return () => { gone = true; if (typeof cleanup === "function") cleanup(); };
}
