// The VM table: server-side search, filters, sort and keyset paging through
// GET /api/v1/vms (or /hosts/{host}/vms), so it renders one page (≤ 500 rows) however large
// the fleet. Its whole state lives in the page's URL (see vmquery.js), so a view can be
// shared and the Back button pages back. Typing is debounced; a newer query aborts an older
// request. Live `vm` events patch rows in place, and a throttled reload picks up VMs that
// enter or leave the page. Rows can be selected (a page at a time, kept across pages) for
// bulk power actions (bulk.js).

import { get, segment, ApiError } from "../api.js";
import { h, replace, icon, debounce, throttle, keyedRows } from "../dom.js";
import * as fmt from "../format.js";
import { errorBox, empty, scrollBox } from "./common.js";
import { columns } from "./vmcolumns.js";
import { PAGE_SIZES, readState, writeState, listKey, sortValue, matches } from "./vmquery.js";
import { bulkBar } from "./bulk.js";

const DESC_FIRST = new Set(["cpu_count", "memory_assigned", "uptime", "creation_time"]);
const MAIN_STATES = ["running", "off", "saved", "paused"];

/**
 * Creates the table. `fixed` = {host} or {cluster} for a host's or cluster's page (not in
 * the URL, no control shown). Returns {node, update(search), unmount()}.
 */
export function vmTable({ ctx, router, search, fixed = {}, label = "Virtual machines" }) {
  const { store } = ctx;
  const cols = columns(fixed);
  let state = readState(search);
  let pageTokens = new Map([[1, ""]]);
  let tokensFor = listKey(state);
  if (state.token) pageTokens.set(state.page, state.token);
  let rows = [];
  let total = null;
  let nextToken = null;
  let controller = null;
  let sequence = 0;
  let error = null;
  const selected = new Map();

  const summary = h("p", { class: "table-summary", role: "status", "aria-live": "polite" });
  const searchInput = h("input", {
    type: "search",
    id: `vm-search-${fixed.host ? "host" : fixed.cluster ? "cluster" : "all"}`,
    placeholder: "Filter by name",
    autocomplete: "off",
    spellcheck: "false",
    value: state.q,
    maxlength: 256,
  });
  const clusterSelect = h("select", { "aria-label": "Cluster" });
  const hostSelect = h("select", { "aria-label": "Host" });
  const stateMenu = h("details", { class: "menu" });
  const pageSizeSelect = h(
    "select",
    { "aria-label": "Rows per page" },
    PAGE_SIZES.map((size) => h("option", { value: size, selected: size === state.pageSize }, `${size} per page`)),
  );
  const clearButton = h("button", { type: "button", class: "button button-quiet" }, "Clear filters");
  const tbody = h("tbody");
  const headRow = h("tr");
  const table = h(
    "table",
    { class: "data-table vm-table" },
    h("caption", { class: "visually-hidden" }, label),
    h("thead", {}, headRow),
    tbody,
  );
  const status = h("div", { class: "table-status" });
  const firstButton = h("button", { type: "button", class: "button", "aria-label": "First page" }, "First");
  const prevButton = h("button", { type: "button", class: "button", "aria-label": "Previous page" }, icon("chevron", 14), "Previous");
  const nextButton = h("button", { type: "button", class: "button", "aria-label": "Next page" }, "Next", icon("chevron", 14));
  const pageText = h("span", { class: "page-text muted" });

  const navigate = (next, { replace = false } = {}) => {
    const url = window.location.pathname + writeState(next);
    router.navigate(url, { replace, focus: false });
  };
  const change = (patch, options) => navigate({ ...state, ...patch, token: "", page: 1 }, options);

  const typed = debounce(() => {
    if (searchInput.value.trim() !== state.q) change({ q: searchInput.value.trim() }, { replace: true });
  }, 250);
  searchInput.addEventListener("input", typed);
  searchInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      typed.cancel();
      if (searchInput.value.trim() !== state.q) change({ q: searchInput.value.trim() }, { replace: true });
    }
  });
  clusterSelect.addEventListener("change", () => change({ cluster: clusterSelect.value, host: "" }));
  hostSelect.addEventListener("change", () => change({ host: hostSelect.value }));
  pageSizeSelect.addEventListener("change", () => change({ pageSize: Number(pageSizeSelect.value) }));
  clearButton.addEventListener("click", () => {
    searchInput.value = "";
    change({ q: "", cluster: "", host: "", state: [] });
  });
  firstButton.addEventListener("click", () => navigate({ ...state, token: "", page: 1 }));
  prevButton.addEventListener("click", () => {
    const previous = state.page - 1;
    if (previous <= 1) navigate({ ...state, token: "", page: 1 });
    else if (pageTokens.has(previous)) navigate({ ...state, token: pageTokens.get(previous), page: previous });
  });
  nextButton.addEventListener("click", () => {
    if (nextToken) navigate({ ...state, token: nextToken, page: state.page + 1 });
  });

  const selectAll = h("input", { type: "checkbox", class: "row-select", "aria-label": "Select every VM on this page" });
  selectAll.addEventListener("change", () => {
    for (const vm of rows) {
      if (selectAll.checked) selected.set(vm.id, vm);
      else selected.delete(vm.id);
    }
    syncSelection();
  });
  tbody.addEventListener("change", (event) => {
    const box = event.target.closest("input.row-select");
    if (!box) return;
    const vm = rows.find((row) => row.id === box.dataset.vmId);
    if (!vm) return;
    if (box.checked) selected.set(vm.id, vm);
    else selected.delete(vm.id);
    syncSelection();
  });
  const bulk = bulkBar({
    feed: ctx.jobs,
    selection: () => [...selected.values()],
    clear: () => {
      selected.clear();
      syncSelection();
    },
  });

  function syncSelection() {
    for (const box of tbody.querySelectorAll("input.row-select")) box.checked = selected.has(box.dataset.vmId);
    const onPage = rows.filter((vm) => selected.has(vm.id)).length;
    selectAll.checked = rows.length > 0 && onPage === rows.length;
    selectAll.indeterminate = onPage > 0 && onPage < rows.length;
    for (const tr of tbody.children) tr.classList.toggle("selected", selected.has(tr.dataset.key));
    bulk.update();
  }

  function renderHead() {
    replace(headRow,
      h("th", { scope: "col", class: "col-select" }, selectAll),
      ...cols.map((col) => {
        const active = col.sort && state.sort === col.sort;
        const th = h("th", {
          scope: "col",
          class: [col.className, active && "sorted"],
          "aria-sort": active ? (state.order === "asc" ? "ascending" : "descending") : null,
        });
        if (!col.sort) {
          th.append(col.label);
          return th;
        }
        const arrow = h("span", { class: "sort-arrow", "aria-hidden": "true" }, active ? (state.order === "asc" ? "▲" : "▼") : "");
        th.append(
          h(
            "button",
            {
              type: "button",
              class: "sort-button",
              on: {
                click: () => {
                  const order = active ? (state.order === "asc" ? "desc" : "asc") : DESC_FIRST.has(col.sort) ? "desc" : "asc";
                  change({ sort: col.sort, order });
                },
              },
            },
            col.label,
            arrow,
          ),
        );
        return th;
      }),
    );
  }

  function renderFilters() {
    const clusters = store.clusterList();
    const selectedCluster = state.cluster;
    replace(clusterSelect, 
      h("option", { value: "" }, "All clusters"),
      h("option", { value: "-", selected: selectedCluster === "-" }, "Standalone hosts"),
      clusters.map((cluster) => h("option", { value: cluster.name, selected: cluster.name === selectedCluster }, cluster.name)),
    );
    if (selectedCluster && selectedCluster !== "-" && !store.clusters.has(selectedCluster)) {
      clusterSelect.append(h("option", { value: selectedCluster, selected: true }, selectedCluster));
    }
    const hostScope = fixed.cluster || (selectedCluster ? selectedCluster : undefined);
    const hosts = store.hostList(hostScope);
    replace(hostSelect, 
      h("option", { value: "" }, "All hosts"),
      hosts.map((host) => h("option", { value: host.name, selected: host.name === state.host }, fmt.shortHost(host.name))),
    );
    if (state.host && !hosts.some((host) => host.name === state.host)) {
      hostSelect.append(h("option", { value: state.host, selected: true }, state.host));
    }
    renderStateMenu();
    const filtered = state.q || state.cluster || state.host || state.state.length;
    clearButton.hidden = !filtered;
  }

  function renderStateMenu() {
    const wasOpen = stateMenu.open;
    const chosen = new Set(state.state);
    const summaryText = chosen.size === 0 ? "Any state" : chosen.size <= 2 ? state.state.map(fmt.stateLabel).join(", ") : `${chosen.size} states`;
    const boxes = fmt.VM_STATES.map((name) =>
      h(
        "label",
        { class: ["menu-check", !MAIN_STATES.includes(name) && "menu-check-minor"] },
        h("input", {
          type: "checkbox",
          value: name,
          checked: chosen.has(name),
          on: {
            change: (event) => {
              const next = new Set(state.state);
              if (event.target.checked) next.add(name);
              else next.delete(name);
              change({ state: fmt.VM_STATES.filter((s) => next.has(s)) });
            },
          },
        }),
        fmt.stateLabel(name),
      ),
    );
    replace(stateMenu, 
      h("summary", { class: ["button", "menu-button", chosen.size && "active"] }, "State: ", summaryText),
      h(
        "fieldset",
        { class: "menu-panel" },
        h("legend", { class: "visually-hidden" }, "Show VMs in these states"),
        boxes,
        chosen.size ? h("button", { type: "button", class: "button button-quiet menu-clear", on: { click: () => change({ state: [] }) } }, "Any state") : null,
      ),
    );
    stateMenu.open = wasOpen;
  }

  function renderRows() {
    keyedRows(
      tbody,
      rows,
      (vm) => vm.id,
      (vm) => vm.revision,
      (vm) =>
        h(
          "tr",
          { class: vm.stale ? "stale" : null },
          h("td", { class: "col-select" }, h("input", { type: "checkbox", class: "row-select", dataset: { vmId: vm.id }, "aria-label": `Select ${vm.name}` })),
          cols.map((col) => h("td", { class: col.className }, col.render(vm))),
        ),
    );
    syncSelection();
  }

  function renderStatus() {
    const first = (state.page - 1) * state.pageSize + 1;
    if (error) {
      replace(status, errorBox(error, () => load(), "Could not load the VMs"));
      summary.textContent = "";
    } else if (total === 0) {
      const filtered = state.q || state.cluster || state.host || state.state.length;
      replace(status, empty(filtered ? "No VMs match these filters." : "No VMs here yet.", filtered ? "Change or clear the filters." : null));
      summary.textContent = "0 VMs";
    } else {
      status.replaceChildren();
      if (total !== null) {
        const last = first + rows.length - 1;
        summary.textContent = rows.length ? `${fmt.count(first)}–${fmt.count(last)} of ${fmt.plural(total, "VM")}` : `${fmt.plural(total, "VM")}`;
      }
    }
    const pages = total ? Math.max(1, Math.ceil(total / state.pageSize)) : 1;
    pageText.textContent = total ? `Page ${fmt.count(state.page)} of ${fmt.count(pages)}` : "";
    firstButton.disabled = state.page <= 1;
    prevButton.disabled = state.page <= 1 || (state.page > 2 && !pageTokens.has(state.page - 1));
    nextButton.disabled = !nextToken;
    pager.hidden = !total || (state.page <= 1 && !nextToken);
  }

  async function load() {
    controller?.abort();
    controller = new AbortController();
    const mine = ++sequence;
    table.setAttribute("aria-busy", "true");
    const path = fixed.host ? `/hosts/${segment(fixed.host)}/vms` : "/vms";
    const params = {
      q: state.q,
      cluster: fixed.cluster || state.cluster,
      host: fixed.host ? "" : state.host,
      state: state.state,
      sort: state.sort,
      order: state.order,
      page_size: state.pageSize,
      page_token: state.token,
    };
    try {
      const page = await get(path, { params, signal: controller.signal });
      if (mine !== sequence) return;
      error = null;
      rows = page.vms || [];
      total = page.total_size;
      nextToken = page.next_page_token || null;
      if (nextToken) pageTokens.set(state.page + 1, nextToken);
      renderRows();
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
      renderRows();
    } finally {
      if (mine === sequence) table.removeAttribute("aria-busy");
    }
    renderStatus();
  }

  const reload = throttle(() => load(), 1000);

  const onVm = (event) => {
    const vm = event.detail;
    if (selected.has(vm.id) && selected.get(vm.id).revision <= vm.revision) {
      selected.set(vm.id, vm);
      bulk.update();
    }
    const index = rows.findIndex((row) => row.id === vm.id);
    if (index >= 0) {
      const held = rows[index];
      if (held.revision > vm.revision) return;
      rows[index] = vm;
      if (selected.has(vm.id)) selected.set(vm.id, vm);
      renderRows();
      // The row may now belong elsewhere (its sort value moved) or nowhere (a filter no
      // longer matches): reload the page, the patched row shows meanwhile.
      if (!matches(vm, state, fixed) || sortValue(held, state.sort) !== sortValue(vm, state.sort)) reload();
    } else if (matches(vm, state, fixed)) {
      reload();
    }
  };
  const onDeleted = (event) => {
    if (selected.delete(event.detail.id)) bulk.update();
    if (rows.some((row) => row.id === event.detail.id)) reload();
    else if (!fixed.host || event.detail.host === fixed.host) reload();
  };
  const onResync = () => load();
  let filterSignature = "";
  const onStore = () => {
    const signature = [...store.clusters.keys()].join(",") + "|" + [...store.hosts.keys()].join(",");
    if (signature === filterSignature || document.activeElement === hostSelect || document.activeElement === clusterSelect) return;
    filterSignature = signature;
    renderFilters();
  };
  store.addEventListener("vm", onVm);
  store.addEventListener("vm-deleted", onDeleted);
  store.addEventListener("resync", onResync);
  store.addEventListener("change", onStore);

  const pager = h("nav", { class: "pager", "aria-label": "Pages" }, pageText, firstButton, prevButton, nextButton);
  const toolbar = h(
    "div",
    { class: "toolbar", role: "search", "aria-label": `${label} filters` },
    h("label", { class: "search-field" }, icon("search", 15), h("span", { class: "visually-hidden" }, "Filter VMs by name"), searchInput),
    fixed.host || fixed.cluster ? null : clusterSelect,
    fixed.host ? null : hostSelect,
    stateMenu,
    clearButton,
    h("span", { class: "toolbar-spacer" }),
    pageSizeSelect,
  );
  const node = h("div", { class: "vm-table-block" }, toolbar, summary, bulk.node, scrollBox(label, table), status, pager);

  renderHead();
  onStore();
  renderStatus();
  load();

  // Close the state menu when focus or a click goes elsewhere.
  const closeMenu = (event) => {
    if (stateMenu.open && !stateMenu.contains(event.target)) stateMenu.open = false;
  };
  document.addEventListener("click", closeMenu);
  stateMenu.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && stateMenu.open) {
      stateMenu.open = false;
      stateMenu.querySelector("summary").focus();
    }
  });

  return {
    node,
    /** The URL's query changed (paging, sorting, Back/Forward). */
    update(search) {
      const next = readState(search);
      const key = listKey(next);
      if (key !== tokensFor) {
        pageTokens = new Map([[1, ""]]);
        tokensFor = key;
      }
      if (next.token) pageTokens.set(next.page, next.token);
      state = next;
      if (document.activeElement !== searchInput) searchInput.value = state.q;
      pageSizeSelect.value = String(state.pageSize);
      renderHead();
      renderFilters();
      load();
    },
    unmount() {
      controller?.abort();
      typed.cancel();
      reload.cancel();
      store.removeEventListener("vm", onVm);
      store.removeEventListener("vm-deleted", onDeleted);
      store.removeEventListener("resync", onResync);
      store.removeEventListener("change", onStore);
      document.removeEventListener("click", closeMenu);
    },
  };
}
