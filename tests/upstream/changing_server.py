"""The smallest MCP server whose tools and resources change, on the official Python SDK (`mcp`,
installed with mcp-server-time in target/upstream/venv), for tests/gateway_listen.rs.

No server on PyPI or npm speaking 2026-07-28 changes its lists or resources (mcp-server-time's
tools are fixed, and it serves no `subscriptions/listen`), so this one does, as the SDK makes
any server do it: its tools publish the SDK's own events, which reach a 2026-07-28 client on its
`subscriptions/listen` streams alone. Over stdio, in whichever era the client's first request
picks; with the arguments `http PORT`, over Streamable HTTP on 127.0.0.1:PORT/mcp. With the
argument `refuse-listens` it refuses every `subscriptions/listen` (as the SDK does past its
bound of open streams), still declaring what it would tell.
  add_tool(name)  adds a tool `name` (which answers "added") and announces the changed list
  bump()          counts on the resource counter://bumps and announces its update
  end_listens()   ends every open listen stream gracefully, as a server shutting down would
"""

import sys

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler
from mcp_types import SubscriptionsListenRequestParams

server = MCPServer("changing", version="1")
bumps = 0


def added() -> str:
    return "added"


@server.tool()
async def add_tool(name: str, ctx: Context) -> str:
    """Adds a tool of that name, and says the tool list changed."""
    server.add_tool(added, name=name, description="A tool added while the server ran")
    await ctx.notify_tools_changed()
    return f"added {name}"


@server.resource("counter://bumps")
def counter() -> str:
    """How many times bump was called."""
    return str(bumps)


@server.tool()
async def bump(ctx: Context) -> str:
    """Counts one more on counter://bumps, and says it was updated."""
    global bumps
    bumps += 1
    await ctx.notify_resource_updated("counter://bumps")
    return str(bumps)


@server.tool()
def end_listens() -> str:
    """Ends every open subscriptions/listen stream, as a server shutting down does."""
    listen = server._lowlevel_server.get_request_handler("subscriptions/listen")
    listen.handler.close()
    return "ended"


if __name__ == "__main__":
    if "refuse-listens" in sys.argv:
        full = ListenHandler(InMemorySubscriptionBus(), max_subscriptions=0)
        server._lowlevel_server.add_request_handler(
            "subscriptions/listen", SubscriptionsListenRequestParams, full
        )
    if sys.argv[1:2] == ["http"]:
        server.run("streamable-http", port=int(sys.argv[2]))
    else:
        server.run()
