"""Addresses for a classroom: the URL students open, and its QR code. No streamlit import.

The LAN address is found without contacting anyone: connecting a UDP socket only asks the
kernel which local address would route to a private address; no packet is sent.
"""
from __future__ import annotations

import io
import ipaddress
import socket
from urllib.parse import urlencode, urlsplit, urlunsplit

ALL_INTERFACES = ("", "0.0.0.0", "::")
# Any private address works as the routing question; nothing is sent to it.
_PROBE = ("10.254.254.254", 1)


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def lan_ip() -> str | None:
    """This machine's address on its local network, or None (no route, no network)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(_PROBE)  # UDP connect: picks a route, sends nothing
            ip = s.getsockname()[0]
    except OSError:
        return None
    return None if is_loopback(ip) or ip == "0.0.0.0" else ip


def student_host(server_address: str | None, find_ip=lan_ip) -> str | None:
    """The host students can reach, or None when the server listens on this machine only."""
    addr = (server_address or "").strip()
    if addr in ALL_INTERFACES:
        return find_ip()
    if is_loopback(addr):
        return None
    return addr


def student_url(browser_url: str | None, host: str, port: int, query: dict[str, str]) -> str:
    """The address the browser shows, with the host replaced by `host` and the query added."""
    parts = urlsplit(browser_url or "http://localhost/")
    h = f"[{host}]" if ":" in host else host
    return urlunsplit((parts.scheme or "http", f"{h}:{int(port)}", parts.path or "/",
                       urlencode(query), ""))


def screen_url(browser_url: str | None, query: dict[str, str]) -> str:
    parts = urlsplit(browser_url or "")
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), ""))


def qr_png(text: str, scale: int = 6) -> bytes:
    """PNG of a QR code for text (segno: pure Python, offline)."""
    import segno

    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=scale, border=2)
    return buf.getvalue()
