// Transient messages in the corner (an aria-live region): the result of an action, a
// connection change. Issue 4 sends "your job finished" here.

import { h, icon } from "../dom.js";

const region = () => document.getElementById("toasts");

/** Shows a toast; tone: ok, bad, warn, info. Returns a function that dismisses it. */
export function toast({ tone = "info", title, body = null, timeout = 6000, action = null }) {
  const container = region();
  if (!container) return () => {};
  const node = h(
    "div",
    { class: ["toast", `tone-${tone}`], role: tone === "bad" ? "alert" : "status" },
    h("div", { class: "toast-body" }, h("p", { class: "toast-title" }, title), body ? h("p", { class: "toast-text" }, body) : null, action),
    h("button", { type: "button", class: "icon-button toast-close", "aria-label": "Dismiss", on: { click: () => dismiss() } }, icon("close", 14)),
  );
  let timer = null;
  const dismiss = () => {
    clearTimeout(timer);
    node.remove();
  };
  container.append(node);
  while (container.children.length > 4) container.firstElementChild.remove();
  if (timeout) {
    timer = setTimeout(dismiss, timeout);
    node.addEventListener("mouseenter", () => clearTimeout(timer));
    node.addEventListener("focusin", () => clearTimeout(timer));
    node.addEventListener("mouseleave", () => (timer = setTimeout(dismiss, timeout)));
  }
  return dismiss;
}
