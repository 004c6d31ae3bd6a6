"""What is inside the checkpoint: architecture, data, training curves, test metrics, versions.

Text from the checkpoint is only ever shown through st.text / st.code / st.dataframe / st.json
(never as markdown or HTML).
"""
import streamlit as st

from vae_explorer import checkpoints, plaintext, state
from vae_explorer.lazy_imports import load

pd = load("pandas")  # a page's run may overlap a background job's imports: lazy_imports

c = state.ctx()
ck = c.ck
st.title("Checkpoint info")
st.text(f"Source: {c.source}")
st.text(f"sha256: {ck.sha256}")
if isinstance(ck.info.get("description"), str):  # converted files: layout and assumptions
    st.text(ck.info["description"][:4000])

if ck.train.neighbour_weight > 0:
    st.info(f"This map was shaped on purpose: trained with a neighbour-preserving term "
            f"(parametric UMAP's loss on the latent means, weight {ck.train.neighbour_weight:g}, "
            f"{ck.train.neighbour_k} neighbours per image, latent distances "
            f"x{ck.train.neighbour_scale:g}), so images that are close in pixel "
            f"space were kept close in the latent space, on top of the ELBO.")

summ = checkpoints.summary(ck)
# One above the other, each the page's width: side by side, the layer table (~400 px of
# columns) was cut at its right in half of a 1280 px window's main column, and both at 1024 px.
st.subheader("Architecture")
st.metric("Parameters", f"{summ['parameters']:,}")
st.dataframe(pd.DataFrame({"value": {k: str(v) for k, v in summ.items()}}), width="stretch")
st.subheader("Layers")
st.dataframe(pd.DataFrame(checkpoints.layer_table(ck.model)), hide_index=True, width="stretch")

st.subheader("Data")
if c.has_data:
    st.text(c.data_desc)
else:
    st.warning(c.data_error or "Dataset not loaded.")  # our own sentence (may use `code`)
if ck.data.label_names:
    st.text("Labels: " + ", ".join(ck.data.label_names))

st.subheader("Training curves")
hist = [h for h in ck.history if isinstance(h, dict)]
if not hist:
    st.info("No training history in this checkpoint.")
else:
    import plotly.graph_objects as go

    df = pd.DataFrame(hist)
    x = df["epoch"] if "epoch" in df else pd.Series(range(1, len(df) + 1))
    groups = [(checkpoints.loss_curve_title(ck.train), ["train_loss", "test_loss"]),
              ("reconstruction", ["train_recon", "test_recon"]),
              ("KL", ["train_kl", "test_kl"])]
    cols = st.columns(3)
    for col, (title, keys) in zip(cols, groups):
        keys = [k for k in keys if k in df and pd.api.types.is_numeric_dtype(df[k])]
        if not keys:
            continue
        fig = go.Figure()
        for k in keys:
            fig.add_trace(go.Scatter(x=x, y=df[k], mode="lines+markers", name=k))
        top = 60 if "<br>" in title else 40  # room for a subtitle line
        fig.update_layout(title=title, height=300, margin=dict(l=10, r=10, t=top, b=10),
                          xaxis_title="epoch", legend=dict(orientation="h", y=-0.3))
        col.plotly_chart(fig, width="stretch")
    with st.expander("History table"):
        st.dataframe(df, hide_index=True)

st.subheader("Test metrics")
if ck.metrics:
    rows = [{"metric": str(k), "value": v if isinstance(v, (int, float)) else str(v)}
            for k, v in ck.metrics.items()]
    st.dataframe(pd.DataFrame(rows).astype({"value": str}), hide_index=True,
                 width="stretch")
else:
    st.info("No test metrics stored (python -m vae_training.evaluate CKPT adds them).")

with st.expander("Training settings, versions, hardware"):
    st.json({k: ck.info.get(k) for k in ("train", "versions", "created", "hardware",
                                          "train_seconds") if k in ck.info})
with st.expander("Full metadata document"):
    st.json(ck.info)
