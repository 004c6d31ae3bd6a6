// Python sends the data as bytes (a dict would make Streamlit import pandas to look for
// dataframes in it, ~0.5 s on the first render): latent_map.pack_frame's frame, "LMB1", the JSON
// header's length, the header, then raw arrays and image pages the header names by
// {"$bin": [offset, length]} (no base64: a quarter fewer bytes). Plain UTF-8 JSON also reads.
const BIN_FIELDS = ["xy", "labels", "colors", "zhead", "znorm"];
function decodeData(data) {
  if (!(data instanceof ArrayBuffer || ArrayBuffer.isView(data))) return data;
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data)
    : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const framed = bytes.length >= 8 && bytes[0] === 76 && bytes[1] === 77 && bytes[2] === 66 &&
    bytes[3] === 49;
  if (!framed) return JSON.parse(new TextDecoder().decode(bytes));
  const n = new DataView(bytes.buffer, bytes.byteOffset + 4, 4).getUint32(0, true);
  const head = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const body = bytes.subarray(8 + n);
  const bin = (v) => (v && v.$bin ? body.slice(v.$bin[0], v.$bin[0] + v.$bin[1]) : v);
  for (const p of Object.values(head.blobs || {})) {
    for (const k of BIN_FIELDS) if (p[k]) p[k] = bin(p[k]);
    if (p.pages) p.pages = p.pages.map(bin);
  }
  return head;
}

export default function (component) {
  const { parentElement, setStateValue, setTriggerValue } = component;
  let data;
  try { data = decodeData(component.data); } catch (err) { console.error("latent_map: bad data", err); return; }
  if (!data || typeof data !== "object") return;
  let inst = INSTANCES.get(parentElement);
  if (!inst) { inst = new LatentMap(parentElement); INSTANCES.set(parentElement, inst); }
  const gen = ++inst.gen;
  try {
    inst.update(data, setStateValue, setTriggerValue);
  } catch (err) {
    console.error("latent_map update failed", err);
    inst.status.textContent = "latent map error: " + (err && err.message ? err.message : String(err));
    // Say ready all the same: a session's first render waits for it to bring its controls.
    try { inst.data = data; inst.reportReady(); } catch (e) { /* no trigger: nothing to do */ }
  }
  // Streamlit calls the cleanup of an out-of-date render right away; only the latest may destroy.
  return () => { if (inst.gen === gen) inst.destroy(); };
}