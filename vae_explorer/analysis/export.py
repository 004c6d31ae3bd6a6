"""The current map as CSV bytes (plain csv module).

Label names come from checkpoints and datasets: they are written as quoted data, and one that
starts like a spreadsheet formula ("=", "+", "-", "@", tab, CR) gets a leading "'" so that a
spreadsheet shows it instead of running it (OWASP "CSV injection")."""
from __future__ import annotations

import csv
import io

import numpy as np

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(s) -> str:
    s = str(s)
    return "'" + s if s.startswith(FORMULA_START) else s


def _col(a, n: int):
    """A float column as short Python floats (6 decimals), or empty cells when missing."""
    if a is None:
        return [None] * n
    return np.round(np.asarray(a, np.float64), 6).tolist()


def map_csv(labels, label_names, xy, codes, rec_err=None, kl=None, neg_elbo=None,
            selected=None, index=None) -> bytes:
    """Columns: index, label, label_name, x, y, z1..zd, rec_err, kl, neg_elbo, selected.
    selected: index array (or boolean mask) of the selection; index: dataset indices of the
    rows (default 0..n-1). Missing figures are empty cells."""
    labels = np.asarray(labels)
    n = len(labels)
    codes = np.asarray(codes).reshape(n, -1)
    d = codes.shape[1]
    flag = np.zeros(n, bool)
    if selected is not None:
        sel = np.asarray(selected)
        if sel.dtype == bool:
            flag[:] = sel
        else:
            flag[sel.astype(np.int64)] = True
    idx = np.arange(n) if index is None else np.asarray(index)
    names = [safe_text(v) for v in label_names]
    xy = np.asarray(xy).reshape(n, 2)
    cols = [_col(xy[:, 0], n), _col(xy[:, 1], n), *(_col(codes[:, j], n) for j in range(d)),
            _col(rec_err, n), _col(kl, n), _col(neg_elbo, n)]
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    w.writerow(["index", "label", "label_name", "x", "y", *(f"z{j + 1}" for j in range(d)),
                "rec_err", "kl", "neg_elbo", "selected"])
    lab = labels.tolist()
    ix = idx.tolist()
    fl = flag.astype(int).tolist()
    for r in range(n):
        k = int(lab[r])
        name = names[k] if 0 <= k < len(names) else str(k)
        w.writerow([int(ix[r]), k, name, *(c[r] if c[r] is not None else "" for c in cols), fl[r]])
    return buf.getvalue().encode("utf-8")
