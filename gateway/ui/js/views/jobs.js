// The jobs list (`/jobs`): every job the service remembers, newest first, filtered by state,
// type and host on the server (GET /api/v1/jobs; the filters and the page live in the URL),
// paged with the gateway's tokens, and live: rows follow the tab's `jobs` feed, and new
// jobs that match appear without a reload.

import { get, query as toQuery, ApiError } from "../api.js";
import { h, replace, icon, throttle } from "../dom.js";
import * as fmt from "../format.js";
import * as jobs from "../jobs.js";
import { setTitle } from "../router.js";
import { pageHeader, errorBox, empty, scrollBox } from "../components/common.js";
import { jobsTable, startDurationTicker } from "../components/jobui.js";

const STATE_CHOICES = [
  ["", "Any state"],
  ["pending,waiting,running", "Active"],
  ["pending,waiting", "Queued"],
  ["running", "Running"],
  ["succeeded", "Succeeded"],
  ["failed", "Failed"],
  ["cancelled", "Cancelled"],
  ["failed,cancelled", "Failed or cancelled"],
];
const PAGE_SIZES = [25, 50, 100, 250];
const DEFAULT_PAGE_SIZE = 50;

function readState(search) {
  const size = Number(search.get("page_size"));
  const page = Number(search.get("p"));
  return {
    state: search.get("state") || "",
    type: search.get("type") || "",
    host: search.get("host") || "",
    vmId: search.get("vm_id") || "",
    pageSize: PAGE_SIZES.includes(size) ? size : DEFAULT_PAGE_SIZE,
    token: search.get("page_token") || "",
    page: Number.isInteger(page) && page > 0 ? page : 1,
  };
}

function writeState(state) {
  return toQuery({
    state: state.state,
    type: state.type,
    host: state.host,
    vm_id: state.vmId,
    page_size: state.pageSize !== DEFAULT_PAGE_SIZE ? state.pageSize : "",
    page_token: state.token,
    p: state.token ? state.page : "",
  });
}

function matches(job, state) {
  if (state.state && !state.state.split(",").includes(job.state)) return false;
  if (state.type && !state.type.split(",").includes(job.type)) return false;
  if (state.host && job.host !== state.host) return false;
  if (state.vmId && job.vm_id !== state.vmId) return false;
  return true;
}

export function mount(container, { query, ctx, router }) {
  const { store, jobs: feed } = ctx;
  setTitle("Jobs");
  startDurationTicker();
  let state = readState(query);
  let rows = [];
  let total = null;
  let nextToken = null;
  let prevToken = null;
  let error = null;
  let controller = null;
  let sequence = 0;
  let vmName = null;

  const stateSelect = h("select", { "aria-label": "State" }, STATE_CHOICES.map(([value, label]) => h("option", { value }, label)));
  const typeSelect = h("select", { "aria-label": "Type" }, h("option", { value: "" }, "Any type"), jobs.JOB_TYPES.map((type) => h("option", { value: type }, jobs.typeLabel(type))));
  const hostSelect = h("select", { "aria-label": "Host" });
  const pageSizeSelect = h("select", { "aria-label": "Rows per page" }, PAGE_SIZES.map((size) => h("option", { value: size }, `${size} per page`)));
  const clearButton = h("button", { type: "button", class: "button button-quiet" }, "Clear filters");
  const summary = h("p", { class: "table-summary", role: "status", "aria-live": "polite" });
  const table = jobsTable({ caption: "Jobs" });
  const status = h("div", { class: "table-status" });
  const firstButton = h("button", { type: "button", class: "button", "aria-label": "First page" }, "First");
  const prevButton = h("button", { type: "button", class: "button", "aria-label": "Previous page" }, icon("chevron", 14), "Previous");
  const nextButton = h("button", { type: "button", class: "button", "aria-label": "Next page" }, "Next", icon("chevron", 14));
  const pageText = h("span", { class: "page-text muted" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages" }, pageText, firstButton, prevButton, nextButton);

  const navigate = (next, { replace: swap = false } = {}) => router.navigate(`/jobs${writeState(next)}`, { replace: swap, focus: false });
  const change = (patch) => navigate({ ...state, ...patch, token: "", page: 1 });
  stateSelect.addEventListener("change", () => change({ state: stateSelect.value }));
  typeSelect.addEventListener("change", () => change({ type: typeSelect.value }));
  hostSelect.addEventListener("change", () => change({ host: hostSelect.value }));
  pageSizeSelect.addEventListener("change", () => change({ pageSize: Number(pageSizeSelect.value) }));
  clearButton.addEventListener("click", () => change({ state: "", type: "", host: "", vmId: "" }));
  const vmChip = h("span", { class: "chip" });
  firstButton.addEventListener("click", () => navigate({ ...state, token: "", page: 1 }));
  prevButton.addEventListener("click", () => {
    if (state.page <= 2 || !prevToken) navigate({ ...state, token: "", page: 1 });
    else navigate({ ...state, token: prevToken, page: state.page - 1 });
  });
  nextButton.addEventListener("click", () => {
    if (nextToken) navigate({ ...state, token: nextToken, page: state.page + 1 });
  });

  function renderFilters() {
    if (!STATE_CHOICES.some(([value]) => value === state.state)) stateSelect.append(h("option", { value: state.state }, state.state));
    stateSelect.value = state.state;
    if (state.type && !jobs.JOB_TYPES.includes(state.type)) typeSelect.append(h("option", { value: state.type }, state.type));
    typeSelect.value = state.type;
    const hosts = store.hostList();
    replace(hostSelect, h("option", { value: "" }, "Any host"), hosts.map((host) => h("option", { value: host.name }, fmt.shortHost(host.name))));
    if (state.host && !store.hosts.has(state.host)) hostSelect.append(h("option", { value: state.host }, state.host));
    hostSelect.value = state.host;
    pageSizeSelect.value = String(state.pageSize);
    clearButton.hidden = !(state.state || state.type || state.host || state.vmId);
    vmChip.hidden = !state.vmId;
    replace(vmChip, "VM ", h("a", { href: `/vms/${encodeURIComponent(state.vmId)}`, class: "mono" }, vmName || state.vmId));
  }

  function renderStatus() {
    const first = (state.page - 1) * state.pageSize + 1;
    const filtered = state.state || state.type || state.host || state.vmId;
    if (error) {
      replace(status, errorBox(error, () => load(), "Could not load the jobs"));
      summary.textContent = "";
    } else if (total === 0) {
      replace(status, empty(filtered ? "No jobs match these filters." : "No jobs yet.", filtered ? "Change or clear the filters." : "Jobs appear here when VMs are created, changed, powered or deleted."));
      summary.textContent = "0 jobs";
    } else {
      status.replaceChildren();
      if (total !== null) summary.textContent = rows.length ? `${fmt.count(first)}–${fmt.count(first + rows.length - 1)} of ${fmt.plural(total, "job")}` : fmt.plural(total, "job");
    }
    const pages = total ? Math.max(1, Math.ceil(total / state.pageSize)) : 1;
    pageText.textContent = total ? `Page ${fmt.count(state.page)} of ${fmt.count(pages)}` : "";
    firstButton.disabled = state.page <= 1;
    prevButton.disabled = state.page <= 1;
    nextButton.disabled = !nextToken;
    pager.hidden = !total || (state.page <= 1 && !nextToken);
  }

  async function load() {
    controller?.abort();
    controller = new AbortController();
    const mine = ++sequence;
    table.node.setAttribute("aria-busy", "true");
    try {
      const page = await get("/jobs", {
        params: { state: state.state, type: state.type, host: state.host, vm_id: state.vmId, page_size: state.pageSize, page_token: state.token },
        signal: controller.signal,
      });
      if (mine !== sequence) return;
      error = null;
      rows = page.jobs || [];
      total = page.total_size;
      nextToken = page.next_page_token || null;
      prevToken = page.prev_page_token || null;
      const named = rows.find((job) => job.vm_id === state.vmId && job.vm_name);
      if (state.vmId && named && vmName !== named.vm_name) {
        vmName = named.vm_name;
        renderFilters();
      }
    } catch (failure) {
      if (failure && failure.name === "AbortError") return;
      if (mine !== sequence) return;
      if (failure instanceof ApiError && failure.details?.parameter === "page_token" && state.token) {
        navigate({ ...state, token: "", page: 1 }, { replace: true });
        return;
      }
      error = failure;
      rows = [];
      total = null;
      nextToken = null;
    } finally {
      if (mine === sequence) table.node.removeAttribute("aria-busy");
    }
    table.render(rows);
    renderStatus();
  }

  const reload = throttle(() => load(), 1000);
  const patch = throttle(() => table.render(rows), 250);

  const onEvent = (event) => {
    const frame = event.detail;
    const id = frame.data?.job_id;
    if (frame.kind === "job_created") {
      if (state.page === 1 && matches(frame.data, state)) reload();
      return;
    }
    const job = rows.find((row) => row.id === id);
    if (!job) return;
    jobs.applyEvent(job, frame);
    if (frame.kind === "job_state_changed" && !matches(job, state)) reload();
    patch();
  };
  const onResync = () => load();
  const onStore = (event) => {
    if (event.detail.reason === "load" || event.detail.reason === "host") {
      if (document.activeElement !== hostSelect) renderFilters();
    }
  };
  feed.addEventListener("event", onEvent);
  feed.addEventListener("resync", onResync);
  store.addEventListener("change", onStore);

  replace(
    container,
    h(
      "div",
      { class: "jobs-page" },
      pageHeader({
        crumbs: [["Overview", "/"], ["Jobs", null]],
        title: "Jobs",
        actions: h("a", { class: "button button-primary", href: "/vms/new" }, "New VM"),
        sub: h("p", { class: "muted" }, "Every change to the fleet is a job. They update here as they run."),
      }),
      h("div", { class: "toolbar", role: "search", "aria-label": "Job filters" }, stateSelect, typeSelect, hostSelect, vmChip, clearButton, h("span", { class: "toolbar-spacer" }), pageSizeSelect),
      summary,
      h("div", { class: "vm-table-block" }, scrollBox("Jobs", table.node)),
      status,
      pager,
    ),
  );
  renderFilters();
  renderStatus();
  load();

  return {
    update(search) {
      state = readState(search);
      renderFilters();
      load();
    },
    unmount() {
      controller?.abort();
      reload.cancel();
      patch.cancel();
      feed.removeEventListener("event", onEvent);
      feed.removeEventListener("resync", onResync);
      store.removeEventListener("change", onStore);
    },
  };
}
