// Any path the UI does not know.

import { h, replace } from "../dom.js";
import { setTitle } from "../router.js";
import { pageHeader, alert } from "../components/common.js";

export function mount(container, { params }) {
  setTitle("Not found");
  replace(container, 
    pageHeader({ title: "Page not found" }),
    alert("warn", "Nothing lives at this address", h("p", { class: "mono" }, params[0] || window.location.pathname), h("p", {}, "Go to the ", h("a", { href: "/" }, "fleet overview"), " or the ", h("a", { href: "/vms" }, "list of VMs"), ".")),
  );
  return {};
}
