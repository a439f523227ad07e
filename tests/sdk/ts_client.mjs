// An official TypeScript MCP SDK client (@modelcontextprotocol/sdk 1.x) against the daemon, over
// Streamable HTTP, legacy era (initialize, 2025-11-25, Mcp-Session-Id).
//
// Usage: node ts_client.mjs URL   (URL: the daemon's /mcp endpoint)
//
// Connects, lists the tools, calls `sleep` with an onprogress callback, calls `echo`, ends the
// session with transport.terminateSession() (DELETE /mcp), closes the client, and prints one JSON
// line: {"era", "tools", "progress", "echo", "sleep", "terminated", ...}. Any failure exits
// non-zero with a message on standard error.
//
// The SDK is resolved from target/sdk/node/node_modules (installed by tests/sdk/setup.sh).
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const sdkRoot = path.resolve(here, "../../target/sdk/node/node_modules/@modelcontextprotocol/sdk");
const load = (sub) => import(pathToFileURL(path.join(sdkRoot, "dist/esm", sub)).href);

const ECHO_TEXT = "hello from the typescript sdk";

function textOf(result) {
  if (result.isError) {
    throw new Error(`the tool reported an error: ${JSON.stringify(result.content)}`);
  }
  return result.content.map((block) => block.text ?? "").join("");
}

async function run(url) {
  const { Client } = await load("client/index.js");
  const { StreamableHTTPClientTransport } = await load("client/streamableHttp.js");

  const client = new Client({ name: "construct-actor-ts-sdk-test", version: "1.0.0" });
  // Every HTTP exchange the SDK makes, for the report and for diagnosing a failure.
  const exchanges = [];
  const recordingFetch = async (input, init) => {
    const response = await fetch(input, init);
    const method = init?.method ?? "GET";
    exchanges.push(`${method} ${response.status}`);
    return response;
  };
  // The daemon is owner-only: its key goes in a header, as a configured client's would.
  const requestInit = {
    headers: { Authorization: `Bearer ${process.env.CONSTRUCT_ACTOR_API_KEY}` },
  };
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: recordingFetch,
    requestInit,
  });
  client.onerror = (err) => process.stderr.write(`client error: ${err?.stack ?? err}\n`);
  await client.connect(transport);
  const session = transport.sessionId;
  if (!session) throw new Error("initialize returned no Mcp-Session-Id");
  const era = transport.protocolVersion;

  const listed = await client.listTools();
  const tools = listed.tools.map((tool) => tool.name);
  for (const wanted of ["echo", "sleep"]) {
    if (!tools.includes(wanted)) throw new Error(`tools/list lacks ${wanted}: ${tools}`);
  }

  const progress = [];
  const slept = await client.callTool(
    { name: "sleep", arguments: { duration_ms: 300, steps: 3 } },
    undefined,
    { onprogress: (p) => progress.push(p.progress), timeout: 30000 },
  );
  const echoed = await client.callTool({ name: "echo", arguments: { text: ECHO_TEXT } });

  // DELETE /mcp. The SDK resolves on a 2xx and also on 405 (a server without explicit
  // termination); "terminated" is true only for a 2xx. Then a request still naming the ended
  // session must be refused as unknown (404), the Streamable HTTP rule for ended sessions.
  await transport.terminateSession();
  const deleted = exchanges.at(-1);
  const terminated = transport.sessionId === undefined && /^DELETE 2\d\d$/.test(deleted);
  const after = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-session-id": session,
      "mcp-protocol-version": era,
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 99, method: "tools/list" }),
  });
  await after.body?.cancel();
  await client.close();

  return {
    era,
    tools,
    progress,
    echo: textOf(echoed),
    sleep: textOf(slept),
    terminated,
    delete: deleted,
    after_delete: after.status,
    http: exchanges,
  };
}

const url = process.argv[2];
if (!url) {
  process.stderr.write("usage: node ts_client.mjs URL\n");
  process.exit(2);
}
try {
  const report = await run(url);
  process.stdout.write(JSON.stringify(report) + "\n");
  process.exit(0);
} catch (err) {
  process.stderr.write(`typescript sdk client failed: ${err?.stack ?? err}\n`);
  process.exit(1);
}
