// Live parts of the pages: server-sent events and actions without a reload.
// Every value from the server goes in with textContent, never innerHTML: file names are untrusted.
"use strict";
(function () {
  const csrf = (document.querySelector('meta[name="csrf"]') || {}).content || "";
  const canAck = ((document.querySelector('meta[name="can-ack"]') || {}).content || "0") === "1";

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function toast(text, bad) {
    const t = document.getElementById("toast");
    if (!t) return;
    t.textContent = text;
    t.className = bad ? "show bad" : "show";
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.className = ""; }, 4000);
  }

  async function act(fid, verb, body) {
    const form = new URLSearchParams(body || {});
    form.set("csrf", csrf);
    const r = await fetch(`/findings/${fid}/${verb}`, {
      method: "POST", credentials: "same-origin", body: form,
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf },
    });
    let data = {};
    try { data = await r.json(); } catch (e) { data = { ok: false, error: `refused (${r.status})` }; }
    toast(data.ok ? data.message : data.error, !data.ok);
    return data.ok;
  }

  // forms marked js-act (acknowledge, open again) post in the background
  document.addEventListener("submit", async (ev) => {
    const form = ev.target;
    if (!form.classList || !form.classList.contains("js-act")) return;
    ev.preventDefault();
    const m = form.action.match(/\/findings\/(\d+)\/(\w+)$/);
    if (!m) return;
    if (await act(m[1], m[2])) setTimeout(() => location.reload(), 300);
  });

  function row(e) {
    const f = e.finding || {};
    const li = el("li", `ev ev-${e.event} lv-${e.event !== "finding" ? "quiet" : f.positive ? "good" : (f.severity || "info")}`);
    li.dataset.fid = f.id || "";
    li.appendChild(el("time", null, new Date(e.ts * 1000).toLocaleTimeString()));
    const words = {
      finding: f.positive ? "verdict" : "new", resolved: "resolved", ack: "acknowledged",
      unack: "opened again", assign: "assigned", note: "note", escalated: "escalated",
    };
    li.appendChild(el("span", "kind", words[e.event] || e.event));
    if (f.severity && e.event === "finding" && !f.positive) li.appendChild(el("span", `sev sev-${f.severity}`, f.severity));
    const a = el("a", "msg", f.message || e.event);
    if (f.id) a.href = `/findings/${f.id}`;
    li.appendChild(a);
    li.appendChild(el("span", "muted where", `${e.volume || ""}: ${e.relpath || ""}`));
    if (e.detail && e.detail.by) li.appendChild(el("span", "muted", ` by ${e.detail.by}`));
    if (e.event === "finding" && f.status === "open" && canAck && !f.positive) {
      const b = el("button", "btn ack", "Acknowledge");
      b.type = "button";
      b.addEventListener("click", async () => {
        b.disabled = true;
        if (await act(f.id, "ack")) { b.textContent = "Acknowledged"; li.classList.add("st-acked"); }
        else b.disabled = false;
      });
      li.appendChild(b);
    }
    return li;
  }

  const list = document.getElementById("live-list");
  const reloadOnVerdict = document.body.classList.contains("reload-on-verdict");
  // the overview's counts: redrawn a few seconds after a change, at most every 10 s on a busy day
  const refreshOnChange = document.body.classList.contains("refresh-on-change");
  const openedAt = Date.now();
  const findingPage = document.getElementById("finding");
  if (!list && !reloadOnVerdict && !findingPage) return;
  if (!window.EventSource) return;
  const dot = document.getElementById("live-dot");
  const after = list && list.dataset.after ? `?after=${encodeURIComponent(list.dataset.after)}` : "";
  const src = new EventSource(`/events${after}`);
  src.onopen = () => { if (dot) dot.className = "dot on"; };
  src.onerror = () => { if (dot) dot.className = "dot off"; };
  let reloading = null;
  function handle(ev) {
    let e;
    try { e = JSON.parse(ev.data); } catch (err) { return; }
    if (list) {
      const empty = list.querySelector(".empty");
      if (empty) empty.remove();
      list.insertBefore(row(e), list.firstChild);
      while (list.children.length > 200) list.removeChild(list.lastChild);
    }
    if (reloadOnVerdict && ev.type === "verdict" && !reloading) {
      reloading = setTimeout(() => location.reload(), 800);
    }
    const fresh = list && Number(ev.lastEventId) > Number(list.dataset.after || 0) && e.ts * 1000 > openedAt - 2000;
    if (refreshOnChange && fresh && !reloading) {
      reloading = setTimeout(() => location.reload(), Math.max(3000, 10000 - (Date.now() - openedAt)));
    }
    if (findingPage && e.finding && String(e.finding.id) === findingPage.dataset.fid && e.event !== "finding") {
      const s = document.getElementById("status");
      if (s) s.textContent = e.finding.status;
    }
  }
  for (const t of ["finding", "resolved", "ack", "unack", "assign", "note", "escalated", "verdict"]) {
    src.addEventListener(t, handle);
  }
})();
