"""Real parallel requests against the in-process app."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.world import World


async def parallel(world: World, requests: list[tuple[str, str, Any, dict[str, str]]]) -> list[httpx.Response]:
    """Send requests at the same time. The test client runs the app on its own event loop in another
    thread; each request here comes from a thread of its own, so the app serves them concurrently, each
    on its own database connection."""
    sync_client = httpx.Client(transport=world.client._transport, base_url=world.client.base_url)  # same app
    return list(await asyncio.gather(*(
        asyncio.to_thread(sync_client.request, method, path, json=body, headers=headers)
        for method, path, body, headers in requests)))
