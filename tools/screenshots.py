#!/usr/bin/env python3
"""Take the README's screenshots of the web app in Chromium (Playwright), into docs/.

    python tools/screenshots.py [--index index/] [--out docs/] [--chromium /usr/bin/chromium]

Serves the index with `searchapp serve` on a free loopback port, then shoots, at 1280x900
unless said otherwise:

- screenshot.png          the landing page (the archive, newest first)
- screenshot-range.png    a search for "oil prices" over March-April 1987 (a dragged span)
- screenshot-article.png  the second result of that search, opened (words marked, back/next)
- screenshot-phone.png    390x844: the filter panel opened and two sections ticked

Index the shipped corpus first (`searchapp index`). Exits 1 with a sentence if the server or
the browser cannot start.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(base + "/api/openapi.json", timeout=1):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"error: searchapp serve did not start ({exc})") from exc
            time.sleep(0.2)


def shoot(browser: Any, base: str, out: Path) -> list[Path]:
    """Take the four screenshots; return their paths."""
    taken = []

    def page_at(size: dict[str, int]) -> Any:
        context = browser.new_context(viewport=size)
        context.set_default_timeout(15_000)
        return context.new_page()

    page = page_at(DESKTOP)
    page.goto(base + "/")
    page.locator("#q").blur()
    taken.append(out / "screenshot.png")
    page.screenshot(path=str(taken[-1]))

    page.goto(base + "/?q=oil+prices&from=1987-03-01&to=1987-04-30")
    page.locator("#q").blur()
    taken.append(out / "screenshot-range.png")
    page.screenshot(path=str(taken[-1]))

    with page.expect_navigation():
        page.locator(".hit-title a").nth(1).click()
    taken.append(out / "screenshot-article.png")
    page.screenshot(path=str(taken[-1]))
    page.context.close()

    phone = page_at(PHONE)
    phone.goto(base + "/?q=oil")
    phone.locator("#filters > summary").click()
    for value in ("Energy", "Transport"):
        phone.locator(f'input[name="section"][value="{value}"]').check()
    phone.wait_for_function(
        "document.querySelector('[data-show-results]').textContent.startsWith('Show ')"
    )
    phone.locator('input[name="section"][value="Transport"]').scroll_into_view_if_needed()
    taken.append(out / "screenshot-phone.png")
    phone.screenshot(path=str(taken[-1]))
    phone.context.close()
    return taken


def main(argv: list[str] | None = None) -> int:
    """Serve the index, shoot, stop the server."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, default=Path("index"))
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args(argv)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("error: playwright is not installed: pip install -e '.[dev]'", file=sys.stderr)
        return 1
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "searchapp.cli", "serve", "--quiet"]
    proc = subprocess.Popen([*cmd, "--index", str(args.index), "--port", str(port)])
    try:
        _wait(base, proc)
        args.out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"]
            )
            for path in shoot(browser, base, args.out):
                print(path)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
