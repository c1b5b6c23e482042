// The Log API from the browser: the token (sessionStorage only), JSON calls with
// errors that say what to do, and a fetch()-based SSE reader. EventSource cannot send
// an Authorization header, and a header keeps the token out of access logs.

const KEY = "logpipe.token";
export const API = "/api/v1";

export function token() { return sessionStorage.getItem(KEY); }
export function setToken(t) { sessionStorage.setItem(KEY, t); }
export function clearToken() { sessionStorage.removeItem(KEY); }

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

let onUnauthorized = () => {};
export function whenUnauthorized(fn) { onUnauthorized = fn; }

function headers(extra = {}) {
  const h = { Accept: "application/json", ...extra };
  const t = token();
  if (t) h.Authorization = `Bearer ${t}`;
  return h;
}

async function failure(resp) {
  let msg = `${resp.status} ${resp.statusText}`;
  try {
    const body = await resp.json();
    if (body && typeof body.error === "string") msg = body.error;
  } catch { /* not JSON: keep the status line */ }
  if (resp.status === 401) onUnauthorized(msg);
  return new ApiError(resp.status, msg);
}

export async function call(path, params, { method = "GET", signal } = {}) {
  const qs = params ? `?${params}` : "";
  let resp;
  try {
    resp = await fetch(`${API}${path}${qs}`, { method, headers: headers(), signal });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "the Log API does not answer; check the network, or that the API is running");
  }
  if (!resp.ok) throw await failure(resp);
  return resp.status === 204 ? null : resp.json();
}

/**
 * A single-use link for a plain download (the browser streams the file to disk): the
 * API signs a ticket for exactly this path and query, good for about a minute. The
 * token never goes into a URL (URLs end up in access logs and the history).
 */
export async function ticketUrl(path, params) {
  const query = new URLSearchParams(params || "").toString();
  let resp;
  try {
    resp = await fetch(`${API}/tickets`, {
      method: "POST", headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify({ path, query }),
    });
  } catch {
    throw new ApiError(0, "the Log API does not answer; check the network, or that the API is running");
  }
  if (!resp.ok) throw await failure(resp);
  return (await resp.json()).url;
}

/** Fetch a ticket for path + params, then let the browser download it. */
export async function downloadLink(path, params) {
  const a = document.createElement("a");
  a.href = await ticketUrl(path, params);
  a.download = "";
  document.body.append(a);
  a.click();
  a.remove();
}

/**
 * Read a text/event-stream. Calls onEvent({event, data, id}) per event; resolves when the
 * server ends the stream, rejects on a network failure or an HTTP error (ApiError).
 */
export async function streamEvents(path, params, { lastEventId, signal, onOpen, onEvent }) {
  const extra = { Accept: "text/event-stream" };
  if (lastEventId) extra["Last-Event-ID"] = lastEventId;
  const resp = await fetch(`${API}${path}?${params}`, { headers: headers(extra), signal, cache: "no-store" });
  if (!resp.ok) throw await failure(resp);
  if (onOpen) onOpen();
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  let ev = { event: "", data: [], id: null };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(buf);
      if (!m) break;
      // A lone CR at the very end may be the first half of CRLF: wait for more bytes.
      if (m[0] === "\r" && m.index === buf.length - 1) break;
      const line = buf.slice(0, m.index);
      buf = buf.slice(m.index + m[0].length);
      if (line === "") {
        if (ev.data.length) onEvent({ event: ev.event || "message", data: ev.data.join("\n"), id: ev.id });
        ev = { event: "", data: [], id: null };
        continue;
      }
      if (line.startsWith(":")) continue; // heartbeat comment
      const c = line.indexOf(":");
      const field = c < 0 ? line : line.slice(0, c);
      let val = c < 0 ? "" : line.slice(c + 1);
      if (val.startsWith(" ")) val = val.slice(1);
      if (field === "event") ev.event = val;
      else if (field === "data") ev.data.push(val);
      else if (field === "id") ev.id = val;
    }
  }
}
