// Python sends the data dict as UTF-8 JSON bytes (see latent_map.py: a dict would make
// Streamlit import pandas to look for dataframes in it, ~0.5 s on the first render).
function decodeData(data) {
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return JSON.parse(new TextDecoder().decode(bytes));
  }
  return data;
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
  }
  // Streamlit calls the cleanup of an out-of-date render right away; only the latest may destroy.
  return () => { if (inst.gen === gen) inst.destroy(); };
}