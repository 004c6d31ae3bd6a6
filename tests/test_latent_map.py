import base64
import json
from pathlib import Path

import numpy as np
import pytest

from vae_explorer import latent_map as lm
from vae_explorer.atlas import Atlas, atlas_layout, decode_deflate, unpack_cell

N = 60


def _inputs(n=N, seed=0):
    rng = np.random.default_rng(seed)
    xy = rng.normal(size=(n, 2)).astype(np.float32)
    labels = (np.arange(n) % 4).astype(np.int64)
    imgs = rng.integers(0, 256, (n, 6, 6, 1), dtype=np.uint8)
    recons = (imgs // 2).astype(np.uint8)
    grid = rng.integers(0, 256, (9, 6, 6, 1), dtype=np.uint8)
    return xy, labels, imgs, recons, grid


def _build(**kw):
    xy, labels, imgs, recons, grid = _inputs()
    args = dict(xy=xy, labels=labels, label_names=["a", "b", "c", "d"], images=imgs,
                recons=recons, grid_images=grid, grid_extent=(-3, 3, -2, 2))
    args.update(kw)
    return lm.build_data(**args)


def test_points_payload_round_trips_binary():
    xy, labels, *_ = _inputs()
    cv = np.linspace(0, 1, N).astype(np.float32)
    p = lm.points_payload(xy, labels, cv)
    got = np.frombuffer(base64.b64decode(p["xy"]), "<f4").reshape(-1, 2)
    np.testing.assert_array_equal(got, xy)
    assert p["labelsDtype"] == "u1"
    np.testing.assert_array_equal(np.frombuffer(base64.b64decode(p["labels"]), np.uint8), labels)
    assert p["bounds"] == [float(xy[:, 0].min()), float(xy[:, 0].max()),
                           float(xy[:, 1].min()), float(xy[:, 1].max())]
    lo, hi = p["colorRange"]
    assert 0 <= lo < hi <= 1


@pytest.mark.parametrize("labels,dtype", [([0, 300], "u2"), ([-1, 5], "i4"), ([0, 70000], "i4")])
def test_label_dtypes(labels, dtype):
    p = lm.points_payload(np.zeros((2, 2), np.float32) + [[0, 0], [1, 1]], np.array(labels))
    assert p["labelsDtype"] == dtype


def test_points_payload_rejects_bad_input():
    with pytest.raises(ValueError):
        lm.points_payload(np.zeros((3, 3)), None)
    with pytest.raises(ValueError):
        lm.points_payload(np.array([[0, np.nan], [1, 1]]), None)
    with pytest.raises(ValueError):
        lm.points_payload(np.zeros((3, 2)), np.zeros(4))


def test_degenerate_bounds_get_room():
    p = lm.points_payload(np.ones((5, 2), np.float32), None)
    x0, x1, y0, y1 = p["bounds"]
    assert x1 > x0 and y1 > y0


def test_build_data_refs_blobs_and_json_size():
    data, timing = _build(path=np.array([[0, 0], [1, 1]]), selected=[3, 5])
    refs = data["refs"]
    assert set(refs) == {"points", "orig", "recon", "grid", "window"}
    assert refs.pop("window") is None  # no view asked for
    assert all(refs.values())
    assert set(data["blobs"]) == set(refs.values())
    assert data["grid"] == {"g": 3, "extent": [-3.0, 3.0, -2.0, 2.0]}
    assert data["path"] == [[0.0, 0.0], [1.0, 1.0]] and data["selected"] == [3, 5]
    atlas = data["blobs"][refs["orig"]]
    assert atlas["kind"] == "atlas" and atlas["channels"] == 1 and atlas["count"] == N
    assert atlas["format"] == "deflate" and atlas["bits"] == 8  # the data's pixels, exact
    page = decode_deflate(base64.b64decode(atlas["pages"][0]), atlas["pageShapes"][0], 1)
    assert page.shape[-1] == 1
    json.dumps(data)  # JSON-serialisable
    assert timing["total"] >= 0


def test_client_has_refs_are_not_resent():
    data, _ = _build()
    have = set(data["refs"].values())
    again, _ = _build(client_has=have, selected=[1])
    assert again["blobs"] == {}
    assert again["refs"] == data["refs"]
    assert len(json.dumps(again)) < 1000


def test_changed_images_get_a_new_ref():
    data, _ = _build()
    xy, labels, imgs, recons, grid = _inputs()
    imgs2 = imgs.copy()
    imgs2[0, 0, 0, 0] ^= 1
    data2, _ = _build(images=imgs2, client_has=set(data["refs"].values()))
    assert data2["refs"]["orig"] != data["refs"]["orig"]
    assert set(data2["blobs"]) == {data2["refs"]["orig"]}


def test_optional_parts_absent():
    data, _ = _build(images=None, recons=None, grid_images=None, grid_extent=None)
    assert data["refs"]["orig"] is None and data["refs"]["grid"] is None
    assert data["grid"] is None and len(data["blobs"]) == 1


def test_bad_shapes_raise():
    xy, labels, imgs, recons, grid = _inputs()
    with pytest.raises(ValueError):
        _build(images=imgs[:-1])
    with pytest.raises(ValueError):
        _build(grid_images=grid[:8])
    with pytest.raises(ValueError):
        _build(grid_extent=(1, 0, 0, 1))


def test_payload_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(lm, "PAYLOAD_CACHE_BYTES", 10)
    lm._cache_put("x1", {"a": "12345678"}, 8)
    lm._cache_put("x2", {"a": "12345678"}, 8)
    assert lm._cache_get("x1") is None and lm._cache_get("x2") is not None


def test_identity_hash_memo_for_readonly_arrays():
    a = np.arange(100, dtype=np.uint8)
    a.setflags(write=False)
    h1 = lm._array_hash("t-", a)
    assert lm._array_hash("t-", a) == h1 == "t-" + lm.content_hash(a)


def test_js_uses_textcontent_not_innerhtml():
    js = lm.js_source()
    assert "innerHTML" not in js.replace("never innerHTML", "")
    assert "textContent" in js


APP = """
import numpy as np, streamlit as st
from vae_explorer.latent_map import latent_map
rng = np.random.default_rng(0)
xy = rng.normal(size=(50, 2)).astype(np.float32)
imgs = rng.integers(0, 255, (50, 4, 4, 1), dtype=np.uint8)
ev = latent_map(xy, np.arange(50) % 3, ["a", "b", "c"], imgs, imgs, imgs[:16], (-1, 1, -1, 1),
                selected=st.session_state.get("sel", []), key="m")
st.write(repr(ev))
"""


def test_streamlit_rerun_sends_payloads_once(tmp_path):
    from streamlit.testing.v1 import AppTest

    script = tmp_path / "app.py"
    repo = Path(__file__).resolve().parent.parent
    script.write_text(f"import sys; sys.path.insert(0, {str(repo)!r})\n" + APP)
    at = AppTest.from_file(str(script)).run()
    assert not at.exception

    def component_data():
        for node in at._tree.children[0].children.values():
            if getattr(node, "type", "") == "bidi_component":
                return lm.unpack_frame(node.proto.bytes)  # latent_map.pack_frame
        raise AssertionError("no component element")

    first = component_data()
    # points, orig (lossless) and recon (lossy) atlases of the same images, grid
    assert len(first["blobs"]) == 4
    at.session_state["sel"] = [1, 2]
    at.run()
    second = component_data()
    assert second["blobs"] == {} and second["selected"] == [1, 2]
    assert second["refs"] == first["refs"]


def test_atlas_payloads_survive_a_restart_on_disk(tmp_path, monkeypatch):
    """A new process (empty in-memory payload cache) reads encoded atlases back from disk."""
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    imgs = np.random.default_rng(3).integers(0, 256, (50, 8, 8, 1), dtype=np.uint8)
    ref = lm._array_hash("atl-", imgs)
    built = lm._get_payload(ref, lambda: lm.atlas_payload(imgs), on_disk=True)
    monkeypatch.setattr(lm, "_PAYLOADS", type(lm._PAYLOADS)())
    monkeypatch.setattr(lm, "_PAYLOAD_SIZES", {})

    def must_not_build():
        raise AssertionError("re-encoded although the payload was on disk")

    again = lm._get_payload(ref, must_not_build, on_disk=True)
    assert again == built and again["kind"] == "atlas"
    page = base64.b64decode(again["pages"][0])
    layout = atlas_layout(50, 8, 8)
    assert np.array_equal(unpack_cell(Atlas(layout, 1, [page], "deflate"), 7), imgs[7])  # exact


def test_window_grid_and_latents_travel_in_content_addressed_payloads():
    rng = np.random.default_rng(7)
    win_imgs = rng.integers(0, 256, (16, 6, 6, 1), dtype=np.uint8)
    lat = rng.normal(size=(16, 5)).astype(np.float32)
    glat = rng.normal(size=(9, 5)).astype(np.float32)
    data, _ = _build(window={"images": win_imgs, "extent": (4.0, 10.0, -2.0, 4.0), "latents": lat},
                     grid_latents=glat, map_is_latent=False, map_label="UMAP 1, UMAP 2",
                     cursor_method="knn", map_id="umap:k", initial_view=(0, 1, 2, 3), url_view=True)
    ref = data["refs"]["window"]
    assert ref and data["window"] == {"g": 4, "extent": [4.0, 10.0, -2.0, 4.0]}
    blob = data["blobs"][ref]
    assert blob["count"] == 16 and blob["zdim"] == 5
    head = np.frombuffer(base64.b64decode(blob["zhead"]), "<f4").reshape(16, lm.ZHEAD)
    np.testing.assert_array_equal(head, lat[:, :lm.ZHEAD])
    norm = np.frombuffer(base64.b64decode(blob["znorm"]), "<f4")
    np.testing.assert_allclose(norm, np.linalg.norm(lat, axis=1), rtol=1e-6)
    assert "zhead" in data["blobs"][data["refs"]["grid"]]
    assert data["map"] == {"id": "umap:k", "latent": False, "label": "UMAP 1, UMAP 2",
                           "method": "knn", "urlView": True, "link": "",
                           "initialView": [0.0, 1.0, 2.0, 3.0]}
    # Sent once: a page that has the window's payload gets only its small descriptor again.
    again, _ = _build(window={"images": win_imgs, "extent": (4.0, 10.0, -2.0, 4.0), "latents": lat},
                      grid_latents=glat, client_has=set(data["refs"].values()))
    assert again["blobs"] == {} and again["refs"]["window"] == ref


def test_js_files_join_into_one_module_with_one_export():
    js = lm.js_source()
    assert js.count("export default") == 1
    assert js.rstrip().endswith("}")
    for f in lm.JS_FILES:
        assert len((lm.ASSETS / f).read_text().splitlines()) <= 400, f


WINDOW_APP = """
import numpy as np, streamlit as st
from vae_explorer.latent_map import latent_map, _VIEW_KEY
rng = np.random.default_rng(0)
xy = rng.normal(size=(50, 2)).astype(np.float32)
imgs = rng.integers(0, 255, (50, 4, 4, 1), dtype=np.uint8)
asked = []

def window_grid(view):
    asked.append(view)
    return {"images": imgs[:16], "extent": (view[0] - 1, view[1] + 1, view[2] - 1, view[3] + 1),
            "latents": None}

latent_map(xy, np.arange(50) % 3, ["a", "b", "c"], imgs, imgs, imgs[:16], (-1, 1, -1, 1),
           key="m", window_grid=window_grid, map_id=st.session_state.get("map_id", "mapA"))
st.write(repr(asked))
"""


def test_a_view_the_page_asked_for_is_decoded_for_that_map_only(tmp_path):
    from streamlit.testing.v1 import AppTest

    script = tmp_path / "app.py"
    repo = Path(__file__).resolve().parent.parent
    script.write_text(f"import sys; sys.path.insert(0, {str(repo)!r})\n" + WINDOW_APP)
    at = AppTest.from_file(str(script)).run()
    assert not at.exception and at.markdown[0].value == "[]"  # nothing asked: no decode

    def component_data():
        for node in at._tree.children[0].children.values():
            if getattr(node, "type", "") == "bidi_component":
                return lm.unpack_frame(node.proto.bytes)
        raise AssertionError("no component element")

    at.session_state[lm._VIEW_KEY + "m"] = {"view": [2, 3, 5, 6], "map": "mapA", "id": 1}
    at.run()
    assert at.markdown[0].value == "[(2.0, 3.0, 5.0, 6.0)]"
    data = component_data()
    assert data["window"] == {"g": 4, "extent": [1.0, 4.0, 4.0, 7.0]}
    assert data["refs"]["window"] in data["blobs"]
    at.session_state["map_id"] = "mapB"  # the view was asked on another map (e.g. before UMAP)
    at.run()
    assert at.markdown[0].value == "[]" and component_data()["window"] is None
    at.session_state["map_id"] = "mapA"
    at.session_state[lm._VIEW_KEY + "m"] = {"view": [2, 1, 5, 6], "map": "mapA", "id": 2}
    at.run()  # not a view: ignored
    assert at.markdown[0].value == "[]" and not at.exception
