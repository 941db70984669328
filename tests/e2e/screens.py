"""The pages a browser test visits, at the widths people use: nothing may stick out
sideways at either, and with ``SCREENSHOT_DIR`` set each is kept as a PNG for people to
look at (screenshots are never asserted on)."""

import os
from pathlib import Path
from typing import Any

WIDTHS = (1366, 390)
HEIGHT = 900


def _folder() -> Path | None:
    folder = os.environ.get("SCREENSHOT_DIR")
    if not folder:
        return None
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


def shot(page: Any, name: str) -> None:
    """The whole page at its current width, as ``name.png``, when ``SCREENSHOT_DIR`` is set."""
    folder = _folder()
    if folder is not None:
        page.screenshot(path=folder / f"{name}.png", full_page=True)


def at_both_widths(page: Any, name: str, *, first_screen: bool = False) -> None:
    """The page at 1366 and 390 px: no horizontal overflow at either (asserted), kept as
    ``name-1366.png`` and ``name-390.png`` (``first_screen``: also what a screen shows
    first, at its real size) when ``SCREENSHOT_DIR`` is set; then the width it had."""
    folder = _folder()
    size = page.viewport_size
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{name} at {width}px is {overflow}px too wide"
        if folder is not None:
            page.screenshot(path=folder / f"{name}-{width}.png", full_page=True)
            if first_screen:
                page.screenshot(path=folder / f"{name}-{width}-first-screen.png")
    page.set_viewport_size(size)
