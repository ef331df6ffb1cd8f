"""Screenshot the top of a report in headless Chromium, for the README.

python docs/screenshot.py runs/demo/report.html docs/report.png
"""

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main(report: str, output: str, height: int = 1250) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": height})
        page.goto(Path(report).resolve().as_uri())
        page.screenshot(path=output)
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:3])
