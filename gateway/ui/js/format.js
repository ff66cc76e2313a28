// How values from the API are shown: sizes in binary units (Hyper-V's GB are GiB), counts
// with grouping, times in the browser's locale with the exact UTC time in a tooltip, ages
// relative to now, MAC addresses the way Hyper-V Manager prints them.

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** 8589934592 → "8 GiB"; 1.5 GiB → "1.5 GiB"; null → "—". */
export function bytes(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  let amount = Number(value);
  let unit = 0;
  while (amount >= 1024 && unit < UNITS.length - 1) {
    amount /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || amount >= 100 ? 0 : 1;
  const text = amount.toFixed(digits).replace(/\.0$/, "");
  return `${text} ${UNITS[unit]}`;
}

/** A count with the locale's grouping. */
export function count(value) {
  if (value === null || value === undefined) return "—";
  return integer.format(value);
}

/** `n thing`/`n things`. */
export function plural(value, one, many = `${one}s`) {
  return `${count(value)} ${value === 1 ? one : many}`;
}

/** A ratio as a whole percentage, "—" when the total is zero. */
export function percent(part, total) {
  if (!total) return "—";
  return `${Math.round((part / total) * 100)}%`;
}

/** 93784 → "1 d 2 h"; 3725 → "1 h 2 min"; 42 → "42 s". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400);
  const hrs = Math.floor((s % 86400) / 3600);
  const min = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d > 0) return hrs ? `${d} d ${hrs} h` : `${d} d`;
  if (hrs > 0) return min ? `${hrs} h ${min} min` : `${hrs} h`;
  if (min > 0) return sec && min < 10 ? `${min} min ${sec} s` : `${min} min`;
  return `${sec} s`;
}

/** A short duration in seconds with sensible precision: 0.7412 → "0.74 s". */
export function seconds(value) {
  if (value === null || value === undefined) return "—";
  if (value < 10) return `${value.toFixed(2)} s`;
  if (value < 120) return `${value.toFixed(1)} s`;
  return duration(value);
}

/** The age of an RFC 3339 time: "12 s ago", "3 min ago", "2 h 5 min ago". */
export function age(iso, now = Date.now()) {
  if (!iso) return "never";
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "—";
  const delta = (now - then) / 1000;
  if (delta < 5) return "just now";
  return `${duration(delta)} ago`;
}

/** An RFC 3339 time in the browser's locale and time zone. */
export function time(iso) {
  if (!iso) return "—";
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "—";
  return dateTime.format(new Date(then));
}

/** "00155D000001" → "00-15-5D-00-00-01". */
export function mac(value) {
  if (!value) return "—";
  const hex = value.replace(/[^0-9a-fA-F]/g, "").toUpperCase();
  if (hex.length !== 12) return value;
  return hex.match(/../g).join("-");
}

/** The host's short name: "hv-ams-c1-n01.corp.example" → "hv-ams-c1-n01". */
export function shortHost(name) {
  if (!name) return "—";
  const dot = name.indexOf(".");
  return dot > 0 && !/^\d+\.\d+\.\d+\.\d+$/.test(name) ? name.slice(0, dot) : name;
}

const STATE_LABELS = {
  running: "Running",
  off: "Off",
  saved: "Saved",
  paused: "Paused",
  starting: "Starting",
  stopping: "Stopping",
  saving: "Saving",
  pausing: "Pausing",
  resuming: "Resuming",
  resetting: "Resetting",
  other: "Other",
  creating: "Creating",
  deleting: "Deleting",
};

/** Every VM state, in the order the UI lists them. */
export const VM_STATES = Object.keys(STATE_LABELS);

/** The VM state's label. */
export function stateLabel(state) {
  return STATE_LABELS[state] || (state ? state[0].toUpperCase() + state.slice(1) : "Unknown");
}

/** The tone of a VM state (ok, neutral, violet, warn, info). */
export function stateTone(state) {
  switch (state) {
    case "running":
      return "ok";
    case "off":
      return "neutral";
    case "saved":
      return "violet";
    case "paused":
      return "warn";
    case "other":
      return "neutral";
    default:
      return "info"; // transitional states
  }
}

/** Whether a state is on its way to another one. */
export function transitional(state) {
  return ["starting", "stopping", "saving", "pausing", "resuming", "resetting", "creating", "deleting"].includes(state);
}

const HOST_LABELS = { reachable: "Reachable", unreachable: "Unreachable", unknown: "Unknown" };

/** The host status's label. */
export function hostStatusLabel(status) {
  return HOST_LABELS[status] || "Unknown";
}

/** The tone of a host status. */
export function hostStatusTone(status) {
  return status === "reachable" ? "ok" : status === "unreachable" ? "bad" : "neutral";
}

const OS_LABELS = { windows: "Windows", linux: "Linux", other: "Other", unknown: "Unknown" };

/** The OS family's label. */
export function osFamilyLabel(family) {
  return OS_LABELS[family] || "Unknown";
}
