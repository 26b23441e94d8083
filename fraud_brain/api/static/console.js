// The agents' console: plain JS, no build step. The API key stays in this tab's sessionStorage
// and goes out as a bearer header (never in a URL), so the event stream is read with fetch().
"use strict";

const TEXT = {
  en: {
    title: "Anti-fraud agents' console", offline: "offline", online: "live", apiKey: "API key", signIn: "Sign in",
    queue: "Alert queue", showClosed: "show closed", case: "Case", victim: "Victim", tier: "Tier",
    typology: "Scam type", score: "Score", contact: "Contact", assignee: "Assignee", lastAlert: "Last alert",
    claim: "Claim", release: "Release", call: "Call victim", stopPayment: "Request stop-payment",
    prevented: "Prevented", victim_confirmed_scam: "Victim confirmed scam", false_alarm: "False alarm",
    unreachable: "Unreachable", note: "Note", recordOutcome: "Record outcome", reasons: "Why this case",
    alerts: "Calls and transfers", time: "Time", rule: "Rule", transfer: "Transfer", payee: "Payee",
    amount: "Amount", timeline: "Timeline", open: "open", closed: "closed", nobody: "nobody",
    claimed: "Case claimed.", released: "Case released.", dial: "Dial", stopQueued: "Stop-payment requested for transfer",
    outcomeSaved: "Outcome recorded; case", newAlerts: "new alert(s)", signedIn: "Signed in as",
    minute: "minute", hour: "hour", same_day: "same day",
  },
  zh: {
    title: "反诈坐席工作台", offline: "离线", online: "实时", apiKey: "API 密钥", signIn: "登录",
    queue: "预警队列", showClosed: "显示已结案", case: "案件", victim: "潜在受害人", tier: "响应级别",
    typology: "诈骗类型", score: "风险分", contact: "联系状态", assignee: "处理人", lastAlert: "最近预警",
    claim: "认领", release: "退回", call: "呼叫受害人", stopPayment: "申请紧急止付",
    prevented: "成功劝阻", victim_confirmed_scam: "受害人确认被骗", false_alarm: "误报",
    unreachable: "无法联系", note: "备注", recordOutcome: "记录处置结果", reasons: "预警原因",
    alerts: "通话与转账", time: "时间", rule: "规则", transfer: "转账", payee: "收款账户",
    amount: "金额", timeline: "处置时间线", open: "处理中", closed: "已结案", nobody: "无",
    claimed: "已认领案件。", released: "已退回案件。", dial: "拨打", stopQueued: "已申请止付，转账",
    outcomeSaved: "处置结果已记录；案件", newAlerts: "条新预警", signedIn: "当前用户",
    minute: "分钟级", hour: "小时级", same_day: "当日",
  },
};

const state = { lang: sessionStorage.getItem("lang") || "en", key: sessionStorage.getItem("apiKey") || "",
  selected: null, stream: null, known: new Set() };
const $ = (sel) => document.querySelector(sel);
const t = (word) => (TEXT[state.lang][word] ?? word);

function say(text, isError = false) {
  const box = $("#message");
  box.textContent = text;
  box.className = isError ? "error" : "";
}

function translate() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  $("#lang").textContent = state.lang === "en" ? "中文" : "English";
  $("#live").textContent = t($("#live").classList.contains("on") ? "online" : "offline");
}

async function api(method, path, body) {
  const options = { method, headers: { Authorization: `Bearer ${state.key}` } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const reply = await fetch(path, options);
  const data = await reply.json().catch(() => ({}));
  if (!reply.ok) {
    throw new Error(`${reply.status}: ${data.detail ?? reply.statusText}`);
  }
  return data;
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  row.appendChild(td);
}

async function loadQueue() {
  const status = $("#show-closed").checked ? "all" : "open";
  const data = await api("GET", `/v1/cases?status=${status}&limit=200`);
  const body = $("#queue tbody");
  body.replaceChildren();
  for (const c of data.cases) {
    const row = document.createElement("tr");
    row.dataset.caseId = c.case_id;
    row.className = `tier-${c.tier}` + (state.known.has(c.case_id) ? "" : " fresh");
    if (state.selected === c.case_id) row.classList.add("selected");
    state.known.add(c.case_id);
    cell(row, c.case_id); cell(row, c.victim); cell(row, t(c.tier)); cell(row, c.typology ?? "");
    cell(row, c.max_score.toFixed(2)); cell(row, c.contact_state); cell(row, c.assignee ?? t("nobody"));
    cell(row, c.last_alert_at);
    row.addEventListener("click", () => openCase(c.case_id));
    body.appendChild(row);
  }
  $("#count").textContent = `(${data.cases.length})`;
}

async function openCase(caseId) {
  state.selected = caseId;
  const c = await api("GET", `/v1/cases/${caseId}`);
  $("#detail").hidden = false;
  $("#detail").dataset.caseId = caseId;
  $("#d-id").textContent = c.case_id;
  $("#d-victim").textContent = c.victim;
  $("#d-status").textContent = t(c.status) + (c.resolution ? ` (${t(c.resolution)})` : "");
  $("#d-status").dataset.status = c.status;
  $("#d-assignee").textContent = c.assignee ?? t("nobody");
  $("#d-typology").textContent = c.typology ?? "";
  $("#d-score").textContent = c.max_score.toFixed(2);
  const reasons = $("#d-reasons");
  reasons.replaceChildren();
  for (const sentence of new Set(c.alerts.flatMap((a) => a.reasons))) {
    const li = document.createElement("li");
    li.textContent = sentence;
    reasons.appendChild(li);
  }
  const alerts = $("#d-alerts tbody");
  alerts.replaceChildren();
  for (const a of c.alerts) {
    const row = document.createElement("tr");
    cell(row, a.time); cell(row, a.rule); cell(row, a.score.toFixed(2)); cell(row, a.transfer_id);
    cell(row, a.payee_account ? `${a.payee_account} (${a.payee_bank ?? ""})` : ""); cell(row, a.amount);
    alerts.appendChild(row);
  }
  const timeline = $("#d-timeline");
  timeline.replaceChildren();
  for (const e of c.timeline) {
    const li = document.createElement("li");
    li.textContent = `${e.at} ${e.kind} ${JSON.stringify(e.detail)}`;
    timeline.appendChild(li);
  }
  const open = c.status === "open";
  for (const id of ["#claim", "#release", "#call", "#stop", "#record"]) $(id).disabled = !open;
  document.querySelectorAll("#queue tbody tr").forEach((r) => r.classList.toggle("selected", Number(r.dataset.caseId) === caseId));
}

async function act(method, suffix, body, done) {
  const caseId = state.selected;
  if (caseId === null) return;
  try {
    const reply = await api(method, `/v1/cases/${caseId}/${suffix}`, body);
    say(done(reply));
    await openCase(caseId);
    await loadQueue();
  } catch (error) {
    say(error.message, true);
  }
}

function setLive(on) {
  $("#live").className = on ? "on" : "off";
  $("#live").textContent = t(on ? "online" : "offline");
}

async function listen() {
  if (state.stream) state.stream.abort();
  const controller = new AbortController();
  state.stream = controller;
  while (!controller.signal.aborted) {
    try {
      const reply = await fetch("/v1/events", { headers: { Authorization: `Bearer ${state.key}` }, signal: controller.signal });
      if (!reply.ok) throw new Error(`${reply.status}`);
      setLive(true);
      const reader = reply.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const kind = (block.match(/^event: (.*)$/m) || [])[1];
          const data = JSON.parse((block.match(/^data: (.*)$/m) || [null, "{}"])[1]);
          await onEvent(kind, data);
        }
      }
    } catch (error) {
      if (controller.signal.aborted) return;
    }
    setLive(false);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

async function onEvent(kind, data) {
  if (kind === "alerts") {
    say(`${data.count} ${t("newAlerts")}`);
    await loadQueue();
  } else if (kind === "case" || kind === "resync") {
    await loadQueue();
    if (state.selected === data.case_id) await openCase(data.case_id);
  }
}

async function signIn() {
  state.key = $("#key").value.trim() || state.key;
  sessionStorage.setItem("apiKey", state.key);
  try {
    await loadQueue();
    $("#whoami").textContent = t("signedIn");
    listen();
  } catch (error) {
    say(error.message, true);
  }
}

$("#login").addEventListener("click", signIn);
$("#key").addEventListener("keydown", (e) => { if (e.key === "Enter") signIn(); });
$("#show-closed").addEventListener("change", () => loadQueue().catch((e) => say(e.message, true)));
$("#lang").addEventListener("click", () => {
  state.lang = state.lang === "en" ? "zh" : "en";
  sessionStorage.setItem("lang", state.lang);
  translate();
  if (state.key) loadQueue().catch(() => {});
  if (state.selected !== null) openCase(state.selected).catch(() => {});
});
$("#claim").addEventListener("click", () => act("POST", "claim", {}, () => t("claimed")));
$("#release").addEventListener("click", () => act("POST", "release", undefined, () => t("released")));
$("#call").addEventListener("click", () => act("POST", "call", { note: $("#note").value || null }, (r) => `${t("dial")} ${r.dial}`));
$("#stop").addEventListener("click", () => act("POST", "stop-payment", {}, (r) => `${t("stopQueued")} ${r.transfer_id}`));
$("#record").addEventListener("click", () => act("POST", "outcome",
  { disposition: $("#disposition").value, note: $("#note").value || null },
  (r) => `${t("outcomeSaved")} ${t(r.status)} (${t(r.resolution)})`));

translate();
if (state.key) signIn();
