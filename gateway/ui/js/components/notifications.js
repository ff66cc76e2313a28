// The notifications bell in the top bar: the unread count on the bell, and a panel with the
// latest notifications (mark read, mark all read, delete, links to the job, host or VM they
// are about). Loads GET /api/v1/notifications, then follows the `notifications` topic from
// the list's cursor; every event carries the unread total, which the bell shows.

import { get, post, del, segment, describeError } from "../api.js";
import { h, svg, replace, icon } from "../dom.js";
import { ageText } from "./common.js";
import { toast } from "./toast.js";

const LIMIT = 50;
const LEVEL_TONES = { info: "info", success: "ok", warning: "warn", error: "bad" };
const LEVEL_LABELS = { info: "Information", success: "Success", warning: "Warning", error: "Error" };

function bellIcon() {
  return svg(
    "svg",
    { viewBox: "0 0 20 20", width: 18, height: 18, "aria-hidden": "true" },
    svg("path", { d: "M10 3a4.5 4.5 0 0 0-4.5 4.5v3L4 13.5h12l-1.5-3v-3A4.5 4.5 0 0 0 10 3zM8 15.5a2 2 0 0 0 4 0", fill: "none", stroke: "currentColor", "stroke-width": "1.6", "stroke-linejoin": "round" }),
  );
}

function relatedLink(related) {
  if (!related || !related.id) return null;
  switch (related.kind) {
    case "job":
    case "deployment":
      return { href: `/jobs/${segment(related.id)}`, label: "View the job" };
    case "host":
      return { href: `/hosts/${segment(related.id)}`, label: "Open the host" };
    case "vm":
      return { href: `/vms/${segment(related.id)}`, label: "Open the VM" };
    case "cluster":
      return { href: `/clusters/${segment(related.id)}`, label: "Open the cluster" };
    default:
      return null;
  }
}

export class NotificationCenter {
  constructor({ live, slot }) {
    this.live = live;
    this.items = [];
    this.unread = 0;
    this.total = 0;
    this.loaded = false;
    this.subscription = null;
    this.error = null;
    this.count = h("span", { class: "bell-count", "aria-hidden": "true", hidden: true });
    this.button = h("button", { type: "button", class: "icon-button bell", id: "bell", "aria-expanded": "false", "aria-controls": "notifications-panel", "aria-label": "Notifications" }, bellIcon(), this.count);
    this.list = h("ul", { class: "notification-list" });
    this.markAll = h("button", { type: "button", class: "button button-quiet button-small", id: "notifications-read-all" }, "Mark all read");
    this.heading = h("h2", { id: "notifications-title", tabindex: "-1" }, "Notifications");
    this.panel = h(
      "section",
      { class: "notification-panel", id: "notifications-panel", "aria-labelledby": "notifications-title", hidden: true },
      h("header", { class: "notification-head" }, this.heading, this.markAll),
      this.list,
    );
    this.node = h("div", { class: "bell-wrap" }, this.button, this.panel);
    slot.append(this.node);
    this.button.addEventListener("click", () => this.toggle());
    this.markAll.addEventListener("click", () => this.readAll());
    document.addEventListener("click", (event) => {
      if (!this.panel.hidden && !this.node.contains(event.target)) this.close(false);
    });
    this.node.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.panel.hidden) {
        event.stopPropagation();
        this.close(true);
      }
    });
    this.panel.addEventListener("click", (event) => {
      if (event.target.closest("a[href]")) this.close(false);
    });
  }

  /** Loads the list and subscribes (once); later calls reload the list. */
  async load() {
    try {
      const answer = await get("/notifications", { params: { limit: LIMIT } });
      this.items = answer.notifications || [];
      this.unread = answer.unread_count;
      this.total = answer.total_count;
      this.loaded = true;
      this.error = null;
      if (!this.subscription) {
        this.subscription = this.live.topic(
          "notifications",
          { event: (frame) => this.apply(frame), resync: () => this.load() },
          answer.cursor ?? null,
        );
      }
    } catch (error) {
      this.error = error;
      if (!error.diagnostic) setTimeout(() => this.load(), 10000);
    }
    this.render();
  }

  apply(frame) {
    const data = frame.data || {};
    switch (frame.kind) {
      case "notification_created":
      case "notification_updated": {
        const item = data.notification;
        if (!item) break;
        this.items = [item, ...this.items.filter((held) => held.id !== item.id)]
          .sort((a, b) => Date.parse(b.updated_at) - Date.parse(a.updated_at))
          .slice(0, LIMIT);
        if (frame.kind === "notification_created") this.total += 1;
        break;
      }
      case "notification_deleted":
        if (this.items.some((held) => held.id === data.id)) this.total = Math.max(0, this.total - 1);
        this.items = this.items.filter((held) => held.id !== data.id);
        break;
      case "notifications_all_read":
        this.items = this.items.map((held) => ({ ...held, read: true }));
        break;
      default:
        break;
    }
    if (typeof data.unread_count === "number") this.unread = data.unread_count;
    this.render();
  }

  renderCount() {
    const text = this.unread > 99 ? "99+" : String(this.unread);
    this.count.textContent = text;
    this.count.hidden = !this.unread;
    this.button.dataset.unread = String(this.unread);
    this.button.setAttribute("aria-label", this.unread ? `Notifications, ${this.unread} unread` : "Notifications, none unread");
    this.button.title = this.unread ? `${this.unread} unread notifications` : "Notifications";
  }

  render() {
    this.renderCount();
    this.markAll.disabled = !this.unread;
    if (this.panel.hidden) return;
    if (this.error && !this.loaded) {
      replace(this.list, h("li", { class: "notification-empty" }, h("p", {}, "Could not load the notifications."), h("p", { class: "muted" }, describeError(this.error))));
      return;
    }
    if (!this.items.length) {
      replace(this.list, h("li", { class: "notification-empty muted" }, this.loaded ? "Nothing to report." : "Loading…"));
      return;
    }
    const focusedId = this.panel.contains(document.activeElement) ? document.activeElement.id : null;
    replace(this.list, this.items.map((item) => this.itemNode(item)));
    if (focusedId) (document.getElementById(focusedId) || this.heading).focus();
  }

  itemNode(item) {
    const tone = LEVEL_TONES[item.level] || "neutral";
    const link = relatedLink(item.related);
    const titleId = `notification-${item.id}-title`;
    return h(
      "li",
      { class: ["notification", item.read ? "is-read" : "is-unread"], dataset: { id: item.id, level: item.level }, "aria-labelledby": titleId },
      h("span", { class: ["dot", `tone-${tone}`], role: "img", "aria-label": LEVEL_LABELS[item.level] || item.level }),
      h(
        "div",
        { class: "notification-body" },
        h("p", { class: "notification-title", id: titleId }, item.read ? null : h("span", { class: "visually-hidden" }, "Unread: "), item.title),
        item.message ? h("p", { class: "notification-message" }, item.message) : null,
        h(
          "p",
          { class: "notification-meta muted" },
          ageText(item.updated_at),
          // A job's notification is updated as the job moves on: those are not repeats.
          item.occurrences > 1 && item.category !== "job" && item.category !== "deployment" ? ` · ${item.occurrences} times` : "",
          link ? [" · ", h("a", { href: link.href, on: { click: () => !item.read && this.read(item) } }, link.label)] : null,
        ),
      ),
      h(
        "div",
        { class: "notification-actions" },
        item.read
          ? null
          : h("button", { type: "button", class: "icon-button small", id: `notification-${item.id}-read`, "aria-label": `Mark read: ${item.title}`, title: "Mark read", on: { click: () => this.read(item) } }, svg("svg", { viewBox: "0 0 20 20", width: 14, height: 14, "aria-hidden": "true" }, svg("path", { d: "M4 10.5l4 4 8-9", fill: "none", stroke: "currentColor", "stroke-width": "1.8", "stroke-linecap": "round", "stroke-linejoin": "round" }))),
        h("button", { type: "button", class: "icon-button small", id: `notification-${item.id}-delete`, "aria-label": `Delete: ${item.title}`, title: "Delete", on: { click: () => this.remove(item) } }, icon("close", 14)),
      ),
    );
  }

  async read(item) {
    try {
      const answer = await post(`/notifications/${segment(item.id)}/read`);
      this.items = this.items.map((held) => (held.id === item.id ? answer.notification || { ...held, read: true } : held));
      this.unread = answer.unread_count;
      this.render();
    } catch (error) {
      toast({ tone: "bad", title: "Could not mark the notification read", body: describeError(error) });
    }
  }

  async remove(item) {
    try {
      const answer = await del(`/notifications/${segment(item.id)}`);
      this.items = this.items.filter((held) => held.id !== item.id);
      this.unread = answer.unread_count;
      this.render();
      if (!this.panel.contains(document.activeElement)) this.heading.focus();
    } catch (error) {
      toast({ tone: "bad", title: "Could not delete the notification", body: describeError(error) });
    }
  }

  async readAll() {
    try {
      const answer = await post("/notifications/read-all");
      this.items = this.items.map((held) => ({ ...held, read: true }));
      this.unread = answer.unread_count;
      this.render();
      this.heading.focus();
    } catch (error) {
      toast({ tone: "bad", title: "Could not mark the notifications read", body: describeError(error) });
    }
  }

  toggle() {
    if (this.panel.hidden) this.open();
    else this.close(true);
  }

  open() {
    this.panel.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    this.render();
    this.heading.focus();
  }

  close(returnFocus) {
    this.panel.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
    if (returnFocus) this.button.focus();
  }
}
