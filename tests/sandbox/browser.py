"""Headless Chromium for the sandbox's browser tests.

Debian's ``chromium`` package is the browser (installed with apt-get when it is
missing and we are root), driven by Playwright for Python (pip-installed when
missing).  Playwright's own browser downloads are never used: they cannot be
fetched here, and the distribution's browser is what an office would run.
The tests skip, saying why, only when no browser can be installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "sandbox"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs the tests as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
]
PLAYWRIGHT_REQUIREMENT = "playwright>=1.44,<2"
LOCAL_HOSTS = {"127.0.0.1"}


def find_chromium() -> str | None:
    for path in CHROMIUM_CANDIDATES:
        if Path(path).exists():
            return path
    return None


def _apt_install(*packages: str) -> str | None:
    """``apt-get install -y``; returns why it failed, or None."""
    if shutil.which("apt-get") is None:
        return "apt-get not found (not a Debian-like system)"
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return "not running as root, so apt-get cannot install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if result.returncode != 0:  # perhaps the package lists were never fetched
        subprocess.run(["apt-get", "update"], capture_output=True, text=True, env=env, timeout=600)
        result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["?"]
        return f"apt-get install {' '.join(packages)} failed: {tail[0]}"
    return None


def ensure_chromium() -> tuple[str | None, str]:
    """The browser's path, or None and the reason it could not be installed."""
    found = find_chromium()
    if found:
        return found, ""
    problem = _apt_install("chromium")
    found = find_chromium()
    if found:
        return found, ""
    return None, f"Debian's chromium is not installed and could not be installed: {problem}"


def ensure_fonts() -> None:
    """Best effort: a CJK font (and emoji) so screenshots are readable, not boxes."""
    if shutil.which("fc-list") is None:
        return
    listed = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout.strip()
    if not listed:
        _apt_install("fonts-wqy-microhei", "fonts-noto-color-emoji")


def ensure_playwright() -> str | None:
    """Import Playwright for Python, pip-installing it if needed; the reason if impossible."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", PLAYWRIGHT_REQUIREMENT],
            capture_output=True, text=True, timeout=600,
            env={**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"},
        )
        if result.returncode != 0:
            return f"Playwright for Python could not be installed: {result.stderr.strip()[-200:]}"
        try:
            import playwright.async_api  # noqa: F401
        except ImportError as exc:
            return f"Playwright for Python unusable: {exc}"
    return None


def is_local(url: str) -> bool:
    """A request the page may make: this machine's 127.0.0.1, or data:/blob: (no network)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.scheme in ("http", "ws") and parts.hostname in LOCAL_HOSTS
