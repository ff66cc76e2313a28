// The VM table (`/vms`): every VM in the fleet, searched, filtered, sorted and paged on the
// server; the URL holds the query. Rows can be selected for bulk power actions; "New VM"
// opens the provisioning form.

import { h, replace } from "../dom.js";
import { setTitle } from "../router.js";
import { pageHeader } from "../components/common.js";
import { vmTable } from "../components/vmtable.js";

export function mount(container, { query, ctx, router }) {
  setTitle("Virtual machines");
  const table = vmTable({ ctx, router, search: query, label: "Virtual machines" });
  replace(container, h("div", { class: "vms-page" }, pageHeader({ crumbs: [["Overview", "/"], ["Virtual machines", null]], title: "Virtual machines", actions: h("a", { class: "button button-primary", href: "/vms/new", id: "new-vm" }, "New VM") }), table.node));
  return {
    update: (search) => table.update(search),
    unmount: () => table.unmount(),
  };
}
