// The verifier page: paste or scan a card token; the server checks signature and age.
"use strict";
const $ = (id) => document.getElementById(id);
let last = null;

function render() {
  if (!last) return;
  $("result").hidden = false;
  $("result").className = "result " + (last.valid ? "ok" : "bad");
  const why = last.reason_code ? t("why_" + last.reason_code) : last.reason;
  $("verdict").textContent = last.valid ? t("valid") : t("invalid", { r: why });
  $("age").textContent = last.age_seconds === null ? "" : t("age", { s: Math.round(last.age_seconds) });
  $("vcard").hidden = !last.card;
  if (last.card) {
    $("v-masked").textContent = last.card.masked_msisdn;
    const chip = $("v-colour");
    chip.textContent = t(last.card.colour);
    chip.className = "chip " + last.card.colour;
    const names = last.card.places.map((p) => p.name + (p.star ? "*" : ""))
      .concat(last.card.countries.map((c) => c.name));
    $("v-places").textContent = names.join("，") || "—";
    $("v-policy").textContent = last.card.policy_version;
  }
}

async function verify(ev) {
  if (ev) ev.preventDefault();
  const token = $("token-in").value.trim();
  if (!token) return;
  const r = await api("/api/verify", { method: "POST", body: { token } });
  last = r.ok ? r.data : { valid: false, reason: (r.data && r.data.detail) || t("network"), age_seconds: null, card: null };
  render();
}

document.addEventListener("DOMContentLoaded", () => {
  $("verify-form").addEventListener("submit", verify);
  document.addEventListener("langchange", render);
  // A scanner app may open /verify#<token>.
  if (location.hash.length > 20) { $("token-in").value = decodeURIComponent(location.hash.slice(1)); verify(); }
});
