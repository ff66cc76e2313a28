// Applies the operator's saved theme choice (light, dark, or the system's) before the
// first paint, so a dark-mode operator never sees a white flash. theme.js owns the toggle.
(function () {
  try {
    var choice = window.localStorage.getItem("aetherv.theme");
    if (choice === "light" || choice === "dark") {
      document.documentElement.setAttribute("data-theme", choice);
    }
  } catch (error) {
    // Storage may be disabled; the system's theme applies.
  }
})();
