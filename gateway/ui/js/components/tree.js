// The navigation tree in the sidebar: clusters → hosts → VMs, then standalone hosts.
// VMs are fetched when a host is expanded (a host's first 100 by name, then a link to the
// host's page), and patched from live events. Keyboard: the WAI-ARIA navigation treeview
// pattern (arrows, Home/End, Enter follows the link; one tab stop). The search box above
// filters clusters and hosts by name and lists matching VMs from the API; Enter opens the
// VM table with that search. Expanded nodes are remembered in localStorage.

import { get, segment } from "../api.js";
import { h, replace, icon, debounce, throttle } from "../dom.js";
import * as fmt from "../format.js";

const HOST_VM_LIMIT = 100;
const SEARCH_LIMIT = 8;
const STORAGE_KEY = "aetherv.tree.expanded";

function loadExpanded() {
  try {
    const saved = JSON.parse(window.localStorage.getItem(STORAGE_KEY) || "null");
    if (Array.isArray(saved)) return new Set(saved);
  } catch {
    // Storage disabled or damaged: the defaults apply.
  }
  return null;
}

export class NavTree {
  constructor({ container, input, store, router }) {
    this.container = container;
    this.input = input;
    this.store = store;
    this.router = router;
    const saved = loadExpanded();
    this.expanded = saved || new Set(["group:standalone"]);
    this.defaultsApplied = Boolean(saved);
    this.hostVms = new Map();
    this.filter = "";
    this.signature = "";
    this.current = { name: "overview", params: [] };
    this.focusKey = null;
    this.vmSearch = { text: "", result: null, error: null };
    this.searchController = null;

    this.root = h("ul", { role: "tree", class: "tree", "aria-label": "Clusters, hosts and virtual machines" });
    this.results = h("div", { class: "tree-results" });
    replace(this.container, this.root, this.results);

    this.root.addEventListener("keydown", (event) => this.onKey(event));
    this.root.addEventListener("focusin", (event) => {
      const item = event.target.closest("[role=treeitem]");
      if (item) this.setTabStop(item);
    });
    this.root.addEventListener("click", (event) => {
      const toggle = event.target.closest(".tree-toggle");
      if (!toggle) return;
      event.preventDefault();
      event.stopPropagation();
      const item = toggle.closest("[role=treeitem]");
      this.toggle(item.dataset.key);
    });

    const searchVms = debounce(() => this.searchVms(), 250);
    this.input.addEventListener("input", () => {
      this.filter = this.input.value.trim();
      this.render(true);
      searchVms();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && this.input.value.trim()) {
        event.preventDefault();
        this.router.navigate(`/vms?q=${encodeURIComponent(this.input.value.trim())}`);
      } else if (event.key === "ArrowDown") {
        event.preventDefault();
        this.visibleItems()[0]?.focus();
      } else if (event.key === "Escape" && this.input.value) {
        this.input.value = "";
        this.filter = "";
        this.render(true);
        searchVms();
      }
    });

    this.renderSoon = throttle(() => this.render(false), 700);
    store.addEventListener("change", () => this.renderSoon());
    store.addEventListener("vm", (event) => this.onVm(event.detail));
    store.addEventListener("vm-deleted", (event) => this.onVmDeleted(event.detail));
    store.addEventListener("resync", () => {
      for (const host of this.hostVms.keys()) if (this.expanded.has(`host:${host}`)) this.loadHost(host);
    });
    router.addEventListener("route", (event) => {
      this.current = event.detail;
      this.markCurrent();
    });
  }

  save() {
    try {
      window.localStorage.setItem(STORAGE_KEY, JSON.stringify([...this.expanded]));
    } catch {
      // Storage disabled: expansion lasts for this page only.
    }
  }

  toggle(key, open = !this.expanded.has(key)) {
    if (open) this.expanded.add(key);
    else this.expanded.delete(key);
    this.save();
    if (open && key.startsWith("host:")) {
      const host = key.slice(5);
      if (!this.hostVms.has(host)) this.loadHost(host);
    }
    this.focusKey = key;
    this.render(true);
  }

  async loadHost(host) {
    const entry = this.hostVms.get(host) || { vms: [], total: 0, loading: true, error: null };
    entry.loading = true;
    this.hostVms.set(host, entry);
    try {
      const page = await get(`/hosts/${segment(host)}/vms`, { params: { page_size: HOST_VM_LIMIT, sort: "name" } });
      entry.vms = page.vms || [];
      entry.total = page.total_size;
      entry.error = null;
    } catch (error) {
      entry.error = error;
    }
    entry.loading = false;
    this.render(true);
  }

  onVm(vm) {
    for (const [host, entry] of this.hostVms) {
      const index = entry.vms.findIndex((held) => held.id === vm.id);
      if (index >= 0 && entry.vms[index].revision > vm.revision) return;
      if (host === vm.host) {
        if (index >= 0) entry.vms[index] = vm;
        else if (entry.vms.length < HOST_VM_LIMIT) {
          entry.vms.push(vm);
          entry.total += 1;
        } else entry.total += 1;
        entry.vms.sort((a, b) => a.name.localeCompare(b.name));
      } else if (index >= 0) {
        entry.vms.splice(index, 1);
        entry.total = Math.max(0, entry.total - 1);
      }
    }
    if (this.expanded.has(`host:${vm.host}`)) this.render(true);
  }

  onVmDeleted({ id, host }) {
    const entry = this.hostVms.get(host);
    if (!entry) return;
    const index = entry.vms.findIndex((vm) => vm.id === id);
    if (index >= 0) {
      entry.vms.splice(index, 1);
      entry.total = Math.max(0, entry.total - 1);
      this.render(true);
    }
  }

  async searchVms() {
    const text = this.filter;
    this.searchController?.abort();
    if (!text) {
      this.vmSearch = { text: "", result: null, error: null };
      this.renderResults();
      return;
    }
    this.searchController = new AbortController();
    try {
      const page = await get("/vms", { params: { q: text, page_size: SEARCH_LIMIT }, signal: this.searchController.signal });
      this.vmSearch = { text, result: page, error: null };
    } catch (error) {
      if (error && error.name === "AbortError") return;
      this.vmSearch = { text, result: null, error };
    }
    this.renderResults();
  }

  /** What the tree shows, as a string: re-render only when it changes. */
  computeSignature() {
    const parts = [this.filter, [...this.expanded].join(",")];
    for (const host of this.store.hosts.values()) parts.push(`${host.name}:${host.cluster}:${host.status}:${host.vm_count}`);
    for (const cluster of this.store.clusters.values()) parts.push(`c:${cluster.name}:${cluster.host_count}`);
    return parts.join("|");
  }

  render(force) {
    if (!this.store.loaded) return;
    if (!this.defaultsApplied) {
      for (const cluster of this.store.clusters.keys()) this.expanded.add(`cluster:${cluster}`);
      this.defaultsApplied = true;
    }
    const signature = this.computeSignature();
    if (!force && signature === this.signature) return;
    this.signature = signature;
    const focused = this.root.contains(document.activeElement) ? document.activeElement.closest("[role=treeitem]")?.dataset.key : null;
    const filter = this.filter.toLowerCase();
    const items = [];
    for (const cluster of this.store.clusterList()) {
      const clusterHit = !filter || cluster.name.toLowerCase().includes(filter);
      const hosts = this.store.hostList(cluster.name).filter((host) => clusterHit || host.name.toLowerCase().includes(filter));
      if (!clusterHit && !hosts.length) continue;
      const key = `cluster:${cluster.name}`;
      const open = this.expanded.has(key) || Boolean(filter);
      items.push(
        this.item({
          key,
          level: 1,
          href: `/clusters/${segment(cluster.name)}`,
          iconName: "cluster",
          label: cluster.name,
          count: `${cluster.reachable_hosts}/${cluster.host_count}`,
          countTitle: `${cluster.reachable_hosts} of ${cluster.host_count} hosts reachable`,
          tone: cluster.reachable_hosts < cluster.host_count ? "bad" : null,
          expandable: true,
          open,
          children: hosts.map((host) => this.hostItem(host, 2)),
        }),
      );
    }
    const standalone = this.store.hostList("-").filter((host) => !filter || host.name.toLowerCase().includes(filter));
    if (standalone.length) {
      const key = "group:standalone";
      items.push(
        this.item({
          key,
          level: 1,
          href: null,
          iconName: "host",
          label: "Standalone hosts",
          count: String(standalone.length),
          expandable: true,
          open: this.expanded.has(key) || Boolean(filter),
          children: standalone.map((host) => this.hostItem(host, 2)),
        }),
      );
    }
    if (!items.length) {
      const text = this.store.hosts.size ? "No cluster or host matches." : "No hosts configured.";
      replace(this.root, h("li", { role: "none", class: "tree-empty muted" }, text));
    } else {
      replace(this.root, ...items);
    }
    this.markCurrent();
    const wanted = focused || this.focusKey;
    this.focusKey = null;
    const target = wanted ? this.root.querySelector(`[role=treeitem][data-key="${cssEscape(wanted)}"]`) : null;
    if (target) {
      this.setTabStop(target);
      if (focused) target.focus();
    } else if (!this.root.querySelector('[role=treeitem][tabindex="0"]')) {
      const first = this.root.querySelector("[role=treeitem]");
      if (first) first.tabIndex = 0;
    }
    this.renderResults();
  }

  hostItem(host, level) {
    const key = `host:${host.name}`;
    const open = this.expanded.has(key);
    let children = [];
    if (open) {
      const entry = this.hostVms.get(host.name);
      if (!entry || entry.loading) children = [h("li", { role: "none", class: "tree-note muted" }, "Loading VMs…")];
      else if (entry.error) children = [h("li", { role: "none", class: "tree-note tone-text-bad" }, "Could not load the VMs.")];
      else if (!entry.vms.length) children = [h("li", { role: "none", class: "tree-note muted" }, "No VMs")];
      else {
        children = entry.vms.map((vm) =>
          this.item({
            key: `vm:${vm.id}`,
            level: level + 1,
            href: `/vms/${segment(vm.id)}`,
            dotTone: fmt.stateTone(vm.state),
            dotLabel: fmt.stateLabel(vm.state),
            label: vm.name,
            stale: vm.stale,
          }),
        );
        if (entry.total > entry.vms.length) {
          children.push(
            this.item({
              key: `more:${host.name}`,
              level: level + 1,
              href: `/hosts/${segment(host.name)}`,
              label: `All ${fmt.count(entry.total)} VMs…`,
              className: "tree-more",
            }),
          );
        }
      }
    }
    return this.item({
      key,
      level,
      href: `/hosts/${segment(host.name)}`,
      dotTone: fmt.hostStatusTone(host.status),
      dotLabel: fmt.hostStatusLabel(host.status),
      label: fmt.shortHost(host.name),
      title: host.status === "unreachable" ? `${host.name} — unreachable: ${host.status_reason || "no reason given"}` : host.name,
      count: fmt.count(host.vm_count),
      countTitle: `${fmt.plural(host.vm_count, "VM")}`,
      expandable: host.vm_count > 0 || open,
      open,
      children,
    });
  }

  item({ key, level, href, iconName, dotTone, dotLabel, label, title, count, countTitle, tone, expandable, open, children = [], stale, className }) {
    const tag = href ? "a" : "span";
    const node = h(
      tag,
      {
        role: "treeitem",
        href,
        class: ["tree-item", className, tone && `tone-text-${tone}`],
        "aria-level": level,
        "aria-expanded": expandable ? String(Boolean(open)) : null,
        tabindex: "-1",
        title: title || label,
        dataset: { key },
      },
      h("span", { class: "tree-indent", "aria-hidden": "true" }),
      expandable ? h("span", { class: "tree-toggle", "aria-hidden": "true" }, icon("chevron", 12)) : h("span", { class: "tree-toggle-space", "aria-hidden": "true" }),
      iconName ? icon(iconName, 14) : null,
      dotTone ? h("span", { class: ["dot", `tone-${dotTone}`], "aria-hidden": "true" }) : null,
      h("span", { class: "tree-label" }, label),
      dotLabel && dotTone !== "ok" ? h("span", { class: "visually-hidden" }, `, ${dotLabel}`) : null,
      stale ? h("span", { class: "tag tone-warn" }, "stale") : null,
      count !== undefined ? h("span", { class: "tree-count", title: countTitle || null }, count) : null,
    );
    node.classList.add(`level-${Math.min(level, 3)}`);
    const li = h("li", { role: "none" }, node);
    if (expandable) {
      const group = h("ul", { role: "group", hidden: !open }, open ? children : []);
      li.append(group);
    }
    return li;
  }

  renderResults() {
    const { text, result, error } = this.vmSearch;
    if (!this.filter || text !== this.filter) {
      this.results.replaceChildren();
      return;
    }
    if (error) {
      replace(this.results, h("p", { class: "tree-note tone-text-bad" }, "VM search failed."));
      return;
    }
    if (!result) return;
    const vms = result.vms || [];
    replace(this.results, 
      h("h2", { class: "tree-results-title" }, `VMs matching “${text}”`),
      vms.length
        ? h(
            "ul",
            { class: "tree-results-list" },
            vms.map((vm) =>
              h(
                "li",
                {},
                h(
                  "a",
                  { href: `/vms/${segment(vm.id)}`, class: "tree-item level-1" },
                  h("span", { class: ["dot", `tone-${fmt.stateTone(vm.state)}`], "aria-hidden": "true" }),
                  h("span", { class: "tree-label" }, vm.name),
                  h("span", { class: "tree-count" }, fmt.shortHost(vm.host)),
                ),
              ),
            ),
          )
        : h("p", { class: "tree-note muted" }, "No VM names match."),
      result.total_size > vms.length
        ? h("a", { class: "tree-all", href: `/vms?q=${encodeURIComponent(text)}` }, `All ${fmt.count(result.total_size)} matching VMs →`)
        : null,
    );
  }

  markCurrent() {
    const { name, params } = this.current;
    const key = name === "vm" ? `vm:${params[0]}` : name === "host" ? `host:${params[0]}` : name === "cluster" ? `cluster:${params[0]}` : null;
    for (const node of this.root.querySelectorAll("[aria-current]")) node.removeAttribute("aria-current");
    if (!key) return;
    const node = this.root.querySelector(`[role=treeitem][data-key="${cssEscape(key)}"]`);
    if (node) {
      node.setAttribute("aria-current", "page");
      if (!this.root.contains(document.activeElement)) this.setTabStop(node);
    }
  }

  visibleItems() {
    return [...this.root.querySelectorAll("[role=treeitem]")].filter((item) => !item.closest("[role=group][hidden]"));
  }

  setTabStop(item) {
    for (const other of this.root.querySelectorAll('[role=treeitem][tabindex="0"]')) if (other !== item) other.tabIndex = -1;
    item.tabIndex = 0;
  }

  onKey(event) {
    const item = event.target.closest("[role=treeitem]");
    if (!item) return;
    const items = this.visibleItems();
    const index = items.indexOf(item);
    const expandable = item.hasAttribute("aria-expanded");
    const open = item.getAttribute("aria-expanded") === "true";
    const move = (target) => {
      if (!target) return;
      event.preventDefault();
      this.setTabStop(target);
      target.focus();
    };
    switch (event.key) {
      case "ArrowDown":
        move(items[index + 1]);
        break;
      case "ArrowUp":
        if (index === 0) {
          event.preventDefault();
          this.input.focus();
        } else move(items[index - 1]);
        break;
      case "Home":
        move(items[0]);
        break;
      case "End":
        move(items[items.length - 1]);
        break;
      case "ArrowRight":
        event.preventDefault();
        if (expandable && !open) this.toggle(item.dataset.key, true);
        else if (expandable && open) move(item.parentElement.querySelector(":scope > [role=group] [role=treeitem]"));
        break;
      case "ArrowLeft": {
        event.preventDefault();
        if (expandable && open) this.toggle(item.dataset.key, false);
        else move(item.parentElement.parentElement.closest("li")?.querySelector(":scope > [role=treeitem]"));
        break;
      }
      case "Enter":
      case " ":
        if (!item.getAttribute("href")) {
          event.preventDefault();
          if (expandable) this.toggle(item.dataset.key);
        } else if (event.key === " ") {
          event.preventDefault();
          item.click();
        }
        break;
      default:
        break;
    }
  }
}

function cssEscape(value) {
  return window.CSS && CSS.escape ? CSS.escape(value) : value.replace(/["\\]/g, "\\$&");
}
