"""Browser fixtures: the web server of `homeward serve` on a free port; Debian's Chromium via Playwright."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from bot.app import Homeward
from bot.server import web_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
INSTALLED = os.path.exists(CHROMIUM)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serving(homeward: Homeward) -> AsyncIterator[str]:
    """The console and the chat page, served over real HTTP like `homeward serve` does; their address."""
    port = _free_port()
    config = uvicorn.Config(
        web_app(homeward, webhook=False, console=True),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        proxy_headers=False,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """Debian's Chromium, headless; the test is skipped where Playwright or Chromium is missing."""
    playwright_api = pytest.importorskip(
        "playwright.async_api", reason="playwright is not installed (pip install playwright)"
    )
    if not INSTALLED:
        pytest.skip("Debian's Chromium is not installed (apt-get install -y chromium)")
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def site(homeward: Homeward) -> AsyncIterator[str]:
    async with serving(homeward) as address:
        yield address


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium() as launched:
        yield launched
