// The construct-actor dashboard: the live sessions, and a chosen session's tool calls as live
// progress bars. No framework, no build step: this file is served as is by the daemon.
//
// Credentials: the admin token is typed in once and kept in this tab's sessionStorage (never in
// a URL, never in localStorage). Every API call sends it as `Authorization: Bearer`. The events
// stream is opened with EventSource, which cannot send headers: the page first trades the admin
// token for a short-lived, single-use ticket (POST /session/{id}/ticket) and puts only that in
// the stream's URL. After a dropped connection it gets a new ticket and resumes where it left
// off, naming the last event it received in `last_event_id`.
'use strict';

(() => {
  const STORAGE_KEY = 'construct-actor.admin-token';
  const REFRESH_MS = 2000;
  const MAX_CARDS = 60;
  const MAX_NOTICES = 12;
  const RETRY_MIN_MS = 500;
  const RETRY_MAX_MS = 10000;

  const $ = (id) => document.getElementById(id);

  const app = {
    token: null,
    refreshTimer: null,
    sessions: [],
    servers: [],
    watched: null, // { id, label }
    stream: null, // the current events stream, see watch()
    cards: new Map(), // JSON of the progress token -> { el, event }
  };

  // ---- helpers -------------------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /** A duration in milliseconds, short: "4 s", "12 min", "3 h 5 min", "2 d 4 h". */
  function duration(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min`;
    const h = Math.floor(m / 60);
    if (h < 24) return `${h} h ${m % 60} min`;
    return `${Math.floor(h / 24)} d ${h % 24} h`;
  }

  function since(timestamp) {
    const at = Date.parse(timestamp);
    return Number.isNaN(at) ? '?' : duration(Date.now() - at);
  }

  function setNotice(text, kind) {
    const notice = $('notice');
    notice.textContent = text || '';
    notice.className = kind || '';
    notice.hidden = !text;
  }

  /** Calls the daemon's API with the admin token; resolves with the JSON body or throws. */
  async function api(method, path) {
    const response = await fetch(path, {
      method,
      headers: { Authorization: `Bearer ${app.token}` },
      cache: 'no-store',
      credentials: 'omit',
    });
    let body = null;
    try {
      body = await response.json();
    } catch {
      // Not JSON: the status says enough.
    }
    if (!response.ok) {
      const error = new Error((body && body.error) || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  const isAdminRefusal = (error) => error.status === 401 && /admin token/.test(error.message);

  // ---- signing in and out --------------------------------------------------------------------

  function signIn(token) {
    app.token = token;
    sessionStorage.setItem(STORAGE_KEY, token);
    $('login').hidden = true;
    $('signed-in').hidden = false;
    $('sessions-panel').hidden = false;
    setNotice('');
    refreshSessions();
  }

  function signOut(reason) {
    sessionStorage.removeItem(STORAGE_KEY);
    app.token = null;
    clearTimeout(app.refreshTimer);
    unwatch();
    $('admin-token').value = '';
    $('login').hidden = false;
    $('signed-in').hidden = true;
    $('sessions-panel').hidden = true;
    $('servers-panel').hidden = true;
    setNotice(reason || '', reason ? 'error' : '');
  }

  // ---- the sessions table --------------------------------------------------------------------

  async function refreshSessions() {
    clearTimeout(app.refreshTimer);
    if (!app.token) return;
    try {
      const [body, servers] = await Promise.all([
        api('GET', '/admin/sessions'),
        api('GET', '/admin/servers'),
      ]);
      app.sessions = body.sessions || [];
      app.servers = servers.servers || [];
      renderSessions();
      renderServers();
      $('sessions-updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
      if ($('notice').className === 'error') setNotice('');
      if (!app.watched) watchFromHash();
    } catch (error) {
      if (isAdminRefusal(error)) {
        signOut(`The daemon refused this admin token (${error.message}).`);
        return;
      }
      setNotice(`Cannot list the sessions: ${error.message}`, 'error');
    }
    app.refreshTimer = setTimeout(refreshSessions, REFRESH_MS);
  }

  function renderSessions() {
    const tbody = $('sessions').tBodies[0];
    const rows = app.sessions.map((session) => {
      const row = el('tr');
      row.dataset.sessionId = session.session_id;
      row.tabIndex = 0;
      row.setAttribute('aria-selected', String(app.watched?.id === session.session_id));
      row.title = `session ${session.session_id}`;

      const label = el('td', 'label');
      if (session.label) label.append(el('span', '', session.label));
      else label.append(el('span', 'unlabelled', 'no label'));
      if (session.owner === 'daemon') label.append(el('span', 'tag', 'daemon'));
      // What the MCP client said it is at initialize; none until a client has initialized.
      const client = el('td', 'client');
      if (session.client) {
        client.append(el('span', '', session.client.name));
        client.title = [session.client.name, session.client.version].filter(Boolean).join(' ');
      } else {
        client.append(el('span', 'unlabelled', '\u2014'));
      }
      // Right-aligned overflow keeps the end of a long path, its most telling part, in view.
      const cwd = el('td', 'cwd mono');
      cwd.append(el('span', 'path', session.cwd));
      cwd.title = session.cwd;
      const age = el('td', 'num age', since(session.created_at));
      age.title = `created ${session.created_at}, last active ${session.last_activity}`;
      const calls = el('td', 'num calls', String(session.running_calls));
      if (session.running_calls > 0) calls.classList.add('busy');
      const followers = el('td', 'num followers', String(session.subscribers));
      row.append(label, client, cwd, age, calls, followers);

      const choose = () => watch(session);
      row.addEventListener('click', choose);
      row.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          choose();
        }
      });
      return row;
    });
    tbody.replaceChildren(...rows);
    $('sessions-count').textContent = String(app.sessions.length);
    $('no-sessions').hidden = app.sessions.length > 0;
  }

  // ---- the upstream MCP servers --------------------------------------------------------------

  /** The `[servers.<name>]` the daemon runs; the panel shows only when there are some. */
  function renderServers() {
    const rows = app.servers.map((server) => {
      const row = el('tr');
      row.dataset.server = server.name;
      const state = el('td', 'state');
      state.append(el('span', `state-badge state-${server.state}`, server.state));
      const tools = el('td', 'num tools', String((server.tools || []).length));
      tools.title = (server.tools || []).join(', ');
      const error = el('td', 'last-error', server.last_error || '');
      error.title = server.last_error || '';
      row.append(
        el('td', 'label mono', server.name),
        state,
        tools,
        el('td', 'num calls', String(server.calls ?? 0)),
        el('td', 'num restarts', String(server.restarts ?? 0)),
        error,
      );
      return row;
    });
    $('servers').tBodies[0].replaceChildren(...rows);
    $('servers-count').textContent = String(app.servers.length);
    $('servers-panel').hidden = app.servers.length === 0;
  }

  // ---- following one session -----------------------------------------------------------------

  function watchFromHash() {
    const id = new URLSearchParams(location.hash.slice(1)).get('session');
    const session = id && app.sessions.find((s) => s.session_id === id);
    if (session) watch(session);
  }

  function unwatch() {
    const stream = app.stream;
    app.stream = null;
    app.watched = null;
    if (stream) {
      stream.closed = true;
      clearTimeout(stream.retryTimer);
      if (stream.source) stream.source.close();
    }
    $('calls-panel').hidden = true;
  }

  function watch(session) {
    if (app.watched?.id === session.session_id && app.stream && !app.stream.closed) return;
    unwatch();
    app.watched = { id: session.session_id, label: session.label };
    history.replaceState(null, '', `#session=${encodeURIComponent(session.session_id)}`);
    for (const row of $('sessions').tBodies[0].rows) {
      row.setAttribute('aria-selected', String(row.dataset.sessionId === session.session_id));
    }
    $('watched-label').textContent = session.label || 'an unlabelled session';
    $('watched-id').textContent = `${session.session_id} \u2014 ${session.cwd}`;
    $('calls-panel').hidden = false;
    $('stream-notices').replaceChildren();
    $('cards').replaceChildren();
    $('no-calls').hidden = false;
    app.cards.clear();
    app.stream = {
      id: session.session_id,
      source: null,
      lastId: null, // the id of the last event received, for resuming
      closed: false, // ended for good: the session ended, or another one is watched
      attempts: 0, // failed attempts in a row, for the back-off
      reconnects: 0,
      retryTimer: null,
    };
    openStream(app.stream);
  }

  function setStreamStatus(stream, state, text) {
    if (stream !== app.stream) return;
    const status = $('stream-status');
    status.dataset.state = state;
    status.dataset.reconnects = String(stream.reconnects);
    status.textContent = text;
  }

  function addStreamNotice(text, className) {
    const list = $('stream-notices');
    const item = el('li', className || '', text);
    item.title = new Date().toLocaleTimeString();
    list.append(item);
    while (list.children.length > MAX_NOTICES) list.firstElementChild.remove();
  }

  async function openStream(stream) {
    if (stream.closed) return;
    setStreamStatus(stream, stream.reconnects ? 'reconnecting' : 'connecting',
      stream.reconnects ? 'reconnecting\u2026' : 'connecting\u2026');
    let ticket;
    try {
      ticket = (await api('POST', `/session/${encodeURIComponent(stream.id)}/ticket`)).ticket;
    } catch (error) {
      if (stream.closed) return;
      if (isAdminRefusal(error)) {
        signOut(`The daemon refused this admin token (${error.message}).`);
      } else if (error.status === 401) {
        endStream(stream, 'gone', 'session gone', 'This session no longer exists.');
      } else {
        retry(stream, error.message);
      }
      return;
    }
    if (stream.closed) return;
    const query = new URLSearchParams({ ticket });
    if (stream.lastId !== null) query.set('last_event_id', stream.lastId);
    const source = new EventSource(`/session/${encodeURIComponent(stream.id)}/events?${query}`);
    stream.source = source;

    source.onopen = () => {
      stream.attempts = 0;
      setStreamStatus(stream, 'live', stream.reconnects ? `live (resumed ${stream.reconnects}\u00d7)` : 'live');
    };
    source.onmessage = (message) => {
      if (message.lastEventId) stream.lastId = message.lastEventId;
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      showProgress(event);
    };
    source.addEventListener('lagged', (message) => {
      const missed = JSON.parse(message.data).missed;
      addStreamNotice(`Missed ${missed} event${missed === 1 ? '' : 's'}: this page fell behind or ` +
        'came back too late for the session\u2019s history. Bars may have skipped steps.', 'lagged');
    });
    source.addEventListener('session-ended', (message) => {
      const reason = JSON.parse(message.data).reason;
      const why = reason === 'expired' ? 'it was idle for too long' : 'it was closed';
      endStream(stream, 'ended', `session ${reason}`, `The session ended: ${why} (${reason}).`);
    });
    source.onerror = () => {
      if (stream.closed || stream.source !== source) return;
      // The ticket is spent: EventSource's own reconnection would be refused. Start over with a
      // new ticket, resuming after the last event received.
      source.close();
      stream.source = null;
      retry(stream, 'connection lost');
    };
  }

  function retry(stream, why) {
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** stream.attempts);
    stream.attempts += 1;
    stream.reconnects += 1;
    setStreamStatus(stream, 'reconnecting', `${why}; retrying in ${Math.ceil(delay / 1000)} s`);
    stream.retryTimer = setTimeout(() => openStream(stream), delay);
  }

  function endStream(stream, state, status, notice) {
    stream.closed = true;
    clearTimeout(stream.retryTimer);
    if (stream.source) stream.source.close();
    setStreamStatus(stream, state, status);
    if (stream === app.stream) addStreamNotice(notice, 'ended');
    refreshSessions();
  }

  // ---- progress cards ------------------------------------------------------------------------

  function showProgress(event) {
    const key = JSON.stringify(event.token);
    let card = app.cards.get(key);
    if (!card) {
      card = makeCard(event.token);
      app.cards.set(key, card);
      $('cards').prepend(card.el);
      $('no-calls').hidden = true;
      while (app.cards.size > MAX_CARDS) {
        const [oldest] = app.cards.keys();
        app.cards.get(oldest).el.remove();
        app.cards.delete(oldest);
      }
    }
    card.event = event;
    card.updates += 1;
    card.el.dataset.updates = String(card.updates);
    renderCard(card);
  }

  function makeCard(token) {
    const root = el('article', 'card');
    root.dataset.token = typeof token === 'string' ? token : JSON.stringify(token);
    const head = el('header');
    const title = el('h3', 'title');
    const count = el('span', 'count');
    head.append(title, count);
    const bar = el('div', 'bar');
    bar.setAttribute('role', 'progressbar');
    const fill = el('div', 'fill');
    bar.append(fill);
    const message = el('p', 'message');
    const age = el('p', 'age');
    root.append(head, bar, message, age);
    return { el: root, title, count, bar, fill, message, age, event: null, updates: 0 };
  }

  function renderCard(card) {
    const { event } = card;
    const known = typeof event.total === 'number';
    card.title.textContent = event.tool || `tool #${typeof event.token === 'string' ? event.token : JSON.stringify(event.token)}`;
    card.count.textContent = known ? `${event.progress} / ${event.total}` : String(event.progress);
    card.el.dataset.progress = String(event.progress);
    card.el.dataset.total = known ? String(event.total) : '';
    card.bar.hidden = !known;
    if (known) {
      const ratio = event.total > 0 ? Math.min(1, event.progress / event.total) : 1;
      // CSSOM, not a style attribute: the page's Content-Security-Policy allows no inline style.
      card.fill.style.width = `${(ratio * 100).toFixed(1)}%`;
      card.bar.setAttribute('aria-valuemin', '0');
      card.bar.setAttribute('aria-valuemax', String(event.total));
      card.bar.setAttribute('aria-valuenow', String(event.progress));
    }
    const done = known && event.progress >= event.total;
    card.el.classList.toggle('done', done);
    card.el.dataset.done = String(done);
    card.message.textContent = event.message || '';
    renderAge(card);
  }

  function renderAge(card) {
    card.age.textContent = `updated ${since(card.event.timestamp)} ago`;
    card.age.title = card.event.timestamp;
  }

  // Ages move on even when no event arrives.
  setInterval(() => {
    for (const card of app.cards.values()) renderAge(card);
    for (const row of $('sessions').tBodies[0].rows) {
      const session = app.sessions.find((s) => s.session_id === row.dataset.sessionId);
      if (session) row.querySelector('.age').textContent = since(session.created_at);
    }
  }, 1000);

  // ---- start ---------------------------------------------------------------------------------

  $('login').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = $('admin-token').value.trim();
    if (token) signIn(token);
  });
  $('logout').addEventListener('click', () => signOut());

  const saved = sessionStorage.getItem(STORAGE_KEY);
  if (saved) signIn(saved);
  else $('admin-token').focus();
})();
