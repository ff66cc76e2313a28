// Modal dialogs on the native <dialog> element (focus trapped by the browser, Escape
// cancels, focus returns to the opener). `confirm` asks before a destructive action;
// `open` shows any content; `formDialog` holds a form that stays open until its submit
// handler succeeds (errors are shown in it), for the VM page's changes.

import { h } from "../dom.js";
import { describeError } from "../api.js";

/**
 * Gives focus back to the control that opened a dialog; when a live update replaced it, to
 * its successor (same id or data-action), else to the page's main region.
 */
function restoreFocus(opener) {
  if (!opener || typeof opener.focus !== "function") return;
  if (document.contains(opener)) {
    opener.focus();
    return;
  }
  const successor = opener.id
    ? document.getElementById(opener.id)
    : opener.dataset?.action
      ? document.querySelector(`[data-action="${opener.dataset.action}"]`)
      : null;
  (successor || document.getElementById("main"))?.focus();
}

/**
 * Opens a modal with `title`, `body` nodes and `buttons` ([{label, value, tone, autofocus}]).
 * Resolves with the chosen button's value, or null when dismissed.
 */
export function open({ title, body = [], buttons = [], describedBy = true }) {
  return new Promise((resolve) => {
    const titleId = `dialog-title-${Math.random().toString(36).slice(2, 8)}`;
    const bodyId = `${titleId}-body`;
    const opener = document.activeElement;
    let result = null;
    const dialog = h(
      "dialog",
      { class: "dialog", "aria-labelledby": titleId, "aria-describedby": describedBy ? bodyId : null },
      h(
        "form",
        { method: "dialog", class: "dialog-form" },
        h("h2", { id: titleId, class: "dialog-title" }, title),
        h("div", { id: bodyId, class: "dialog-body" }, body),
        h(
          "div",
          { class: "dialog-buttons" },
          buttons.map((button) =>
            h(
              "button",
              {
                type: "submit",
                value: button.value,
                class: ["button", button.tone && `button-${button.tone}`],
                autofocus: button.autofocus || false,
                on: { click: () => (result = button.value) },
              },
              button.label,
            ),
          ),
        ),
      ),
    );
    // A link in the dialog leads to another page: the dialog goes with the page it was on.
    dialog.addEventListener("click", (event) => {
      if (event.target.closest && event.target.closest("a[href]")) dialog.close();
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      restoreFocus(opener);
      resolve(result);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** Asks to confirm an action; resolves true only when the operator confirms. */
export async function confirm({ title, message, detail = null, confirmLabel, tone = "danger" }) {
  const value = await open({
    title,
    body: [h("p", {}, message), detail ? h("p", { class: "muted" }, detail) : null],
    buttons: [
      { label: "Cancel", value: "cancel", autofocus: true },
      { label: confirmLabel, value: "confirm", tone },
    ],
  });
  return value === "confirm";
}

/**
 * A modal form. `body`: nodes (fields); `onSubmit()` runs on submit and resolves true to
 * close, false to stay open (it shows its own errors); a throw is shown in the dialog.
 * `wide` for forms with two columns. Resolves true when submitted, false when dismissed.
 */
export function formDialog({ title, intro = null, body = [], submitLabel, tone = "primary", onSubmit, wide = false }) {
  return new Promise((resolve) => {
    const titleId = `dialog-title-${Math.random().toString(36).slice(2, 8)}`;
    const opener = document.activeElement;
    let done = false;
    let busy = false;
    const failure = h("div", { class: "dialog-failure" });
    const submit = h("button", { type: "submit", class: ["button", `button-${tone}`] }, submitLabel);
    const cancel = h("button", { type: "button", class: "button" }, "Cancel");
    const form = h(
      "form",
      { class: "dialog-form", novalidate: true },
      h("h2", { id: titleId, class: "dialog-title" }, title),
      intro ? h("div", { class: "dialog-intro" }, intro) : null,
      h("div", { class: "dialog-body" }, body),
      failure,
      h("div", { class: "dialog-buttons" }, cancel, submit),
    );
    const dialog = h("dialog", { class: ["dialog", wide && "dialog-wide"], "aria-labelledby": titleId }, form);
    const close = () => {
      if (dialog.open) dialog.close();
    };
    cancel.addEventListener("click", close);
    dialog.addEventListener("cancel", (event) => {
      if (busy) event.preventDefault();
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (busy) return;
      busy = true;
      submit.disabled = true;
      failure.replaceChildren();
      try {
        if (await onSubmit()) {
          done = true;
          close();
        }
      } catch (error) {
        failure.replaceChildren(
          h("div", { class: "alert tone-bad", role: "alert" }, h("div", { class: "alert-body" }, h("p", { class: "alert-title" }, "Not done"), h("p", {}, describeError(error)))),
        );
      } finally {
        busy = false;
        submit.disabled = false;
      }
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      restoreFocus(opener);
      resolve(done);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
