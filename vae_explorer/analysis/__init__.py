"""Inspection figures for a checkpoint's map: plain numpy / scikit-learn, no Streamlit.

  pointwise.py   per-point reconstruction term, KL and -ELBO from the cached codes and
                 reconstructions (Bernoulli: NLL above the image's own entropy floor)
  rankings.py    worst reconstructions, highest KL, lowest ELBO, likely mislabels, outliers
  honesty.py     how many of a point's latent neighbours the 2-D map keeps (k-NN queries only)
  attributes.py  attribute vectors (mean code of one group minus another) and their filmstrips
  export.py      the current map as CSV bytes (formula-safe label names)
  compare.py     two maps of the same images: Procrustes alignment, neighbours kept, k-NN
                 accuracy, trustworthiness; which checkpoint pairs / metrics compare
  pixels.py      pixel-space baselines: PCA of pixels (with its inverse as decoder), cache keys
  neighbours.py  a point's k nearest codes in the full latent space (euclidean / cosine)
"""
