"""Presenter view chrome: a top bar with the pages, the address for students and a way out.

Streamlit glue only; the addresses come from vae_explorer.share.
"""
from __future__ import annotations

import streamlit as st

from . import share, state

RUN_FOR_NETWORK = ".venv/bin/streamlit run vae_explorer/app.py --server.address 0.0.0.0"


def _leave() -> None:
    state.put("presenter", False)


def bar(pages: dict, titles: dict[str, str], icons: dict[str, str]) -> None:
    """Page links, 'For students' and 'Leave presenter view', in one row above the page."""
    with st.container(horizontal=True, vertical_alignment="center", gap="small",
                      key="presenter_bar"):
        for slug, page in pages.items():
            st.page_link(page, label=titles[slug], icon=icons[slug], width="content")
        st.space("stretch")
        with st.popover("For students", icon=":material/qr_code_2:"):
            students_panel()
        st.button("Leave presenter view", icon=":material/close_fullscreen:", on_click=_leave,
                  key="leave_presenter")


def students_panel() -> None:
    query = {k: st.query_params[k] for k in st.query_params}
    port = int(st.get_option("server.port") or 8501)
    host = share.student_host(st.get_option("server.address"))
    if host is None:
        st.warning("This server only accepts connections from this computer (server.address "
                   f"{st.get_option('server.address')}), so students cannot open it. Start it "
                   "for the network (see README, \"Sharing on a classroom network\"):")
        st.code(RUN_FOR_NETWORK, language="bash")
    else:
        url = share.student_url(st.context.url, host, port, query)
        st.markdown("**Students open:**")
        st.code(url, language=None, wrap_lines=True)
        st.image(share.qr_png(url), caption="the same screen, on a phone or laptop", width=240)
    st.markdown("**Link to exactly this screen:**")
    st.code(share.screen_url(st.context.url, query), language=None, wrap_lines=True)
