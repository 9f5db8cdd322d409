// Chinese first, English on request; the choice is kept on this device only.
"use strict";
const I18N = {
  zh: {
    title: "通信大数据行程卡", subtitle: "疫情防控，人人有责", phone: "手机号码",
    phone_ph: "请输入手机号码", code: "验证码", code_ph: "请输入验证码", send_code: "获取验证码",
    resend: "重新发送({s}s)", query: "查询", owner_suffix: "的动态行程卡", updated: "更新于：",
    now: "当前时间", lead: "您于前{d}天内到达或途经：", no_data: "抱歉，没有找到您的行程数据",
    star_note: "注：*表示当前该城市存在中风险或高风险地区，并不表示用户实际到访过这些中高风险地区。",
    scope: "结果包含您在前{d}天内到访的国家（地区）与停留{h}小时以上的国内城市",
    note_marker: "（含中高风险地区）", qr_caption: "出示二维码供核验", qr_valid: "有效期至",
    to_verify: "核验他人行程卡", logout: "退出", footer: "本服务由电信运营商提供，仅用于疫情防控",
    need_consent: "请先阅读并勾选授权同意", bad_phone: "请输入正确的手机号码",
    bad_code: "请输入6位验证码", code_sent: "验证码已发送", verify_title: "行程卡核验",
    paste: "扫描或粘贴行程卡二维码内容", verify: "核验", valid: "✓ 有效的行程卡",
    invalid: "✗ 无效：{r}", age: "签发于 {s} 秒前", policy: "政策版本",
    offline: "核验公钥公开于 /.well-known/episignal-card-key，可离线核验。",
    to_card: "查询本人行程卡", green: "绿色", yellow: "黄色", orange: "橙色", red: "红色",
    network: "网络异常，请稍后再试",
    why_expired: "二维码已过期，请对方刷新行程卡", why_altered: "签名不符，内容已被篡改",
    why_unknown_key: "非本服务签发", why_future: "签发时间异常", why_too_long: "不是行程卡二维码",
    why_not_a_card: "不是行程卡二维码", why_malformed: "不是行程卡二维码",
  },
  en: {
    title: "Itinerary Card", subtitle: "Epidemic prevention is everyone's duty",
    phone: "Mobile number", phone_ph: "Your mobile number", code: "SMS code",
    code_ph: "6-digit code", send_code: "Send code", resend: "Resend ({s}s)", query: "Look up",
    owner_suffix: "'s itinerary card", updated: "Updated: ", now: "Now",
    lead: "In the last {d} days you arrived in or passed through:",
    no_data: "Sorry, no itinerary data was found for you",
    star_note: "* The city currently contains a medium- or high-risk area; it does not mean you visited that area.",
    scope: "Includes countries (regions) visited in the last {d} days and cities in China where you stayed {h} hours or more",
    note_marker: " (has medium/high-risk areas)", qr_caption: "Show this QR code to be verified",
    qr_valid: "valid until", to_verify: "Verify someone's card", logout: "Sign out",
    footer: "Provided by your mobile carrier for epidemic prevention only",
    need_consent: "Please read and tick the consent first", bad_phone: "Enter a valid mobile number",
    bad_code: "Enter the 6-digit code", code_sent: "Code sent", verify_title: "Verify a card",
    paste: "Scan or paste the card's QR content", verify: "Verify", valid: "✓ Genuine card",
    invalid: "✗ Refused: {r}", age: "issued {s} s ago", policy: "Policy version",
    offline: "The verification key is published at /.well-known/episignal-card-key for offline checks.",
    to_card: "Look up my own card", green: "green", yellow: "yellow", orange: "orange", red: "red",
    network: "Network problem, please try again",
    why_expired: "the QR code has expired; ask for a refreshed card",
    why_altered: "signature does not match: the content was altered",
    why_unknown_key: "not issued by this service", why_future: "issue time is in the future",
    why_too_long: "not a card QR code", why_not_a_card: "not a card QR code",
    why_malformed: "not a card QR code",
  },
};
let LANG = localStorage.getItem("episignal-lang") === "en" ? "en" : "zh";
function t(key, vars) {
  let s = (I18N[LANG] && I18N[LANG][key]) || I18N.zh[key] || key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replace("{" + k + "}", v);
  return s;
}
function applyI18n() {
  document.documentElement.lang = LANG === "en" ? "en" : "zh-CN";
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  const btn = document.getElementById("lang");
  if (btn) btn.textContent = LANG === "en" ? "中文" : "EN";
  document.title = t(document.getElementById("verify-form") ? "verify_title" : "title");
  document.dispatchEvent(new Event("langchange"));
}
function csrfToken() {
  const m = document.cookie.match(/(?:^|; )es_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}
async function api(path, options) {
  const opts = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
  if (opts.body && typeof opts.body !== "string") {
    opts.body = JSON.stringify(opts.body);
    opts.headers["Content-Type"] = "application/json";
  }
  if (opts.method && opts.method !== "GET") opts.headers["X-CSRF-Token"] = csrfToken();
  const r = await fetch(path, opts);
  let data = null;
  const type = r.headers.get("content-type") || "";
  if (type.includes("application/json")) data = await r.json();
  return { ok: r.ok, status: r.status, data, response: r };
}
document.addEventListener("DOMContentLoaded", () => {
  const btn = document.getElementById("lang");
  if (btn) btn.addEventListener("click", () => {
    LANG = LANG === "en" ? "zh" : "en";
    localStorage.setItem("episignal-lang", LANG);
    applyI18n();
  });
  applyI18n();
});
