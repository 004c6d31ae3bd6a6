"""Many students on one server (issue 12): what a rerun and an open cost the server and the
network, asserted as counts and bytes, never as times (bench/classroom_load.py has the times)."""
from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from _explorer_helpers import app_env, make_checkpoint
from vae_explorer import background, checkpoints

APP = str(Path(__file__).resolve().parent.parent / "vae_explorer" / "app.py")


@pytest.fixture(scope="module")
def ck_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("checkpoints")
    make_checkpoint(d / checkpoints.DEFAULT_NAME, latent_dim=2)
    return d


@pytest.fixture()
def env(ck_dir, tmp_path, monkeypatch):
    app_env(monkeypatch, ck_dir, tmp_path)
    return ck_dir


@pytest.fixture()
def unfrozen(monkeypatch):
    gc.unfreeze()
    monkeypatch.setattr(background, "_modules_at_freeze", 0, raising=False)
    yield
    gc.unfreeze()


def test_settle_heap_freezes_after_big_imports_only(unfrozen, monkeypatch):
    assert gc.get_freeze_count() == 0
    assert background.settle_heap()  # torch etc. are imported in this process
    frozen = gc.get_freeze_count()
    assert frozen > 10_000
    assert not background.settle_heap()  # nothing new imported: no second freeze
    monkeypatch.setattr(background, "_modules_at_freeze",
                        len(sys.modules) - background.FREEZE_AFTER_MODULES)
    assert background.settle_heap()


def test_a_script_run_leaves_the_imported_modules_out_of_the_next_collection(env, unfrozen):
    """Streamlit's gc.collect() after every run walked torch's ~230,000 objects (0.1-0.2 s of
    each rerun on 2 cores); after the app's first run they sit in the permanent generation."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    assert gc.get_freeze_count() > 10_000
    tracked = len(gc.get_objects())  # what a collection still walks
    assert tracked < gc.get_freeze_count() / 2


@pytest.fixture()
def server(ck_dir, tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parent / "e2e"))
    import harness

    srv = harness.AppServer(tmp_path / "cache", checkpoint_dir=ck_dir,
                            extra_env={"VAE_DATA_ROOT": str(tmp_path / "no-data-here")})
    srv.start()
    yield srv
    srv.stop()


def _session(url):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from classroom_load import Session

    return Session(url, "")


def test_a_click_on_the_map_is_one_script_run_that_shows_the_point(server):
    """The page used to take a click after drawing the map and then st.rerun() (two runs a
    click, the component's ~70 kB element sent twice); the click is now taken before the run."""
    async def go():
        s = _session(server.url)
        await s.connect()
        await s.rerun()
        assert s.map_id and not s.errors
        # Let the background work of the open finish first: while reconstructions decode, a
        # fragment polls and reruns the page once they are in, and a click run overlapping
        # that rerun ends early (FINISHED_EARLY_FOR_RERUN) for a reason that is not the click.
        for _ in range(60):
            n = len(s.finished)
            await asyncio.sleep(1.5)
            if len(s.finished) == n:
                break
        out = []
        for i in (5, 9):
            s.finished.clear()
            b = s.bytes
            await s.click(i)
            out.append((list(s.finished), s.bytes - b, list(s.texts)))
        await s.close()
        return out

    # in a thread of its own: the browser tests' session-wide Playwright keeps an event loop
    # running in this one, where asyncio.run() refuses to start
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        (fin_a, bytes_a, texts_a), (fin_b, _, texts_b) = pool.submit(asyncio.run, go()).result()
    assert len(fin_a) == 1 and len(fin_b) == 1  # no FINISHED_EARLY_FOR_RERUN before it
    assert any(t.startswith("A: ") and "#5" in t for t in texts_a), texts_a
    assert any(t.startswith("B: ") and "#9" in t for t in texts_b), texts_b
    assert bytes_a < 40_000  # neither the atlases nor the map's code again (was 156 kB)


def test_the_map_frame_sends_arrays_and_pages_raw_not_base64():
    import base64
    import json

    from vae_explorer import latent_map as lm

    rng = np.random.default_rng(0)
    n = 3000
    imgs = rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)
    xy = rng.normal(size=(n, 2)).astype(np.float32)
    data, _ = lm.build_data(xy, rng.integers(0, 10, n), [str(i) for i in range(10)], imgs, imgs,
                            None, None)
    as_json = json.dumps(data, separators=(",", ":")).encode()  # what the page used to get
    frame = lm.pack_frame(data)
    assert len(frame) < 0.78 * len(as_json)
    back = lm.unpack_frame(frame)
    for ref, p in data["blobs"].items():
        q = back["blobs"][ref]
        assert q["kind"] == p["kind"]
        if p["kind"] == "points":
            assert np.array_equal(np.frombuffer(q["xy"], "<f4").reshape(-1, 2), xy)
        else:
            assert [bytes(b) for b in q["pages"]] == [base64.b64decode(s) for s in p["pages"]]
    assert back["refs"] == data["refs"] and back["labelNames"] == data["labelNames"]


def test_atlases_are_exact_for_data_and_keep_six_bits_for_the_models_outputs():
    from vae_explorer import latent_map as lm
    from vae_explorer.atlas import Atlas, atlas_layout, pack_atlas, unpack_cell

    rng = np.random.default_rng(1)
    n = 600  # smooth 256-level images, like a decoder's output
    base = rng.random((n, 7, 7)).repeat(4, 1).repeat(4, 2)
    recon = (255 * (0.6 * base + 0.4 * rng.random((n, 28, 28)))).astype(np.uint8)[..., None]
    grid = recon[:9]
    data, _ = lm.build_data(rng.normal(size=(n, 2)), rng.integers(0, 10, n), list("abcdefghij"),
                            recon, recon, grid, (-1, 1, -1, 1))
    frame = lm.unpack_frame(lm.pack_frame(data))
    blobs, refs = frame["blobs"], data["refs"]
    orig, rec, grd = blobs[refs["orig"]], blobs[refs["recon"]], blobs[refs["grid"]]
    assert orig["format"] == rec["format"] == grd["format"] == "deflate"
    assert lm.MODEL_BITS == 6 and (orig["bits"], rec["bits"], grd["bits"]) == (8, 6, 6)
    layout = atlas_layout(n, 28, 28)
    exact = Atlas(layout, 1, [bytes(p) for p in orig["pages"]], "deflate", 8)
    six = Atlas(layout, 1, [bytes(p) for p in rec["pages"]], "deflate", 6)
    for i in (0, 123, n - 1):  # the data's own pixels arrive exactly; the model's within 2 levels
        assert np.array_equal(unpack_cell(exact, i), recon[i])
        err = np.abs(unpack_cell(six, i).astype(int) - recon[i])
        assert err.max() <= 2 and err.mean() < 1.5
    six_bytes, exact_bytes = (sum(len(p) for p in a["pages"]) for a in (rec, orig))
    assert six_bytes < 0.8 * exact_bytes  # the bits dropped are the noise deflate cannot pack


MAP_APP = """
import numpy as np, streamlit as st
from vae_explorer.latent_map import latent_map
rng = np.random.default_rng(0)
xy = rng.normal(size=(50, 2)).astype(np.float32)
imgs = rng.integers(0, 255, (50, 4, 4, 1), dtype=np.uint8)
latent_map(xy, np.arange(50) % 3, ["a", "b", "c"], imgs, imgs, imgs[:16], (-1, 1, -1, 1),
           selected=st.session_state.get("sel", []), key="m")
"""


def test_the_maps_code_goes_to_a_session_once_not_with_every_render(tmp_path):
    from vae_explorer import latent_map as lm

    script = tmp_path / "app.py"
    script.write_text(f"import sys; sys.path.insert(0, {str(Path(APP).parents[1])!r})\n" + MAP_APP)
    at = AppTest.from_file(str(script)).run()
    assert not at.exception

    def element():
        for node in at._tree.children[0].children.values():
            if getattr(node, "type", "") == "bidi_component":
                return node.proto
        raise AssertionError("no component element")

    first = element()
    data = lm.unpack_frame(first.bytes)
    import zlib

    assert data["code"]["ref"] == data["codeRef"]
    src = zlib.decompress(data["code"]["z"]).decode()
    assert "export default" in src and src == lm.js_source()
    assert len(data["code"]["z"]) < 0.35 * len(src.encode())  # compressed: ~20 of ~80 kB
    assert len(first.js_content) < 5_000  # the registered loader, sent with every render
    at.session_state["sel"] = [1, 2]
    at.run()
    again = element()
    data2 = lm.unpack_frame(again.bytes)
    assert "code" not in data2 and data2["codeRef"] == data["codeRef"]
    assert len(again.SerializeToString()) < 10_000  # loader + css + data; was ~70 kB with the code


def test_shared_arrays_are_read_only_so_a_rerun_does_not_hash_the_images_again(tmp_path,
                                                                              monkeypatch):
    from vae_explorer import compute, latent_map as lm

    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    images, labels, x, _ = compute.dataset("shapes", str(tmp_path), "test", 1000)
    job = compute.ReconJob({"recon": np.zeros((1000, 28, 28, 1), np.uint8),
                            "rec_err": np.zeros(1000, np.float32)})
    for a in (images, labels, x, *job.arrays.values()):
        assert not a.flags.writeable
    calls = []
    real = lm.content_hash
    monkeypatch.setattr(lm, "content_hash", lambda *a: calls.append(a) or real(*a))
    for _ in range(3):  # three reruns
        lm._array_hash("atl-", images)
        lm._array_hash("rec-", job.arrays["recon"])
    assert len(calls) == 2
