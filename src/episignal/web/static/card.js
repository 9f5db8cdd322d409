// The card page: number → SMS code → consent → card (with a live clock and a fresh QR token).
"use strict";
let consentVersion = null;
let consent = null;
let card = null;
let qrUrl = null;
let cooldownTimer = null;

const $ = (id) => document.getElementById(id);
const TZ = "Asia/Shanghai";

function localTime(iso, withDate) {
  const d = new Date(iso);
  const opts = { timeZone: TZ, hour12: false, hour: "2-digit", minute: "2-digit", second: "2-digit" };
  if (withDate) Object.assign(opts, { year: "numeric", month: "2-digit", day: "2-digit" });
  return new Intl.DateTimeFormat("zh-CN", opts).format(d).replaceAll("/", ".");
}

function show(section) {
  $("login").hidden = section !== "login";
  $("card").hidden = section !== "card";
}

function message(id, text) { $(id).textContent = text || ""; }

async function loadConsent() {
  const r = await api("/api/consent");
  if (r.ok) { consent = r.data; consentVersion = r.data.version; renderConsent(); }
}

function renderConsent() {
  if (consent) $("consent-text").textContent = LANG === "en" ? consent.en : consent.zh;
}

function startCooldown(seconds) {
  const btn = $("send-code");
  let left = seconds;
  btn.disabled = true;
  clearInterval(cooldownTimer);
  const tick = () => {
    btn.textContent = t("resend", { s: left });
    if (left-- <= 0) { clearInterval(cooldownTimer); btn.disabled = false; btn.textContent = t("send_code"); }
  };
  tick();
  cooldownTimer = setInterval(tick, 1000);
}

async function sendCode() {
  const msisdn = $("msisdn").value.trim();
  if (!/^[+0-9 ()\-.]{8,20}$/.test(msisdn)) return message("login-msg", t("bad_phone"));
  const r = await api("/api/otp", { method: "POST", body: { msisdn } });
  if (r.ok) { message("login-msg", t("code_sent")); startCooldown(r.data.resend_after_s); }
  else {
    message("login-msg", (r.data && r.data.detail) || t("network"));
    const wait = parseInt(r.response.headers.get("retry-after") || "0", 10);
    if (r.status === 429 && wait > 0 && wait <= 120) startCooldown(wait);
  }
}

async function signIn(ev) {
  ev.preventDefault();
  const msisdn = $("msisdn").value.trim();
  const code = $("code").value.trim();
  if (!/^[+0-9 ()\-.]{8,20}$/.test(msisdn)) return message("login-msg", t("bad_phone"));
  if (!/^\d{6}$/.test(code)) return message("login-msg", t("bad_code"));
  if (!$("consent").checked) return message("login-msg", t("need_consent"));
  const r = await api("/api/session", {
    method: "POST", body: { msisdn, code, consent_version: consentVersion },
  });
  if (!r.ok) {
    if (r.status === 409) await loadConsent();
    return message("login-msg", (r.data && r.data.detail) || t("network"));
  }
  message("login-msg", "");
  await loadCard();
}

function placeLabel(p) {
  const name = LANG === "en" ? p.name_en : p.name;
  if (!p.star) return document.createTextNode(name);
  const span = document.createElement("span");
  switch (card.risk_marker) {
    case "star": span.textContent = name + "*"; span.className = "starred"; break;
    case "red": span.textContent = name; span.className = "risk-red"; break;
    case "note": span.textContent = name + t("note_marker"); break;
    default: span.textContent = name;
  }
  return span;
}

function renderCard() {
  if (!card) return;
  $("masked").textContent = card.masked_msisdn;
  $("updated").textContent = card.updated_at ? localTime(card.updated_at, true) : "—";
  const colour = $("colour");
  colour.className = "colour " + card.colour;
  colour.querySelector(".dot").textContent = card.colour === "green" ? "✓" : "!";
  $("colour-meaning").textContent = LANG === "en" ? card.colour_meaning.en : card.colour_meaning.zh;
  $("lead").textContent = t("lead", { d: card.window_days });
  const places = $("places");
  places.replaceChildren();
  const all = card.places.map(placeLabel).concat(
    card.countries.map((c) => document.createTextNode(LANG === "en" ? c.name_en : c.name)));
  all.forEach((node, i) => {
    if (i) places.appendChild(document.createTextNode(LANG === "en" ? " · " : "，"));
    places.appendChild(node);
  });
  $("lead").hidden = !card.has_data;
  places.hidden = !card.has_data;
  $("no-data").hidden = card.has_data;
  $("star-note").hidden = !(card.risk_marker === "star" && card.places.some((p) => p.star));
  $("scope-note").textContent = t("scope", { d: card.window_days, h: card.min_stay_hours });
  $("token").value = card.qr_token;
  $("qr-exp").textContent = localTime(card.qr_expires_at, false);
}

async function renderQr() {
  const r = await fetch("/api/qr", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: JSON.stringify({ token: card.qr_token }),
  });
  if (!r.ok) return;
  const blob = await r.blob();
  if (qrUrl) URL.revokeObjectURL(qrUrl);
  qrUrl = URL.createObjectURL(blob);
  $("qr").src = qrUrl;
}

async function loadCard() {
  const r = await api("/api/card");
  if (r.status === 401) { show("login"); return false; }
  if (!r.ok) { show("card"); message("card-msg", (r.data && r.data.detail) || t("network")); return false; }
  card = r.data;
  show("card");
  renderCard();
  await renderQr();
  return true;
}

function tickClock() {
  const el = $("clock");
  if (el) el.textContent = localTime(new Date().toISOString(), true);
}

async function logout() {
  await api("/api/logout", { method: "POST" });
  card = null;
  show("login");
}

document.addEventListener("DOMContentLoaded", async () => {
  $("send-code").addEventListener("click", sendCode);
  $("login-form").addEventListener("submit", signIn);
  $("logout").addEventListener("click", logout);
  document.addEventListener("langchange", () => { renderConsent(); renderCard(); });
  tickClock();
  setInterval(tickClock, 1000);
  // A token lives a few minutes: fetch a fresh card (and QR) before it expires.
  setInterval(() => { if (card) loadCard(); }, 120000);
  await loadConsent();
  await loadCard();
});
