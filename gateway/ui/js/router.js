// Client-side routing over the History API. The gateway answers every UI path with
// index.html, so deep links (`/vms/{id}`, `/hosts/{name}`, `/clusters/{name}`) load the
// app, which then mounts the view for the path. A view module exports
//   mount(container, {params, query, ctx}) → {unmount(), update?(query), title?}
// Navigating to the same route with a different query calls `update` (the VM table keeps
// its state in the URL: search, filters, sort, page); anything else remounts. Links are
// plain <a href> elements: clicks are intercepted, modified clicks open new tabs as usual.

export class Router extends EventTarget {
  constructor(container, routes, ctx) {
    super();
    this.container = container;
    this.routes = routes;
    this.ctx = ctx;
    this.current = null;
    window.addEventListener("popstate", () => this.resolve({ fromHistory: true }));
    document.addEventListener("click", (event) => this.intercept(event));
  }

  /** Navigates to `href` (push, or replace with {replace: true}). */
  navigate(href, { replace = false, focus = true } = {}) {
    const url = new URL(href, window.location.href);
    if (url.origin !== window.location.origin) {
      window.location.assign(url.href);
      return;
    }
    const next = url.pathname + url.search + url.hash;
    const now = window.location.pathname + window.location.search + window.location.hash;
    if (next !== now) {
      if (replace) window.history.replaceState({}, "", next);
      else window.history.pushState({}, "", next);
    }
    this.resolve({ focus });
  }

  intercept(event) {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const anchor = event.target.closest ? event.target.closest("a[href]") : null;
    if (!anchor || anchor.target || anchor.hasAttribute("download") || anchor.dataset.external !== undefined) return;
    const url = new URL(anchor.href, window.location.href);
    if (url.origin !== window.location.origin) return;
    if (url.pathname === "/docs" || url.pathname.startsWith("/docs/") || url.pathname.startsWith("/api/")) return;
    // An anchor on this page (`#unreachable`): the browser scrolls to it.
    if (url.hash && url.pathname === window.location.pathname && url.search === window.location.search) return;
    event.preventDefault();
    this.navigate(url.href);
  }

  match(pathname) {
    for (const route of this.routes) {
      const found = route.pattern.exec(pathname);
      if (found) {
        const params = (found.slice(1) || []).map((part) => safeDecode(part));
        return { route, params };
      }
    }
    return null;
  }

  resolve({ focus = true, fromHistory = false } = {}) {
    const { pathname, search } = window.location;
    const query = new URLSearchParams(search);
    const matched = this.match(pathname) || { route: this.routes[this.routes.length - 1], params: [pathname] };
    const key = matched.route.name + "|" + matched.params.join("|");
    // Only the hash moved (an in-page anchor): nothing to mount.
    if (this.current && this.current.key === key && this.current.search === search) return;
    if (this.current && this.current.key === key && this.current.view.update) {
      this.current.search = search;
      this.current.view.update(query, { fromHistory });
      this.emitRoute(matched);
      return;
    }
    if (this.current) {
      try {
        this.current.view.unmount?.();
      } catch (error) {
        console.warn("view unmount failed", error);
      }
    }
    this.container.replaceChildren();
    const view = matched.route.view.mount(this.container, { params: matched.params, query, ctx: this.ctx, router: this }) || {};
    this.current = { key, view, route: matched.route, search };
    window.scrollTo(0, 0);
    this.emitRoute(matched);
    if (focus && !fromHistory && document.activeElement !== this.ctx.searchInput) {
      this.container.focus({ preventScroll: true });
    }
  }

  emitRoute(matched) {
    this.dispatchEvent(new CustomEvent("route", { detail: { name: matched.route.name, params: matched.params } }));
  }
}

function safeDecode(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/** Sets the document title ("<what> · Aether-V"). */
export function setTitle(what) {
  document.title = what ? `${what} · Aether-V` : "Aether-V";
}
