// Boots the console: loads the fleet summary, opens the tab's WebSocket and subscribes to
// inventory from the summary's revision, to `jobs` (the JobFeed every view listens to) and
// to `notifications` (the bell), mounts the navigation tree and the router, and wires the
// shell (theme, drawer, connection indicator, development banner, shortcuts). Routes are
// listed here.

import { onMode, get } from "./api.js";
import { h, replace, throttle } from "./dom.js";
import { Live } from "./live.js";
import { FleetStore } from "./store.js";
import { Router, setTitle } from "./router.js";
import { NavTree } from "./components/tree.js";
import { startAgeTicker, pageHeader, alert } from "./components/common.js";
import { toast } from "./components/toast.js";
import { setupTheme } from "./theme.js";
import { JobFeed } from "./jobs.js";
import { NotificationCenter } from "./components/notifications.js";
import * as format from "./format.js";
import * as overview from "./views/overview.js";
import * as vms from "./views/vms.js";
import * as vm from "./views/vm.js";
import * as host from "./views/host.js";
import * as cluster from "./views/cluster.js";
import * as system from "./views/system.js";
import * as provision from "./views/provision.js";
import * as jobsView from "./views/jobs.js";
import * as job from "./views/job.js";
import * as notFound from "./views/notfound.js";

const ROUTES = [
  { name: "overview", pattern: /^\/$/, view: overview },
  { name: "vms", pattern: /^\/vms\/?$/, view: vms },
  { name: "provision", pattern: /^\/vms\/new\/?$/, view: provision },
  { name: "vm", pattern: /^\/vms\/([^/]+)\/?$/, view: vm },
  { name: "host", pattern: /^\/hosts\/([^/]+)\/?$/, view: host },
  { name: "cluster", pattern: /^\/clusters\/([^/]+)\/?$/, view: cluster },
  { name: "system", pattern: /^\/system\/?$/, view: system },
  { name: "jobs", pattern: /^\/jobs\/?$/, view: jobsView },
  { name: "job", pattern: /^\/jobs\/([^/]+)\/?$/, view: job },
  { name: "not-found", pattern: /^(.*)$/, view: notFound },
];

const STORE_RETRY_MS = [2000, 4000, 8000, 15000];

function connectionIndicator(live) {
  const node = document.getElementById("connection");
  const text = node.querySelector(".connection-text");
  // Screen readers hear state changes only (the visible countdown is hidden from them).
  const spoken = node.querySelector(".connection-sr");
  let wasLive = false;
  let countdown = null;
  // Topics whose stream the gateway itself lost (topic_status down): live, but not for those.
  const down = new Map();
  const partly = () => {
    if (node.dataset.state !== "live") return;
    if (down.size) {
      const names = [...down.keys()].join(", ");
      text.textContent = "Live (partly)";
      node.title = `No updates for ${names} for now: ${[...down.values()].filter(Boolean).join("; ") || "the gateway lost its stream"}. They resume when it is back.`;
      say(`Live updates paused for ${names}`);
    } else {
      text.textContent = "Live";
      node.title = "Connected: changes appear as they happen";
    }
  };
  live.addEventListener("topic-status", (event) => {
    const { topic, status, reason } = event.detail;
    const name = topic.startsWith("jobs:") ? "this job" : topic;
    if (status === "down") down.set(name, reason || null);
    else down.delete(name);
    partly();
  });
  const say = (message) => {
    if (spoken.textContent !== message) spoken.textContent = message;
  };
  live.addEventListener("status", (event) => {
    const { state, retryInMs } = event.detail;
    node.dataset.state = state;
    clearInterval(countdown);
    if (state === "live") {
      text.textContent = "Live";
      node.title = "Connected: changes appear as they happen";
      say("Live updates connected");
      wasLive = true;
      down.clear();
    } else if (state === "connecting") {
      text.textContent = wasLive ? "Reconnecting…" : "Connecting…";
      node.title = "Connecting to the live update stream";
    } else {
      const until = Date.now() + retryInMs;
      const tick = () => {
        const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
        text.textContent = `Offline · retry in ${left} s`;
      };
      tick();
      countdown = setInterval(tick, 1000);
      node.title = "The live update stream is disconnected; what you see may be out of date";
      say("Live updates disconnected; retrying");
    }
  });
}

function modeBanner(main, live) {
  const banner = document.getElementById("mode-banner");
  onMode((mode, reasons) => {
    if (mode === "development") {
      replace(banner, "Development mode: the API is served without authentication.", h("span", { class: "long" }, " Do not expose this gateway."));
      banner.hidden = false;
    } else if (mode === "diagnostic") {
      banner.hidden = true;
      // /ws answers 503 until the configuration is fixed (and the gateway restarted).
      live.close();
      document.getElementById("connection").hidden = true;
      setTitle("Diagnostic mode");
      replace(main, 
        pageHeader({ title: "The gateway is in diagnostic mode" }),
        alert(
          "bad",
          "The API is not served until these problems are fixed",
          h("ul", {}, (reasons || []).map((reason) => h("li", {}, reason))),
          h("p", {}, "Details: ", h("a", { href: "/readyz", "data-external": "" }, "/readyz"), "."),
        ),
      );
    }
  });
}

function headerHeight() {
  const header = document.getElementById("header");
  const set = () => document.documentElement.style.setProperty("--header-h", `${header.offsetHeight}px`);
  new ResizeObserver(set).observe(header);
  set();
}

function drawer(router) {
  const toggle = document.getElementById("nav-toggle");
  const sidebar = document.getElementById("sidebar");
  const scrim = document.getElementById("scrim");
  const set = (open) => {
    sidebar.dataset.open = String(open);
    toggle.setAttribute("aria-expanded", String(open));
    toggle.setAttribute("aria-label", open ? "Hide navigation" : "Show navigation");
    scrim.hidden = !open;
  };
  toggle.addEventListener("click", () => set(sidebar.dataset.open !== "true"));
  scrim.addEventListener("click", () => set(false));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && sidebar.dataset.open === "true") {
      set(false);
      toggle.focus();
    }
  });
  router.addEventListener("route", () => set(false));
}

const NAV_SECTIONS = { job: "jobs", provision: "vms" };

function primaryNav(router, store, feed) {
  const links = document.querySelectorAll("[data-nav]");
  router.addEventListener("route", (event) => {
    const section = NAV_SECTIONS[event.detail.name] || event.detail.name;
    for (const link of links) {
      if (link.dataset.nav === section) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  });
  const count = document.getElementById("nav-vm-count");
  store.addEventListener("change", () => {
    count.textContent = store.counts ? format.count(store.counts.vms) : "";
  });
  // Jobs still to finish, next to "Jobs": re-counted (one small request) as jobs change.
  const active = document.getElementById("nav-job-count");
  const recount = throttle(async () => {
    try {
      const page = await get("/jobs", { params: { state: "pending,waiting,running", page_size: 1 } });
      active.textContent = page.total_size ? format.count(page.total_size) : "";
      active.title = page.total_size ? `${format.plural(page.total_size, "job")} queued or running` : "";
    } catch {
      active.textContent = "";
    }
  }, 2000);
  feed.addEventListener("event", (event) => {
    if (event.detail.kind === "job_created" || event.detail.kind === "job_state_changed") recount();
  });
  feed.addEventListener("resync", recount);
  recount();
}

function shortcuts(searchInput) {
  document.addEventListener("keydown", (event) => {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    event.preventDefault();
    const toggle = document.getElementById("nav-toggle");
    const drawerMode = window.getComputedStyle(toggle).display !== "none";
    if (drawerMode && toggle.getAttribute("aria-expanded") !== "true") toggle.click();
    searchInput.focus();
  });
}

let storeRetry = null;

/** Loads the fleet; on failure retries with backoff (one retry loop, whoever asks). */
async function loadStore(store, live, attempt = 0) {
  clearTimeout(storeRetry);
  storeRetry = null;
  try {
    await store.load();
    store.emit("change", { reason: "load" });
    store.attach(live);
    if (attempt > 0) toast({ tone: "ok", title: "Inventory is back", body: "The fleet has been loaded." });
  } catch (error) {
    store.error = error;
    store.emit("change", { reason: "error" });
    if (error.diagnostic) return;
    const wait = STORE_RETRY_MS[Math.min(attempt, STORE_RETRY_MS.length - 1)];
    clearTimeout(storeRetry);
    storeRetry = setTimeout(() => loadStore(store, live, attempt + 1), wait);
  }
}

function boot() {
  const main = document.getElementById("main");
  const searchInput = document.getElementById("tree-filter");
  const store = new FleetStore();
  const live = new Live();
  const feed = new JobFeed(live);
  const ctx = { store, live, jobs: feed, searchInput, reloadStore: () => loadStore(store, live) };
  const router = new Router(main, ROUTES, ctx);
  ctx.router = router;
  setupTheme(document.getElementById("theme-toggle"));
  modeBanner(main, live);
  connectionIndicator(live);
  headerHeight();
  drawer(router);
  primaryNav(router, store, feed);
  shortcuts(searchInput);
  new NavTree({ container: document.getElementById("tree"), input: searchInput, store, router });
  startAgeTicker();
  const bell = new NotificationCenter({ live, slot: document.getElementById("topbar-slots") });
  live.connect();
  feed.start();
  router.resolve({ focus: false });
  loadStore(store, live);
  bell.load();
}

boot();
