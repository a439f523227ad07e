"""A minimal stdio MCP server that breaks on purpose, for tests/upstream.rs.

It answers the handshake (initialize; anything else it does not know is -32601) and lists one
tool, "work". Calling it does what the mode (the first argument) says:
  ok       answers "done"
  garbage  prints a line that is not JSON
  long     answers with a line of 2 MB
  endless  lists its tools in pages of 100 that never end (each page names a next cursor)
"""
import json
import sys

mode = sys.argv[1]


def send(message):
    print(json.dumps(message), flush=True)


for line in sys.stdin:
    message = json.loads(line)
    if "id" not in message:
        continue
    method, reply = message.get("method"), {"jsonrpc": "2.0", "id": message["id"]}
    if method == "initialize":
        reply["result"] = {
            "protocolVersion": message["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "broken", "version": "0"},
        }
    elif method == "tools/list" and mode == "endless":
        page = int((message.get("params") or {}).get("cursor") or 0)
        tools = [{"name": f"tool-{page}-{n}", "inputSchema": {"type": "object"}} for n in range(100)]
        reply["result"] = {"tools": tools, "nextCursor": str(page + 1)}
    elif method == "tools/list":
        reply["result"] = {"tools": [{"name": "work", "inputSchema": {"type": "object"}}]}
    elif method == "tools/call" and mode == "garbage":
        print("this is not JSON", flush=True)
        continue
    elif method == "tools/call":
        text = "x" * 2_000_000 if mode == "long" else "done"
        reply["result"] = {"content": [{"type": "text", "text": text}]}
    else:
        reply["error"] = {"code": -32601, "message": "Method not found"}
    send(reply)
