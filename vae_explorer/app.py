"""VAE explorer: `streamlit run vae_explorer/app.py`.

The entry point builds the sidebar (checkpoint, data, presenter view), opens the checkpoint,
encodes the dataset sample (disk-cached), puts everything the pages need into a state.Ctx and
runs the selected page (st.navigation; one page per file in vae_explorer/views/ -- not pages/:
a pages/ folder beside the entry script is Streamlit's legacy multipage layout, which AppTest
then runs in place of app.py on reruns).

The first run after start-up imports no torch when the disk cache has what the map needs: the
model loads in the background once the map says it is drawn (vae_explorer.modelstart). A
session's first run on the map page draws the map without the controls; the next run brings them.
A new tab on the default link gets that first render from a recording before anything below the
replay is imported (vae_explorer.firstpaint).
"""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import streamlit as st  # noqa: E402
from streamlit import delta_generator  # noqa: E402

from vae_explorer import background, firstpaint, navigation  # noqa: E402

# The first element a process draws makes Streamlit check whether it runs in a REPL (to print a
# "use streamlit run" hint): inspect.stack() with source lines, which resolves the file of every
# module in sys.modules (~1,000 here: 0.07 s standalone, loaded; the floor's one-line app pays it
# for fewer). Under `streamlit run` it never does: mark the hint as shown. A private name: if
# Streamlit renames it, this does nothing and test_first_run_skips_streamlits_repl_check fails.
delta_generator._use_warning_has_been_displayed = True
# The server's own heap (Streamlit and its web server) is frozen before the first run imports
# numpy and the app: a full collection those imports triggered walked it all, ~40 ms of a warm
# open's first run (docs/benchmarks.md "Warm open").
background.settle_heap()
if firstpaint.replay(st.session_state):  # a new tab on the default link: its recorded first map
    st.stop()

from vae_training.checkpoint import CheckpointError  # noqa: E402

from vae_explorer import (checkpoints, compute, heavy, modelstart,  # noqa: E402
                          plaintext, presenter, sample, state, styles, tutorial_import)

SAMPLE_SIZES = [1_000, 2_000, 5_000, 10_000, 20_000, 70_000]

state.init_from_url()
ss = st.session_state
navigation.set_page_config(bool(ss.get("presenter")))


def _data_root_default() -> str:
    from vae_training.config import default_data_root

    return default_data_root()


# ---------------------------------------------------------------------------------------------
# checkpoint


def _activate(ck, label: str, name: str = "") -> None:
    ss["active_ck"] = ck
    ss["active_label"] = label
    ss["active_ckpt_name"] = name
    for k in ("point_a", "point_b", "point_c"):  # indices/latents of another model mean nothing
        if ss.get("_points_for") and ss["_points_for"] != ck.sha256:
            ss.pop(k, None)
    ss["_points_for"] = ck.sha256


def _open_listed(p: Path) -> str | None:
    stt = p.stat()
    ck, err = compute.load_path(str(p), stt.st_mtime, stt.st_size)
    if err:
        return err
    _activate(ck, p.name, p.name)
    return None


def _upload_limit_mb() -> int:
    """The smaller of our limit and Streamlit's server.maxUploadSize."""
    try:
        server = int(st.get_option("server.maxUploadSize"))
    except Exception:
        server = checkpoints.UPLOAD_LIMIT_MB
    return max(1, min(server, checkpoints.UPLOAD_LIMIT_MB))


def _take(ck, err, label: str) -> None:
    if err:
        ss["ck_error"] = err
    elif ck is not None:
        ss.pop("ck_error", None)
        _activate(ck, label, "")


@contextmanager
def _heavy_job_note():
    """on_wait for a heavy job (vae_explorer.heavy): a sidebar note while it waits its turn."""
    note = st.sidebar.empty()
    try:
        yield lambda ahead: note.info(heavy.waiting_message(ahead).capitalize() + "…")
    finally:
        note.empty()


def _open_upload(data: bytes, name: str, limit: int):
    with _heavy_job_note() as on_wait:
        return checkpoints.open_bytes(data, name, limit=limit, on_wait=on_wait)


def _open_tutorial(data: bytes, name: str, label: str, dataset: str | None, limit: int):
    """A tutorial .pth/.pt: converted in a child process (vae_explorer.tutorial_import), then opened
    like an upload. (None, None) while the user has to say which dataset it was trained on."""
    with st.spinner(f"Converting {name} (a separate process, weights only)…"), \
            _heavy_job_note() as on_wait:
        res = tutorial_import.convert_bytes(data, name, dataset, limit, on_wait=on_wait)
    ss.pop("_tut_pending", None)
    if res.need_dataset:
        ss["_tut_pending"] = (data, name, label, res.need_dataset, limit)
        return None, None
    if res.error:
        return None, res.error
    return _open_upload(res.data, f"{Path(name).stem}.safetensors", limit)


def _tutorial_dataset_form(sb) -> None:
    data, name, label, choices, limit = ss["_tut_pending"]
    with sb.form("tut_dataset_form", border=False):
        ds = st.selectbox(f"{plaintext.md(name)}: the file cannot tell which dataset it was "
                          "trained on",
                          choices, key="tut_dataset")
        go = st.form_submit_button("Convert and open")
    if go:
        _take(*_open_tutorial(data, name, label, ds, limit), label)
        if "_tut_pending" not in ss:  # done: this run drew the form already; draw without it
            st.rerun()


def _wanted(names: list[str]) -> int:
    """Index of the listed checkpoint to show: the link's, else the open one, else the default."""
    url = ss.get("url_ckpt")
    named = checkpoints.resolve_name(url) if url else None  # file name or stem
    want = (named.name if named else ss.get("active_ckpt_name")) or checkpoints.DEFAULT_NAME
    return names.index(want) if want in names else 0


def checkpoint_sidebar(controls: bool = True) -> None:
    """The checkpoint chooser; controls=False (a session's first map render): open the link's or
    the default checkpoint without drawing the chooser (it comes with the next run)."""
    listed = checkpoints.list_checkpoints()
    names = [p.name for p in listed]
    if not controls:
        if "active_ck" not in ss and listed:
            _open_listed(listed[_wanted(names)])  # an error: main() draws everything instead
        return
    sb = st.sidebar
    sb.header("Checkpoint")
    sources = ["Included", "Path on disk", "Upload"]
    src = sb.radio("Open from", sources, horizontal=True, key="ck_source",
                   label_visibility="collapsed")
    if src == "Included":
        if not names:
            sb.info("No checkpoints in checkpoints/ yet. Train one with "
                    "`python -m vae_training --out checkpoints/my.safetensors`, or open one by path.")
        else:
            url = ss.get("url_ckpt")
            idx = _wanted(names)
            named = checkpoints.resolve_name(url) if url else None  # file name or stem
            if url and named is None and ss.get("ck_pick", names[idx]) == names[idx]:
                sb.warning(f"The link names a checkpoint that is not included here ({plaintext.md(url[:80])}); "
                           f"showing {names[idx]}.")
            if "ck_pick" not in ss or ss["ck_pick"] not in names:
                ss["ck_pick"] = names[idx]
            pick = sb.selectbox("Checkpoint", names, key="ck_pick")
            if ss.get("active_ckpt_name") != pick or "active_ck" not in ss:
                err = _open_listed(listed[names.index(pick)])
                if err:
                    sb.error(plaintext.md(err))
    elif src == "Path on disk":
        with sb.form("ck_path_form", border=False):
            path = st.text_input("Path to a .safetensors checkpoint or a tutorial's .pth/.pt",
                                 key="ck_path")
            go = st.form_submit_button("Open")
        p = Path(path.strip()).expanduser()
        if go and tutorial_import.is_tutorial_file(p.name) and p.is_file():
            lim = checkpoints.UPLOAD_LIMIT
            ck, err = (None, f"{p}: over the {lim // 2**20} MB limit.") if p.stat().st_size > lim \
                else _open_tutorial(p.read_bytes(), p.name, str(p), None, lim)
            _take(ck, err, str(p))
        elif go:
            _take(*checkpoints.open_path(path), str(path))
    else:
        limit_mb = _upload_limit_mb()
        up = sb.file_uploader(f"Upload a .safetensors checkpoint or a tutorial's .pth/.pt "
                              f"(max {limit_mb} MB)", type=["safetensors", "pth", "pt"],
                              key="ck_upload")
        if up is not None and ss.get("_upload_id") != up.file_id:
            ss["_upload_id"] = up.file_id
            if up.size > limit_mb * 2**20:
                ck, err = None, (f"{up.name}: {up.size / 2**20:.1f} MB is over the "
                                 f"{limit_mb} MB upload limit.")
            elif tutorial_import.is_tutorial_file(up.name):
                ck, err = _open_tutorial(up.getvalue(), up.name, f"upload: {up.name}", None,
                                         limit_mb * 2**20)
            else:
                ck, err = _open_upload(up.getvalue(), up.name, limit_mb * 2**20)
            _take(ck, err, f"upload: {up.name}")
    if src != "Included" and ss.get("_tut_pending"):
        _tutorial_dataset_form(sb)
    if src != "Included" and ss.get("ck_error"):
        sb.error(plaintext.md(ss["ck_error"]))
        if "active_ck" in ss:
            sb.text(f"Still showing: {ss['active_label']}")
    if "active_ck" not in ss and listed:  # first open: the shipped default, no configuration
        err = _open_listed(listed[0])
        if err:
            sb.error(plaintext.md(err))


# ---------------------------------------------------------------------------------------------
# data


def data_sidebar(ck, controls: bool = True) -> state.Ctx:
    """The sample to encode, from the data popover's widgets (controls=False: from the session,
    the widgets come with the next run); returns the pages' Ctx."""
    sb = st.sidebar
    dc = ck.data
    # The data settings sit in a popover: Streamlit mounts a closed popover's body only when it
    # is opened (an expander's always), so a first open draws, and fetches the code of, three
    # widgets fewer (docs/benchmarks.md "Warm open"). Its widgets still run on every script run,
    # so their values stay. Their values are known before they are drawn (a widget's state is
    # updated before the run), so the popover's label can say what the map shows.
    root = ss["data_root"] if "data_root" in ss else _data_root_default()
    both = bool(ss.get("data_both", False))
    split = "train+test" if both else "test"
    known = ss.setdefault("_split_sizes", {})  # what loading told us about unlisted datasets
    available = sample.split_size(dc.dataset, split) or known.get((dc.dataset, root, split))
    sizes = sample.size_options(SAMPLE_SIZES if both else SAMPLE_SIZES[:4], available)
    if ss.get("data_n") not in sizes:  # set here, no default below: one owner of the value
        ss["data_n"] = sample.default_size(sizes)
    n = ss["data_n"]
    if controls:  # (a label renders Markdown: the dataset's name comes from the checkpoint)
        box = sb.popover(f"Data: {plaintext.md(dc.dataset)} {split}, {n:,} points",
                         icon=":material/dataset:", width="stretch")
        root = box.text_input("Data root", key=state.hold("data_root", root),
                              help="Folder with the datasets in torchvision layout "
                                   "(ROOT/MNIST/raw/…). Default: $VAE_DATA_ROOT. The built-in "
                                   "'shapes' needs none.")
        most = sample.split_size(dc.dataset, "train+test")
        box.toggle(f"Train + test (up to {most:,})" if most else "Train + test",
                   key=state.hold("data_both", both))
        n = box.select_slider("Points on the map", sizes, key=state.hold("data_n", n))
    label_names = checkpoints.label_names(ck)
    c = state.Ctx(ck=ck, source=ss.get("active_label", ""), label_names=label_names,
                  controls=controls)
    try:
        images, labels, x_nchw, dkey = compute.dataset(dc.dataset, root, split, n)
    except sample.DataMissing as e:
        c.data_error = str(e)
        if e.details:
            sb.expander("What is missing, in detail").text(e.details)
        return c
    except Exception as e:  # unknown dataset name, unreadable files...
        c.data_error = f"Could not load dataset {dc.dataset!r}: {type(e).__name__}: {e}"
        return c
    if len(labels) < n and available is None:  # now we know: offer only what there is
        known[(dc.dataset, root, split)] = len(labels)
        st.rerun()
    if list(x_nchw.shape[1:]) != list(ck.model_config.image_shape):
        c.data_error = (f"The dataset's images are {tuple(x_nchw.shape[1:])} but the model "
                        f"expects {tuple(ck.model_config.image_shape)}.")
        return c
    c.data_key = dkey
    t0 = time.perf_counter()
    with st.spinner(f"Encoding {len(labels):,} images (once; cached on disk)…"):
        try:
            enc, hit = compute.codes(ck.sha256, c.data_key, ck, x_nchw, labels)
        except CheckpointError as e:  # the background validation of the tensors failed
            c.data_error = str(e)
            return c
    rec, job = compute.reconstructions(ck.sha256, c.data_key)
    if rec is None:  # decoded after this run (main() starts it), originals meanwhile
        c.extras["recon_pending"] = (ck.sha256, c.data_key, ck, x_nchw, labels, enc["mu"])
    c.images, c.labels, c.enc = images, labels, {**enc, **(rec or {})}
    c.label_names = checkpoints.label_names(ck, labels)
    c.data_desc = f"{dc.dataset} {split}, {len(labels):,} images"
    known_f = compute.factors(dc.dataset, split, n)
    if known_f is not None and len(known_f[0]) == len(labels):
        c.factors, c.factor_names = known_f
    c.extras["encode_seconds"] = time.perf_counter() - t0
    return c


def view_sidebar(c: state.Ctx) -> None:
    """Decode-as-class and presenter view (without c.controls: their values, no widgets)."""
    sb = st.sidebar
    if not c.controls:
        c.y_cond = int(ss.get("y_cond", 0)) if c.ck.model_config.num_classes else None
        c.presenter = bool(ss.get("presenter"))
        return
    if c.ck.model_config.num_classes:
        names = c.label_names[: c.ck.model_config.num_classes]
        names += [str(i) for i in range(len(names), c.ck.model_config.num_classes)]
        pick = sb.selectbox("Decode as class (conditional VAE)", range(len(names)),
                            format_func=lambda i: names[i], key="y_cond")
        c.y_cond = int(pick)
    sb.toggle("Presenter view", **state.bind("presenter"),
              help="Large crisp images and less chrome, for a projector. Shareable: ?present=1")
    c.presenter = bool(ss.get("presenter"))


# ---------------------------------------------------------------------------------------------

def main() -> None:
    styles.apply_css()
    pages = navigation.pages()
    nav = st.navigation(list(pages.values()))
    state.note_page(nav.url_path or "map")
    # A session's first run on the map page draws the map before the ~20 widgets of the sidebar
    # and the page, which come with the next run (the map's ready trigger causes it): its
    # points show ~0.45 s sooner, loaded (docs/benchmarks.md "Warm open"; vae_explorer.modelstart).
    controls = not modelstart.first_render_staged(ss, nav.url_path, state.client_connected())
    checkpoint_sidebar(controls)
    if not controls and ("active_ck" not in ss or getattr(ss["active_ck"], "error", None)):
        st.rerun()  # no map to draw first (so no ready to bring the controls): draw everything
    if "active_ck" not in ss:
        st.title("VAE explorer")
        st.warning("No checkpoint to show. Put a .safetensors checkpoint in checkpoints/, "
                   "open one by path or upload one in the sidebar. Train one with:")
        st.code("python -m vae_training --dataset shapes --out checkpoints/shapes-conv-z2.safetensors",
                language="bash")
        st.stop()
    ck = ss["active_ck"]
    if getattr(ck, "error", None):  # its tensors failed validation after a trusted open
        st.sidebar.error(ck.error)
        st.error(f"{plaintext.md(ss.get('active_label', 'This checkpoint'))} could not be opened: "
                 f"{plaintext.md(ck.error)}")
        ss.pop("active_ck", None)
        st.stop()
    c = data_sidebar(ck, controls)
    if not controls and not c.has_data:
        st.rerun()  # as above: the page says what is missing, and the sidebar offers the fixes
    view_sidebar(c)
    ss["ctx"] = c
    # A view of the map saved in the link belongs to this checkpoint, projection and sample.
    state.note_map((ck.sha256, state.get("proj") if c.d > 2 else "", c.data_key))
    # A shared link may name a page: go there once.
    want = ss.pop("url_page", "") or ""
    if want in pages and (nav.url_path or "map") != want:
        st.switch_page(pages[want], query_params={k: st.query_params[k] for k in st.query_params})
    state.sync_url(nav.url_path or "map")
    if c.presenter:
        presenter.bar(pages, {p[3]: p[1] for p in navigation.PAGES},
                      {p[3]: p[2] for p in navigation.PAGES})
    # The model is wanted either way, but the map page waits until its map says it is drawn
    # (vae_explorer.modelstart). Asked before the page: in a run that st.stop() ended (a
    # session's first map, a page without data), touching session state raises StopException
    # again, so the finally below must not.
    start = modelstart.should_start(ss, nav.url_path, c.has_data)
    try:
        nav.run()
    finally:  # also when the page stops or reruns
        # First, so that Streamlit's gc after the run skips the process's long-lived objects:
        # unfrozen it held the GIL 40-50 ms, and the run's last message (the map's frame) waited.
        background.settle_heap()
        if start:
            modelstart.start(c)


main()
