"""An official Python MCP SDK client (`mcp` 2.x) against the daemon, over Streamable HTTP.

Usage: python_client.py URL   (URL: the daemon's /mcp endpoint)

`mcp.Client(URL)` in its default `mode="auto"` probes `server/discover` at 2026-07-28 and falls
back to `initialize` only when the probe is refused. The script lists the tools, calls `sleep`
with a progress callback, calls `echo`, closes the client, and prints one JSON line:
{"era", "tools", "progress", "echo", "sleep"}. Any failure exits non-zero with a message on
standard error.
"""

import asyncio
import json
import os
import sys

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

ECHO_TEXT = "hello from the python sdk"


def text_of(result) -> str:
    if result.is_error:
        raise RuntimeError(f"the tool reported an error: {result.content!r}")
    return "".join(getattr(block, "text", "") for block in result.content)


async def run(url: str) -> dict:
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    # Every HTTP exchange the SDK makes ("POST server/discover 200", ...), for the report and for
    # diagnosing a failure. The HTTP client is the SDK's own default one, plus a response hook.
    exchanges: list[str] = []

    async def record(response) -> None:
        request = response.request
        method = request.headers.get("mcp-method", "")
        exchanges.append(f"{request.method} {method} {response.status_code}".replace("  ", " "))

    # The daemon is owner-only: its key goes in a header, as a configured client's would.
    key = os.environ["CONSTRUCT_ACTOR_API_KEY"]
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    http.event_hooks["response"] = [record]
    transport = streamable_http_client(url, http_client=http)
    async with http, Client(transport, read_timeout_seconds=30) as client:
        era = client.protocol_version
        handshake = "discover" if client.session.discover_result is not None else "initialize"
        listed = await client.list_tools()
        tools = [tool.name for tool in listed.tools]
        for wanted in ("echo", "sleep"):
            if wanted not in tools:
                raise RuntimeError(f"tools/list lacks {wanted!r}: {tools}")
        slept = await client.call_tool(
            "sleep", {"duration_ms": 300, "steps": 3}, progress_callback=on_progress
        )
        echoed = await client.call_tool("echo", {"text": ECHO_TEXT})
        report = {
            "era": era,
            "handshake": handshake,
            "tools": tools,
            "progress": [int(p) if float(p).is_integer() else p for p in progress],
            "echo": text_of(echoed),
            "sleep": text_of(slept),
        }
    report["http"] = exchanges
    return report


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python_client.py URL", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(run(sys.argv[1]))
    except BaseException as err:  # noqa: BLE001 - report anything, including exception groups
        print(f"python sdk client failed: {type(err).__name__}: {err!r}", file=sys.stderr)
        return 1
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
