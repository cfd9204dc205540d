"""Screenshots of the research pages for docs/: trends, compare and a person page.

    python tools/research_screenshots.py --index INDEX [--out docs]

Serves INDEX with `searchapp serve` on a free loopback port, drives Debian's chromium through
Playwright, and stops the server it started. The shipped shots use the whole Reuters-21578
collection (21,578 stories).
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

ROOT = Path(__file__).resolve().parent.parent
SHOTS = (
    ("trends", "/trends?q=oil&by=persons&interval=week&top=5"),
    ("compare", "/compare?q=oil&q=coffee&q=gold&interval=week"),
    ("person", "/person/James%20Baker"),
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    """Serve the index, take the screenshots, stop the server."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "searchapp.cli", "serve", "--index", str(args.index),
         "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(base + "/api/openapi.json", timeout=1):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1360, "height": 1080})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            for name, path in SHOTS:
                page.goto(base + path)
                page.screenshot(path=str(args.out / f"{name}.png"))
                print(f"{args.out / f'{name}.png'}  <- {path}")
            browser.close()
        if errors:
            raise SystemExit(f"console errors: {errors}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
