// The VM table's query as it lives in the page URL (the REST parameter names plus `p`, the
// page number shown), and the checks that decide whether a live VM event concerns the page.

import { query as toQuery } from "../api.js";
import * as fmt from "../format.js";

export const DEFAULT_SORT = "name";
export const DEFAULT_PAGE_SIZE = 50;
export const PAGE_SIZES = [25, 50, 100, 250, 500];

/** The value a VM sorts by (uptime sorts by start time, which does not move while it runs). */
export function sortValue(vm, sort) {
  switch (sort) {
    case "cpu_count":
      return vm.cpu_count;
    case "memory_assigned":
      return vm.memory_assigned_bytes;
    case "memory_startup":
      return vm.memory_startup_bytes;
    case "uptime":
      return vm.state;
    case "primary_ip":
      return vm.primary_ip;
    default:
      return vm[sort];
  }
}

/** Reads the table's state from a URL query. */
export function readState(search) {
  const states = (search.get("state") || "").split(",").filter((s) => fmt.VM_STATES.includes(s));
  const pageSize = Number(search.get("page_size"));
  const page = Number(search.get("p"));
  return {
    q: search.get("q") || "",
    cluster: search.get("cluster") || "",
    host: search.get("host") || "",
    state: states,
    sort: search.get("sort") || DEFAULT_SORT,
    order: search.get("order") === "desc" ? "desc" : "asc",
    pageSize: PAGE_SIZES.includes(pageSize) ? pageSize : DEFAULT_PAGE_SIZE,
    token: search.get("page_token") || "",
    page: Number.isInteger(page) && page > 0 ? page : 1,
  };
}

/** Writes the table's state to a URL query (defaults left out). */
export function writeState(state) {
  return toQuery({
    q: state.q,
    cluster: state.cluster,
    host: state.host,
    state: state.state.length ? state.state.join(",") : "",
    sort: state.sort !== DEFAULT_SORT ? state.sort : "",
    order: state.order !== "asc" ? state.order : "",
    page_size: state.pageSize !== DEFAULT_PAGE_SIZE ? state.pageSize : "",
    page_token: state.token,
    p: state.token ? state.page : "",
  });
}

/** A key for "the same result set" (everything but the page). */
export function listKey(state) {
  return JSON.stringify([state.q, state.cluster, state.host, state.state, state.sort, state.order, state.pageSize]);
}

/** Whether `vm` belongs in the result set of `state` (with the page's `fixed` host or cluster). */
export function matches(vm, state, fixed) {
  if (fixed.host && vm.host !== fixed.host) return false;
  if (fixed.cluster && vm.cluster !== fixed.cluster) return false;
  if (state.host && vm.host !== state.host) return false;
  if (state.cluster === "-" && vm.cluster) return false;
  if (state.cluster && state.cluster !== "-" && vm.cluster !== state.cluster) return false;
  if (state.state.length && !state.state.includes(vm.state)) return false;
  if (state.q && !vm.name.toLowerCase().includes(state.q.toLowerCase())) return false;
  return true;
}
