"""PNG and SVG exports of a page, through headless Chromium (the browser the page is made for).

Two runs of the ``chromium`` command: the first loads the page and reports its full height,
the second takes the screenshot at that height, so the image holds the whole page. The SVG
export wraps that PNG in an SVG document (a raster inside: Chromium cannot turn HTML into
vector graphics); the HTML itself is the vector form.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

from ..errors import ConfigError

WIDTH = 1440
MAX_HEIGHT = 16000
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--virtual-time-budget=8000")
_MEASURE = ("<script>window.addEventListener('load',function(){setTimeout(function(){"
            "document.body.setAttribute('data-full-height',document.documentElement.scrollHeight)},0)})</script>")


def chromium() -> str:
    """The Chromium executable: ``PARCOURS_CHROMIUM``, else the first one on the PATH."""
    env = os.environ.get("PARCOURS_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    raise ConfigError("PNG and SVG exports need headless Chromium: install it (Debian: apt-get install "
                      "chromium) or set PARCOURS_CHROMIUM; HTML, Markdown and JSON work without it")


def _run(args: list[str], profile: str) -> str:
    try:
        done = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"headless Chromium failed: {exc}") from exc
    if done.returncode != 0:
        raise ConfigError(f"headless Chromium failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return done.stdout


def html_to_image(html: str, out: str | Path, width: int = WIDTH) -> Path:
    """Render ``html`` at ``width`` pixels and write the whole page as ``out`` (.png or .svg)."""
    out = Path(out)
    fmt = out.suffix.lower()
    if fmt not in (".png", ".svg"):
        raise ConfigError(f"cannot write {out}: an image export is .png or .svg")
    with tempfile.TemporaryDirectory(prefix="parcours-shot-") as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(html.replace("</body>", _MEASURE + "</body>", 1), encoding="utf-8")
        dom = _run([f"--window-size={width},900", "--dump-dom", page.as_uri()], str(Path(tmp) / "p1"))
        m = re.search(r'data-full-height="(\d+)"', dom)
        height = min(int(m.group(1)) if m else 2400, MAX_HEIGHT)
        png = Path(tmp) / "shot.png"
        _run([f"--window-size={width},{height}", f"--screenshot={png}", page.as_uri()], str(Path(tmp) / "p2"))
        if not png.exists():
            raise ConfigError("headless Chromium did not write the screenshot")
        data = png.read_bytes()
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == ".png":
        out.write_bytes(data)
    else:
        w, h = struct.unpack(">II", data[16:24])
        b64 = base64.b64encode(data).decode("ascii")
        out.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
                       f'width="{w}" height="{h}" viewBox="0 0 {w} {h}"><image width="{w}" height="{h}" '
                       f'href="data:image/png;base64,{b64}"/></svg>\n', encoding="utf-8")
    return out
