// The tab's one WebSocket to /ws. Topics (`inventory`, `jobs`, `jobs:<id>`,
// `notifications`) are subscribed through `topic(name, handlers)`; each keeps the
// cursor of the last event it handled, so a reconnect (exponential backoff with jitter,
// immediately when the browser comes back online) resumes exactly after it: the gateway
// replays what was missed, then `synced`. A `resync` frame means events were lost: the
// topic's `resync` handler reloads from REST. Pings keep the connection from idling out.
// A topic the gateway refuses (`error` frame: an unknown job, too many followed jobs) or
// ends (`unsubscribed`) is dropped, so a reconnect does not ask for it again; the gateway's
// `topic_status` (its own upstream stream down or back) reaches the topic's `status`
// handler and the `topic-status` event.

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
const STABLE_MS = 10000;

/**
 * The connection. Emits `status` events (detail: {state: "connecting"|"live"|"offline",
 * retryInMs, attempt}) for the indicator.
 */
export class Live extends EventTarget {
  constructor(url = defaultUrl()) {
    super();
    this.url = url;
    this.socket = null;
    this.topics = new Map();
    this.leaving = new Map();
    this.state = "offline";
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.stableTimer = null;
    this.pingInterval = 20000;
    this.retryAt = 0;
    this.closed = false;
    window.addEventListener("online", () => this.reconnectNow());
  }

  /**
   * Subscribes to `name` with handlers {event(frame), resync(frame), synced(frame),
   * error(frame), status(frame), ended(frame)},
   * resuming after `after` (a cursor or REST revision; null = live from now). Returns an
   * object with `unsubscribe()` and `cursor()`.
   */
  topic(name, handlers, after = null) {
    const entry = { name, handlers, cursor: after === null || after === undefined ? null : String(after), synced: false };
    this.topics.set(name, entry);
    this.sendSubscribe([entry]);
    return {
      unsubscribe: () => {
        if (this.topics.get(name) !== entry) return;
        this.topics.delete(name);
        // The gateway confirms with `unsubscribed`, which must not end a newer subscription.
        if (this.send({ type: "unsubscribe", topics: [name] })) this.leaving.set(name, (this.leaving.get(name) || 0) + 1);
      },
      cursor: () => entry.cursor,
    };
  }

  /** Opens the connection (once); reconnects on its own afterwards. */
  connect() {
    if (this.socket || this.closed) return;
    clearTimeout(this.retryTimer);
    this.setState("connecting");
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.addEventListener("message", (message) => this.receive(message));
    socket.addEventListener("close", () => this.dropped(socket));
    socket.addEventListener("error", () => {
      // A close event follows; the reconnect is scheduled there.
    });
  }

  /** Drops any wait and connects now (the browser is back online, the operator asked). */
  reconnectNow() {
    if (this.socket || this.closed) return;
    this.attempt = 0;
    this.connect();
  }

  send(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN && this.helloSeen) {
      this.socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  sendSubscribe(entries) {
    if (!entries.length) return;
    const topics = entries.map((entry) => (entry.cursor === null ? { topic: entry.name } : { topic: entry.name, after: entry.cursor }));
    this.send({ type: "subscribe", topics });
  }

  receive(message) {
    let frame;
    try {
      frame = JSON.parse(message.data);
    } catch {
      return;
    }
    switch (frame.type) {
      case "hello":
        this.helloSeen = true;
        if (frame.ping_interval_seconds > 0) this.pingInterval = frame.ping_interval_seconds * 1000;
        this.startPing();
        this.setState("live");
        this.stableTimer = setTimeout(() => {
          this.attempt = 0;
        }, STABLE_MS);
        this.sendSubscribe([...this.topics.values()]);
        break;
      case "event": {
        const entry = this.topics.get(frame.topic);
        if (!entry) return;
        entry.cursor = frame.cursor;
        entry.handlers.event?.(frame);
        break;
      }
      case "synced": {
        const entry = this.topics.get(frame.topic);
        if (!entry) return;
        if (frame.cursor !== undefined && frame.cursor !== null) entry.cursor = frame.cursor;
        entry.synced = true;
        entry.handlers.synced?.(frame);
        break;
      }
      case "resync": {
        const entry = this.topics.get(frame.topic);
        if (!entry) return;
        if (frame.cursor !== undefined && frame.cursor !== null) entry.cursor = frame.cursor;
        entry.handlers.resync?.(frame);
        break;
      }
      case "error": {
        const entry = frame.topic ? this.topics.get(frame.topic) : null;
        if (!entry) return;
        // The topic was refused: asking again after a reconnect would be refused again.
        this.topics.delete(frame.topic);
        entry.handlers.error?.(frame);
        break;
      }
      case "unsubscribed": {
        const leaving = this.leaving.get(frame.topic) || 0;
        if (leaving > 0) {
          if (leaving === 1) this.leaving.delete(frame.topic);
          else this.leaving.set(frame.topic, leaving - 1);
          return;
        }
        const entry = this.topics.get(frame.topic);
        if (!entry) return;
        this.topics.delete(frame.topic);
        entry.handlers.ended?.(frame);
        break;
      }
      case "topic_status": {
        const entry = this.topics.get(frame.topic);
        entry?.handlers.status?.(frame);
        this.dispatchEvent(new CustomEvent("topic-status", { detail: frame }));
        break;
      }
      default:
        // subscribed, pong: nothing to do.
        break;
    }
  }

  dropped(socket) {
    if (this.socket !== socket) return;
    this.socket = null;
    this.helloSeen = false;
    this.leaving.clear();
    clearInterval(this.pingTimer);
    clearTimeout(this.stableTimer);
    for (const entry of this.topics.values()) entry.synced = false;
    if (!this.closed) this.scheduleReconnect();
  }

  scheduleReconnect() {
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    const wait = Math.round(base * (0.8 + Math.random() * 0.4));
    this.attempt += 1;
    this.retryAt = Date.now() + wait;
    this.setState("offline", wait);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), wait);
  }

  startPing() {
    clearInterval(this.pingTimer);
    let sequence = 0;
    this.pingTimer = setInterval(() => {
      sequence += 1;
      this.send({ type: "ping", id: sequence });
    }, this.pingInterval);
  }

  setState(state, retryInMs = 0) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("status", { detail: { state, retryInMs, attempt: this.attempt } }));
  }

  /** Closes for good (tests, page teardown). */
  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    this.socket?.close(1000);
  }
}

function defaultUrl() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}/ws`;
}
