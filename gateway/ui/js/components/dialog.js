// Modal dialogs on the native <dialog> element (focus trapped by the browser, Escape
// cancels, focus returns to the opener). `confirm` asks before a destructive action;
// `open` shows any content (issue 4's forms mount into it).

import { h } from "../dom.js";

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
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (opener && typeof opener.focus === "function" && document.contains(opener)) opener.focus();
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
