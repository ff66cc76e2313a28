// The REST client: same-origin fetches under /api/v1 (GET, POST, PATCH, DELETE), errors
// turned into ApiError with the gateway's {"error":{code,message,details}} (or a network
// error), and the gateway's mode (the X-AetherV-Mode header; 503 with details.reasons in
// diagnostic mode) reported once through `onMode`. Mutations answer 202 with a job.

const BASE = "/api/v1";

/** An error from the API, or from the network on the way to it. */
export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.name = "ApiError";
    /** HTTP status; 0 when the gateway did not answer. */
    this.status = status;
    /** The gateway's error code (`NOT_FOUND`, `UNAVAILABLE`…) or `NETWORK`. */
    this.code = code;
    /** The error's details object (parameter, dependency, vm_state, reasons…). */
    this.details = details || {};
  }

  /** The gateway runs in diagnostic mode (no API until its configuration is fixed). */
  get diagnostic() {
    return this.status === 503 && Array.isArray(this.details.reasons);
  }
}

const modeListeners = new Set();
let mode = null;

/** Calls `listener("development" | "production" | "diagnostic", reasons)` when the mode is learned. */
export function onMode(listener) {
  modeListeners.add(listener);
  if (mode) listener(mode.name, mode.reasons);
  return () => modeListeners.delete(listener);
}

function learnMode(name, reasons = []) {
  if (mode && mode.name === name) return;
  mode = { name, reasons };
  for (const listener of modeListeners) listener(name, reasons);
}

/** `{a: 1, b: "", c: null}` → "?a=1" (empty values left out). */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    search.set(key, Array.isArray(value) ? value.join(",") : String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

async function request(method, path, { params, body, signal, headers = {} } = {}) {
  const url = `${BASE}${path}${query(params)}`;
  const init = { method, signal, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    if (error && error.name === "AbortError") throw error;
    throw new ApiError(0, "NETWORK", "the gateway did not answer (network error)");
  }
  const headerMode = response.headers.get("X-AetherV-Mode");
  if (headerMode === "development") learnMode("development");
  let payload = null;
  const text = await response.text();
  if (text) {
    try {
      payload = JSON.parse(text);
    } catch {
      payload = null;
    }
  }
  if (!response.ok) {
    const error = payload && payload.error;
    const failure = error
      ? new ApiError(response.status, error.code, error.message, error.details)
      : new ApiError(response.status, "HTTP_" + response.status, `the gateway answered ${response.status} ${response.statusText}`);
    if (failure.diagnostic) learnMode("diagnostic", failure.details.reasons);
    throw failure;
  }
  if (!headerMode) learnMode("production");
  return payload;
}

/** GET `path` under /api/v1 with query `params`. */
export function get(path, options = {}) {
  return request("GET", path, options);
}

/** POST `body` (JSON) to `path` under /api/v1. */
export function post(path, body = {}, options = {}) {
  return request("POST", path, { ...options, body });
}

/** PATCH `body` (JSON) to `path` under /api/v1. */
export function patch(path, body = {}, options = {}) {
  return request("PATCH", path, { ...options, body });
}

/** DELETE `path` under /api/v1 (query `params`). */
export function del(path, options = {}) {
  return request("DELETE", path, options);
}

/** A fresh `Idempotency-Key` header: a double-submitted mutation creates one job. */
export function idempotent() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return { "Idempotency-Key": "ui-" + [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("") };
}

/** The violations of a refused job spec (422, or a 409/404 pre-check), else []. */
export function violations(error) {
  return error instanceof ApiError && Array.isArray(error.details?.violations) ? error.details.violations : [];
}

/** GET /readyz: the gateway's readiness and each service's health (200 or 503, same body). */
export async function readiness({ signal } = {}) {
  let response;
  try {
    response = await fetch("/readyz", { signal, headers: { Accept: "application/json" } });
  } catch (error) {
    if (error && error.name === "AbortError") throw error;
    throw new ApiError(0, "NETWORK", "the gateway did not answer (network error)");
  }
  try {
    return await response.json();
  } catch {
    throw new ApiError(response.status, "HTTP_" + response.status, `/readyz answered ${response.status} without a readable body`);
  }
}

/** Path segment encoding for ids and names. */
export function segment(value) {
  return encodeURIComponent(value);
}

/** One line that says what went wrong, for an operator. */
export function describeError(error) {
  if (!(error instanceof ApiError)) return error && error.message ? error.message : String(error);
  const details = error.details || {};
  if (error.code === "NETWORK") return "The gateway is not answering. Check that it is running; the page retries when you reload or navigate.";
  if (details.dependency && (error.status === 503 || error.status === 504)) {
    const service = String(details.dependency).replace(/_/g, "-");
    return error.status === 504 ? `The ${service} service did not answer in time.` : `The ${service} service is not answering.`;
  }
  return error.message ? error.message[0].toUpperCase() + error.message.slice(1) : `Request failed (${error.status})`;
}
