// The page: sign-in with a token (sessionStorage only), the three views, and the
// keyboard: 1 / 2 / 3 switch views, / focuses the words filter, space pauses the tail,
// c clears it, Esc closes the entry details.

import { ApiError, call, clearToken, setToken, token, whenUnauthorized } from "./api.js";
import { History } from "./history.js";
import { LiveTail } from "./tail.js";
import { Overview } from "./overview.js";

const $ = (id) => document.getElementById(id);
const VIEWS = ["tail", "history", "overview"];
let views = null;
let current = null;

/** The view's filters go into the URL's hash (#history?app=x&field.user=bo): a reload or a
 * shared link opens the same view; the token never does (sessionStorage only). */
function setUrl(name, query) {
  if (name !== current) return;
  const hash = query ? `#${name}?${query}` : `#${name}`;
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

function show(name) {
  current = name;
  $("view-signin").hidden = name !== "signin";
  for (const v of VIEWS) {
    $(`view-${v}`).hidden = v !== name;
    $(`tab-${v}`).setAttribute("aria-selected", String(v === name));
    $(`tab-${v}`).tabIndex = v === name ? 0 : -1;
  }
  if (views && views[name]) views[name].shown();
  if (VIEWS.includes(name)) setUrl(name, views && views[name] ? views[name].bar.toQuery() : "");
}

async function describeToken() {
  // Field values list exactly the namespaces this token may read.
  const p = new URLSearchParams([["field", "namespace"], ["since", "30d"]]);
  const body = await call("/fields", p);
  const names = body.fields.namespace.map((v) => v.value);
  return names.length ? `namespaces: ${names.slice(0, 5).join(", ")}${names.length > 5 ? ", …" : ""}` : "no namespaces with logs yet";
}

async function enter() {
  $("tabs").hidden = false;
  $("signout").hidden = false;
  if (!views) {
    const history = new History({ onQuery: (q) => setUrl("history", q) });
    const toTrace = (id, ts) => { show("history"); history.openTrace(id, ts); };
    views = {
      tail: new LiveTail({ onTrace: toTrace, onQuery: (q) => setUrl("tail", q) }),
      history,
      overview: new Overview((values) => { show("history"); history.apply(values); }, { onQuery: (q) => setUrl("overview", q) }),
    };
  }
  const [wanted, query] = location.hash.slice(1).split(/\?(.*)/s);
  if (VIEWS.includes(wanted) && query) views[wanted].bar.fromQuery(query);
  show(VIEWS.includes(wanted) ? wanted : "tail");
  // `/?follow` (the link `make up` prints) starts the live tail right after sign-in.
  if (new URLSearchParams(location.search).has("follow") && !VIEWS.includes(wanted)) {
    views.tail.start();
  }
  describeToken().then((t) => { $("whoami").textContent = t; }, () => {});
}

function signOut(message = "") {
  clearToken();
  if (views) views.tail.stop();
  // A fresh page: nothing read with the old token stays on screen.
  if (views) { location.hash = ""; location.reload(); return; }
  $("tabs").hidden = true;
  $("signout").hidden = true;
  $("whoami").textContent = "";
  $("signin-error").textContent = message;
  show("signin");
  $("token").focus();
}

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const value = $("token").value.trim();
  if (!value) return;
  setToken(value);
  $("signin-error").textContent = "";
  try {
    await call("/fields", new URLSearchParams([["field", "namespace"], ["since", "1h"]]));
  } catch (err) {
    clearToken();
    $("signin-error").textContent = err instanceof ApiError && err.status === 401
      ? "This token is not accepted. Check it, or ask for a new one."
      : err.message;
    return;
  }
  $("token").value = "";
  enter();
});

$("signout").addEventListener("click", () => signOut());
whenUnauthorized((msg) => { if (current !== "signin") signOut(`Signed out: ${msg}`); });
for (const v of VIEWS) $(`tab-${v}`).addEventListener("click", () => show(v));

$("tabs").addEventListener("keydown", (ev) => {
  if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft") return;
  const i = VIEWS.indexOf(current);
  const next = VIEWS[(i + (ev.key === "ArrowRight" ? 1 : VIEWS.length - 1)) % VIEWS.length];
  show(next);
  $(`tab-${next}`).focus();
});

document.addEventListener("keydown", (ev) => {
  if (!views || current === "signin" || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const typing = ev.target.closest("input, select, textarea");
  if (ev.key === "Escape") { views.history.closeDetail(); if (typing) ev.target.blur(); return; }
  if (typing) return;
  if (["1", "2", "3"].includes(ev.key)) { show(VIEWS[Number(ev.key) - 1]); ev.preventDefault(); }
  else if (ev.key === "/") { views[current].bar.focusWords(); ev.preventDefault(); }
  else if (current === "tail" && ev.key === " " && !ev.target.closest("button")) { views.tail.toggle(); ev.preventDefault(); }
  else if (current === "tail" && ev.key === "c") views.tail.clear();
});

if (token()) enter(); else show("signin");
