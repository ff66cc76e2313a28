// The theme toggle: follow the system (default), light, or dark; the choice is saved in
// localStorage and applied before the first paint by theme-boot.js.

const KEY = "aetherv.theme";
const ORDER = ["system", "light", "dark"];
const LABELS = { system: "Theme: follow the system", light: "Theme: light", dark: "Theme: dark" };

function saved() {
  try {
    const value = window.localStorage.getItem(KEY);
    return ORDER.includes(value) ? value : "system";
  } catch {
    return "system";
  }
}

function apply(choice) {
  if (choice === "system") document.documentElement.removeAttribute("data-theme");
  else document.documentElement.setAttribute("data-theme", choice);
}

/** Wires the toggle button. */
export function setupTheme(button) {
  let choice = saved();
  const show = () => {
    button.setAttribute("aria-label", `${LABELS[choice]} (click to change)`);
    button.title = LABELS[choice];
    button.dataset.theme = choice;
  };
  apply(choice);
  show();
  button.addEventListener("click", () => {
    choice = ORDER[(ORDER.indexOf(choice) + 1) % ORDER.length];
    try {
      if (choice === "system") window.localStorage.removeItem(KEY);
      else window.localStorage.setItem(KEY, choice);
    } catch {
      // Storage disabled: the choice lasts for this page.
    }
    apply(choice);
    show();
  });
}
