// End-to-end test of the dashboard in real headless Chromium, driven by playwright-core over the
// DevTools protocol. Run by tests/dashboard.rs, which starts the daemon and a session, with:
//   DASHBOARD_URL   the daemon's base URL, e.g. http://127.0.0.1:40755
//   ADMIN_TOKEN     its admin token
//   SESSION_ID, SESSION_TOKEN, SESSION_LABEL   the session to watch
//   PROXY_PORT      a free port the daemon accepts as Host/Origin 127.0.0.1:PROXY_PORT
//   SCREENSHOT      optional: write a PNG of the page there, mid-run
//   CHROMIUM        optional: the browser (default /usr/bin/chromium)
//
// Two tabs watch the same session. Tab A opens the dashboard from the daemon itself; tab B opens
// it through a TCP proxy in this script, which cuts every connection mid-call. Both sign in with
// the admin token and pick the session; the script starts `sleep` calls through the API
// (POST /mcp with the Construct headers) and checks that both pages' progress bars advance to
// 10 / 10, that tab B came back by itself (a new ticket, resumed after the last event it had:
// every event exactly once), and that both show the session's end. Prints one JSON line with
// what it saw; exits non-zero on failure.
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(root, 'target/e2e/package.json'));
const { chromium } = require('playwright-core');

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env('DASHBOARD_URL');
const adminToken = env('ADMIN_TOKEN');
const session = { id: env('SESSION_ID'), token: env('SESSION_TOKEN'), label: env('SESSION_LABEL') };
const proxyPort = Number(env('PROXY_PORT'));
const screenshot = process.env.SCREENSHOT || null;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns a truthy value, at most `ms`; fails naming `what`. */
async function until(what, probe, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(40);
  }
}

/** A TCP proxy from 127.0.0.1:`port` to the daemon, whose connections `cut()` drops at once. */
async function startProxy(port, target) {
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      socket.on('error', drop);
      socket.on('close', drop);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    cut() {
      const count = sockets.size;
      for (const socket of sockets) socket.destroy();
      return count;
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** Starts a tools/call of `sleep` in the session through the API; resolves with its final text. */
async function callSleep(progressToken, durationMs, steps) {
  const response = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${session.token}`,
      'X-Construct-Session': session.id,
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: progressToken,
      method: 'tools/call',
      params: { name: 'sleep', arguments: { duration_ms: durationMs, steps }, _meta: { progressToken } },
    }),
  });
  if (response.status !== 200) throw new Error(`tools/call answered ${response.status}`);
  return response.text();
}

/** What `page` shows of the card of progress token `token`. */
const card = (page, token) =>
  page.evaluate((token) => {
    const el = document.querySelector(`.card[data-token="${token}"]`);
    if (!el) return null;
    return {
      title: el.querySelector('.title').textContent,
      count: el.querySelector('.count').textContent,
      message: el.querySelector('.message').textContent,
      age: el.querySelector('.age').textContent,
      fill: el.querySelector('.fill').style.width,
      progress: Number(el.dataset.progress),
      total: Number(el.dataset.total),
      done: el.dataset.done === 'true',
      updates: Number(el.dataset.updates),
    };
  }, String(token));

const streamState = (page) =>
  page.evaluate(() => {
    const status = document.getElementById('stream-status');
    return { state: status.dataset.state, reconnects: Number(status.dataset.reconnects), text: status.textContent };
  });

const row = `tr[data-session-id="${session.id}"]`;

/** Opens the dashboard at `origin` in a new tab, signs in, and starts watching the session. */
async function openDashboard(context, origin, name, problems) {
  const page = await context.newPage();
  page.on('pageerror', (error) => problems.push(`${name}: page error: ${error.message}`));
  page.on('console', (message) => {
    // Network errors are expected in tab B, whose connections are cut; nothing else is.
    if (message.type() === 'error' && !(name === 'B' && /net::ERR_|Failed to load resource/.test(message.text()))) {
      problems.push(`${name}: console: ${message.text()}`);
    }
  });
  const opened = await page.goto(`${origin}/`);
  if (opened.status() !== 200) throw new Error(`${name}: GET / answered ${opened.status()}`);
  await page.fill('#admin-token', adminToken);
  await page.click('#login button[type=submit]');
  const stored = await page.evaluate(() => sessionStorage.getItem('construct-actor.admin-token'));
  if (stored !== adminToken) throw new Error(`${name}: the admin token is not kept in sessionStorage`);
  await page.waitForSelector(row, { timeout: 15000 });
  const label = await page.textContent(`${row} td.label`);
  if (!label.includes(session.label)) throw new Error(`${name}: the row shows label ${JSON.stringify(label)}`);
  await page.click(row);
  await until(`${name}: the events stream to be live`, async () => (await streamState(page)).state === 'live');
  if (page.url().includes(adminToken)) throw new Error(`${name}: the admin token is in the URL`);
  return page;
}

const problems = [];
const profile = mkdtempSync(path.join(tmpdir(), 'construct-e2e-'));
const proxy = await startProxy(proxyPort, new URL(base));
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1280, height: 420 },
    deviceScaleFactor: 1,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  for (const blank of context.pages()) await blank.close();

  // 1. Both tabs open the dashboard, sign in with the admin token and choose the session.
  const a = await openDashboard(context, base, 'A', problems);
  const b = await openDashboard(context, proxy.url, 'B', problems);

  // 1b. The MCP servers behind the daemon, with their state; the one that cannot start says why.
  const servers = await until('both MCP servers in the servers panel', async () => {
    const shown = await a.$$eval('#servers tbody tr', (rows) => rows.map((r) => ({
      name: r.dataset.server,
      state: r.querySelector('td.state').textContent,
      tools: r.querySelector('td.tools').textContent,
      error: r.querySelector('td.last-error').textContent,
    })));
    const ready = shown.find((s) => s.name === 'tools' && s.state === 'ready');
    const failed = shown.find((s) => s.name === 'missing' && s.state === 'failed');
    return ready && failed ? { ready, failed } : null;
  });
  if (servers.ready.tools !== '1') throw new Error(`the ready server shows ${servers.ready.tools} tools`);
  if (!servers.failed.error.includes('cannot start')) {
    throw new Error(`the failed server's error reads ${JSON.stringify(servers.failed.error)}`);
  }

  // 2. A call through the API, and a longer one beside it.
  const first = callSleep(1, 3000, 10);
  const second = callSleep(2, 7000, 12).catch((error) => `cancelled: ${error.message}`);

  // 3. Watch the bars advance; once tab B shows step 3, cut its connections.
  const seen = { A: [], B: [] };
  let cut = 0;
  const finals = await until(
    'both tabs to show the first call at 10 / 10',
    async () => {
      const now = { A: await card(a, 1), B: await card(b, 1) };
      for (const tab of ['A', 'B']) {
        const shown = now[tab];
        if (shown && seen[tab][seen[tab].length - 1] !== shown.progress) seen[tab].push(shown.progress);
      }
      if (!cut && now.B && now.B.progress >= 3) cut = proxy.cut();
      const complete = (c) => c && c.done && c.count === '10 / 10' && c.fill === '100%';
      return complete(now.A) && complete(now.B) ? now : null;
    },
    30000,
  );
  const result = await first;
  if (!result.includes('slept 3000 ms')) throw new Error(`unexpected final response: ${result}`);
  if (!cut) throw new Error('tab B never showed step 3, so its connection was never cut');

  for (const tab of ['A', 'B']) {
    const steps = seen[tab];
    for (let i = 1; i < steps.length; i++) {
      if (steps[i] <= steps[i - 1]) throw new Error(`${tab}: the bar went backwards: ${steps}`);
    }
    if (steps.filter((p) => p < 10).length < 2) throw new Error(`${tab}: the bar did not advance: ${steps}`);
    const final = finals[tab];
    if (final.title !== 'sleep') throw new Error(`${tab}: the card is titled ${final.title}`);
    if (final.message !== 'step 10 of 10') throw new Error(`${tab}: the card says ${final.message}`);
    if (!/^updated \d+ s ago$/.test(final.age)) throw new Error(`${tab}: the card's age reads ${final.age}`);
    // Every event exactly once, the cut notwithstanding.
    if (final.updates !== 10) throw new Error(`${tab}: the card got ${final.updates} events, not 10`);
  }
  const streams = { A: await streamState(a), B: await streamState(b) };
  if (streams.A.reconnects !== 0) throw new Error(`tab A reconnected: ${streams.A.text}`);
  if (streams.B.reconnects < 1 || streams.B.state !== 'live') {
    throw new Error(`tab B did not come back after the cut: ${JSON.stringify(streams.B)}`);
  }

  // 4. The second call is under way, and the table shows the running call.
  await until('the second call on the page', () => card(a, 2));
  await until('the running call in the sessions table', async () =>
    (await a.textContent(`${row} td.calls`)).trim() !== '0');
  if (screenshot) {
    await until('the second bar to move', async () => ((await card(a, 2)) || {}).progress >= 4);
    await a.bringToFront();
    await sleep(600); // a background tab's bar transitions only resume once it is in front
    await a.screenshot({ path: screenshot, fullPage: true });
  }

  // 5. End the session: both pages say so.
  const deleted = await fetch(`${base}/session/${session.id}`, {
    method: 'DELETE',
    headers: { Authorization: `Bearer ${session.token}` },
  });
  if (deleted.status !== 204) throw new Error(`DELETE answered ${deleted.status}`);
  const notices = {};
  for (const [tab, page] of [['A', a], ['B', b]]) {
    await until(`${tab}: the end of the session`, async () => (await streamState(page)).state === 'ended');
    notices[tab] = await page.$$eval('#stream-notices li', (items) => items.map((i) => i.textContent));
    if (!notices[tab].some((n) => n.includes('(closed)'))) throw new Error(`${tab}: no end notice: ${notices[tab]}`);
  }
  await second;

  if (problems.length) throw new Error(problems.join('\n'));
  console.log(JSON.stringify({
    ok: true,
    progress_seen: seen,
    final: finals.A,
    connections_cut: cut,
    servers,
    reconnects: { A: streams.A.reconnects, B: streams.B.reconnects },
    stream_status: { A: streams.A.text, B: streams.B.text },
    notices,
    screenshot,
  }));
} catch (error) {
  console.error(error.stack || String(error));
  if (problems.length) console.error(problems.join('\n'));
  process.exitCode = 1;
} finally {
  if (context) await context.close().catch(() => {});
  proxy.cut();
  await proxy.close();
  rmSync(profile, { recursive: true, force: true });
}
