"""state.bind: a widget bound to a setting is told its value only when the setting changed.

Streamlit sends a value written through session state to the page as "set this value", even an
unchanged one. When every run did that, a run already under way when the user picked another
checkpoint to compare with put the old value back in the page; the next rerun request (a progress
fragment's poll) then carried the old value back and the user's choice was lost (a flaky
Compare e2e test, reproduced under load)."""
from streamlit.testing.v1 import AppTest


def _script():
    import streamlit as st

    from vae_explorer import state

    st.selectbox("Compare with", ["ckpt:a", "ckpt:b", "ckpt:c"], **state.bind("cmp_with"))


def test_an_unchanged_setting_is_not_pushed_to_the_page_again():
    at = AppTest.from_function(_script)
    at.session_state["cmp_with"] = "ckpt:a"
    at.run()
    assert at.selectbox[0].value == "ckpt:a"
    at.run()
    assert at.selectbox[0].proto.set_value is False  # was True on every run
    at.selectbox[0].select("ckpt:b").run()
    assert at.session_state["cmp_with"] == "ckpt:b"  # the user's choice is committed
    assert at.selectbox[0].proto.set_value is False


def test_a_setting_changed_elsewhere_still_reaches_the_widget():
    at = AppTest.from_function(_script)
    at.session_state["cmp_with"] = "ckpt:a"
    at.run()
    at.session_state["cmp_with"] = "ckpt:c"  # e.g. a link or another page's button
    at.run()
    assert at.selectbox[0].value == "ckpt:c"
    assert at.selectbox[0].proto.set_value is True
