"""Text from a checkpoint, a dataset, a file name or an error, shown in a Streamlit element that
renders Markdown (st.error / warning / info / caption): every Markdown and HTML character is
backslash-escaped, so a label written as `![x](http://host/x.png)` shows as those characters and
makes no request. No streamlit import."""
from __future__ import annotations

import re

# CommonMark lets any ASCII punctuation be escaped; these are the ones Markdown, Streamlit's
# :colour[...] / :material/...: directives, LaTeX ($) and HTML can act on.
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")


def md(value: object) -> str:
    """str(value) with every Markdown / HTML special character escaped."""
    return _SPECIAL.sub(r"\\\1", str(value))
