"""Selections (bitset / range encodings, polygon hit test, search, panel figures) and latent
neighbours, on small data with known answers."""
import numpy as np
import pytest

from vae_explorer import selection as sel
from vae_explorer.analysis import neighbours


def test_bitset_round_trip_matches_the_page_bit_order():
    idx = np.array([0, 3, 8, 9, 69_999])
    b64 = sel.encode_bitset(idx, 70_000)
    assert np.array_equal(sel.decode_bitset(b64, 70_000), idx)
    # bit i of byte i >> 3, least significant first (as select.js writes it)
    import base64
    raw = base64.b64decode(sel.encode_bitset([0, 3, 9], 16))
    assert list(raw) == [0b1001, 0b10]


@pytest.mark.parametrize("bad", ["", "!!!!", "AAAA" * 10, None, "AA=A"])
def test_bitset_rejects_malformed_text(bad):
    assert sel.decode_bitset(bad, 16) is None


def test_bitset_of_wrong_length_is_refused():
    assert sel.decode_bitset(sel.encode_bitset([1], 64), 16) is None


def test_ranges_round_trip():
    idx = [0, 1, 2, 3, 15, 20, 31, 32, 33, 40]
    text = sel.to_ranges(idx)
    assert text == "0-3.15.20.31-33.40"
    assert sel.from_ranges(text).tolist() == idx
    rng = np.random.default_rng(0)
    for _ in range(20):
        r = np.unique(rng.integers(0, 5000, rng.integers(1, 400)))
        assert np.array_equal(sel.from_ranges(sel.to_ranges(r)), r)


@pytest.mark.parametrize("bad", ["", "1-", "-3", "a", "5-2", "1..2", "0-999999", "1,2"])
def test_ranges_reject_malformed_or_huge(bad):
    assert sel.from_ranges(bad) is None


def test_selection_in_url_only_up_to_2000_points():
    assert sel.write_selection(list(range(2000))) == "0-1999"
    assert sel.write_selection(list(range(0, 4002, 2))) == ""
    assert sel.write_selection([]) == ""
    assert sel.parse_selection("3-5") == [3, 4, 5]


def test_points_in_polygon_square_and_concave():
    xy = np.array([[0.5, 0.5], [2, 2], [-0.1, 0.5], [0.9, 0.1]])
    sq = np.array([[0, 0], [1, 0], [1, 1], [0, 1]])
    assert sel.points_in_polygon(xy, sq).tolist() == [True, False, False, True]
    # a "U": the notch (0.5, 0.8) is outside, the arms are inside
    u = np.array([[0, 0], [1, 0], [1, 1], [0.7, 1], [0.7, 0.4], [0.3, 0.4], [0.3, 1], [0, 1]])
    pts = np.array([[0.5, 0.8], [0.15, 0.8], [0.85, 0.8], [0.5, 0.2]])
    assert sel.points_in_polygon(pts, u).tolist() == [False, True, True, True]


def test_search_by_index_and_label():
    labels = np.array([0, 1, 1, 2, 7, 7])
    names = ["circle", "square", "Triangle", "3", "4", "5", "6", "7"]
    assert sel.search("#4", labels, names, 6)[0].tolist() == [4]
    assert sel.search("3", labels, names, 6)[0].tolist() == []  # label "3" has no points ...
    assert sel.search("7", labels, names, 6)[0].tolist() == [4, 5]  # "7" is a label name
    assert sel.search("2", labels, names, 6)[0].tolist() == [2]  # not a label: an index
    assert sel.search("triangle", labels, names, 6)[0].tolist() == [3]
    assert sel.search("squ", labels, names, 6)[0].tolist() == [1, 2]
    assert sel.search("#99", labels, names, 6)[0].size == 0
    assert sel.search("zebra", labels, names, 6)[0].size == 0


def test_summary_and_paging():
    labels = np.array([0, 1, 1, 2])
    enc = {"rec_err": np.array([1.0, 2.0, 4.0, 8.0]), "kl": np.array([0, 1, 3, 5.0])}
    s = sel.summary([1, 2, 3], labels, ["a", "b", "c"], enc)
    assert s == {"count": 3, "hist": {"b": 2, "c": 1}, "rec_err": pytest.approx(14 / 3),
                 "kl": pytest.approx(3.0)}
    idx, pages = sel.page(np.arange(100), 2)
    assert pages == 3 and idx.tolist() == list(range(96, 100))
    assert sel.page(np.arange(100), 9)[0][0] == 96  # clamped to the last page


def test_neighbours_on_a_line_are_the_nearest_positions():
    z = np.zeros((20, 5), np.float32)
    z[:, 0] = np.arange(20) ** 1.5  # gaps grow along the line
    nn = neighbours.build(z, "euclidean")
    idx, dist = neighbours.query(nn, z, 10, k=3)
    assert idx.tolist() == [9, 11, 8]
    assert dist[0] == pytest.approx(10 ** 1.5 - 9 ** 1.5, rel=1e-5)
    assert np.all(np.diff(dist) >= 0)
    assert 10 not in neighbours.query(nn, z, 10, k=19)[0]


def test_cosine_and_euclidean_disagree_on_direction_vs_distance():
    # point 0 and 1 point the same way (cosine distance 0) but are far apart; 2 is near 0 but
    # at 90 degrees.
    z = np.array([[1, 0], [10, 0], [0.0, 1.2], [-5, -5]], np.float32)
    e = neighbours.query(neighbours.build(z, "euclidean"), z, 0, k=1)
    c = neighbours.query(neighbours.build(z, "cosine"), z, 0, k=1)
    assert e[0].tolist() == [2] and c[0].tolist() == [1]
    assert c[1][0] == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError):
        neighbours.build(z, "manhattan")


# ---------------------------------------------------------------------------------------------
# the map's side: the page's value, the payload, the session keys and the link


def test_page_value_decodes_to_indices_and_refuses_other_maps():
    bits = sel.encode_bitset([2, 5], 10)
    slot, idx, seq = sel.from_page_value({"slot": "s2", "bits": bits, "seq": 3, "n": 10}, 10)
    assert (slot, idx.tolist(), seq) == ("s2", [2, 5], 3)
    assert sel.from_page_value({"slot": "s1", "bits": "", "seq": 4, "n": 10}, 10)[1].size == 0
    assert sel.from_page_value({"slot": "s1", "bits": bits, "seq": 1, "n": 10}, 20) is None
    assert sel.from_page_value({"slot": "s1", "bits": bits, "seq": 1, "n": 20}, 20) is None
    assert sel.from_page_value({"slot": "s3", "bits": bits, "seq": 1, "n": 10}, 10) is None
    assert sel.from_page_value({"slot": "s1", "bits": "!", "seq": 1, "n": 10}, 10) is None


def test_selections_payload_drops_indices_beyond_the_map():
    p = sel.selections_payload({"s1": [1, 3, 99], "s2": None, "seq": 7}, 8)
    assert p["seq"] == 7 and p["s2"] == ""
    assert sel.decode_bitset(p["s1"], 8).tolist() == [1, 3]
    f = sel.found_payload({"indices": np.array([4]), "id": 2}, 8)
    assert f["count"] == 1 and f["list"] == [4] and f["id"] == 2


def test_selections_in_the_url_registry():
    from vae_explorer import state

    vals = {"sel_s1": [0, 1, 2, 3, 9], "sel_s2": np.arange(0, 5000, 2)}
    url = state.url_for(vals)
    assert url == {"s1": "0-3.9"}  # S2 has 2,500 points: left out of the link
    assert state.parse_url({"s1": "0-3.9", "s2": "bad"}) == {"sel_s1": [0, 1, 2, 3, 9]}


def test_selections_survive_a_projection_change_but_not_another_checkpoint_or_sample(monkeypatch):
    import types

    from vae_explorer import state

    fake = types.SimpleNamespace(session_state={}, query_params={})
    monkeypatch.setattr(state, "st", fake)
    ss = fake.session_state
    state.note_map(("sha1", "pca", "data1"))
    ss["sel_s1"], ss["sel_s2"] = [1, 2], [3]
    state.note_map(("sha1", "umap", "data1"))
    assert ss["sel_s1"] == [1, 2] and ss["sel_s2"] == [3]
    state.note_map(("sha1", "umap", "data2"))
    assert "sel_s1" not in ss and "sel_s2" not in ss
    ss["sel_s1"] = [4]
    state.note_map(("sha2", "umap", "data2"))
    assert "sel_s1" not in ss


def test_map_data_carries_selections_search_and_neighbours_only_where_asked():
    from vae_explorer import latent_map as lm

    rng = np.random.default_rng(0)
    xy = rng.normal(size=(20, 2)).astype(np.float32)
    args = dict(xy=xy, labels=np.zeros(20, int), label_names=["a"], images=None, recons=None,
                grid_images=None, grid_extent=None)
    plain, _ = lm.build_data(**args)
    assert plain["select"] is False and plain["found"] is None and plain["neighbours"] is None
    data, _ = lm.build_data(**args, selections={"s1": [0, 19], "s2": None, "seq": 2},
                            found={"indices": [3, 4], "id": 5},
                            neighbours={"of": 1, "idx": np.array([2, 7])})
    assert data["select"] is True and data["selections"]["seq"] == 2
    assert sel.decode_bitset(data["selections"]["s1"], 20).tolist() == [0, 19]
    assert data["found"]["list"] == [3, 4] and data["neighbours"] == {"of": 1, "idx": [2, 7]}
    import json
    json.dumps(data)  # all plain JSON (numpy ints converted)


# ---------------------------------------------------------------------------------------------
# the map page with a selection (AppTest, small generated checkpoint)


def test_map_page_panel_neighbours_and_search(tmp_path, monkeypatch):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from _explorer_helpers import make_checkpoint
    from vae_explorer import checkpoints

    make_checkpoint(tmp_path / "ck" / checkpoints.DEFAULT_NAME, latent_dim=2)
    monkeypatch.setenv("VAE_EXPLORER_CHECKPOINTS", str(tmp_path / "ck"))
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))
    app = str(Path(__file__).resolve().parent.parent / "vae_explorer" / "app.py")
    at = AppTest.from_file(app, default_timeout=120)
    at.query_params["s1"] = "0-59"
    at.query_params["nn"] = "cosine"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.session_state["sel_s1"] == list(range(60))
    assert [m.value for m in at.metric][:1] == ["60"]
    assert at.number_input(key="sel_page_s1").max == 2  # 60 points, 48 a page
    n_images = len(at.image)
    at.button(key="sel_mean_s1").click().run()
    assert not at.exception and len(at.image) == n_images + 1
    # a click on a point: its neighbours (cosine, from the link) below the map
    at.session_state["nn_of"] = 5
    at.run()
    assert any(t.value.startswith("Nearest 10 codes to #5") and "cosine" in t.value for t in at.text)
    at.text_input(key="map_search").input("#7").run()
    assert any(t.value == "point #7" for t in at.text)


def test_neighbour_captions_show_label_names_as_text_not_markdown():
    # st.image captions render Markdown, images included: a label written as a Markdown image
    # made the browser fetch a remote address when a point's neighbours were shown.
    from types import SimpleNamespace

    import numpy as np

    from vae_explorer import selpanel

    hostile = "![x](http://203.0.113.9/beacon.png)"
    c = SimpleNamespace(labels=np.array([0, 1, 0]), label_names=[hostile, "square"])
    caps = selpanel.neighbour_captions(c, {"of": 1, "idx": [0, 2], "dist": [0.5, 1.25]})
    assert caps[0] == "#1 itself" and caps[2].startswith("#2 ") and caps[2].endswith(" d=1.25")
    assert all("![" not in s and "](" not in s for s in caps), caps
    assert "\\!\\[x\\]\\(http" in caps[1]
