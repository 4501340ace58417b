// SynoChatGPT settings page. Everything the server sends is put in the page as text
// (textContent), never as HTML.
"use strict";

(function () {
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : "";
  const textsNode = document.getElementById("texts");
  const texts = textsNode ? JSON.parse(textsNode.textContent) : {};

  function t(key, params) {
    let text = texts[key] || key;
    for (const [name, value] of Object.entries(params || {})) {
      text = text.split("{" + name + "}").join(String(value));
    }
    return text;
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  async function call(method, url, body) {
    const options = { method, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
    if (body) options.body = body;
    let response;
    try {
      response = await fetch(url, options);
    } catch (error) {
      return { ok: false, error: t("request_failed") };
    }
    if (response.status === 401) {
      window.location.href = "/login";
      return { ok: false, error: "" };
    }
    try {
      return await response.json();
    } catch (error) {
      return { ok: false, error: t("request_failed") + " (HTTP " + response.status + ")" };
    }
  }

  function formBody() {
    return new URLSearchParams(new FormData(document.getElementById("settings")));
  }

  function showResult(box, ok, lines) {
    box.replaceChildren();
    box.className = "result " + (ok ? "ok" : "error");
    for (const line of lines) {
      if (line === null || line === undefined || line === "") continue;
      box.append(typeof line === "string" ? el("div", line) : line);
    }
  }

  function fieldLines(answer) {
    // Each problem under the label people see, and none twice (a lone field's problem is often
    // the answer's error itself).
    const labels = answer.labels || {};
    return Object.entries(answer.fields || {})
      .filter(([name, problem]) => problem !== answer.error)
      .map(([name, problem]) => (labels[name] ? labels[name] + ": " + problem : problem));
  }

  // -- copy buttons --------------------------------------------------------------------------
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const input = document.getElementById(button.dataset.copy);
      const label = button.textContent;
      let done = false;
      if (navigator.clipboard && window.isSecureContext) {
        try { await navigator.clipboard.writeText(input.value); done = true; } catch (error) { done = false; }
      }
      if (!done) {  // plain http on a LAN address is not a secure context: the old way still works
        input.select();
        try { done = document.execCommand("copy"); } catch (error) { done = false; }
      }
      button.textContent = done ? t("copied") : t("copy_failed");
      setTimeout(() => { button.textContent = label; }, 2000);
    });
  }

  // -- test model ------------------------------------------------------------------------------
  const testModel = document.getElementById("test-model");
  if (testModel) {
    const box = document.getElementById("model-result");
    const pickerBox = document.getElementById("model-picker-box");
    const picker = document.getElementById("model-picker");
    picker.addEventListener("change", () => {
      const input = document.querySelector('input[name="model"]');
      if (input && picker.value) input.value = picker.value;
    });
    testModel.addEventListener("click", async () => {
      testModel.disabled = true;
      showResult(box, true, [t("testing")]);
      const answer = await call("POST", "/api/test-model", formBody());
      testModel.disabled = false;
      const models = answer.models || [];
      if (models.length) {
        picker.replaceChildren();
        const current = (document.querySelector('input[name="model"]') || {}).value || answer.model;
        for (const name of models) {
          const option = el("option", name);
          option.value = name;
          option.selected = name === current;
          picker.append(option);
        }
        pickerBox.hidden = false;
      } else {  // this test found no list: the last server's list must not stay as if it were
        picker.replaceChildren();
        pickerBox.hidden = true;
      }
      const lines = [];
      if (models.length) lines.push(t("models_found", { count: models.length }));
      if (answer.models_error) lines.push(answer.models_error);
      if (answer.ok) {
        lines.push(t("model_ok", { ms: answer.latency_ms }));
        lines.push(el("pre", answer.answer));
      } else {
        lines.push(answer.error, ...fieldLines(answer));
      }
      showResult(box, !!answer.ok, lines);
    });
  }

  // -- a platform's test message: Synology Chat's and QQ's -------------------------------------
  function liveCheck(buttonId, boxId, path, okKey) {
    const button = document.getElementById(buttonId);
    if (!button) return;
    const box = document.getElementById(boxId);
    button.addEventListener("click", async () => {
      button.disabled = true;
      showResult(box, true, [t("testing")]);
      const answer = await call("POST", path, formBody());
      button.disabled = false;
      if (answer.ok) {
        showResult(box, true, [t(okKey), el("pre", JSON.stringify(answer.answer, null, 1))]);
      } else {
        showResult(box, false, [answer.error, ...fieldLines(answer)]);
      }
    });
  }
  liveCheck("test-chat", "chat-result", "/api/test-chat", "chat_ok");
  liveCheck("test-qq", "qq-result", "/api/test-qq", "qq_ok");
  liveCheck("test-dingtalk", "dt-result", "/api/test-dingtalk", "dt_ok_token");

  // -- recent webhooks -------------------------------------------------------------------------
  const refresh = document.getElementById("refresh-webhooks");
  if (refresh) {
    refresh.addEventListener("click", async () => {
      refresh.disabled = true;
      const answer = await call("GET", "/api/webhooks");
      refresh.disabled = false;
      const body = document.querySelector("#webhook-list tbody");
      body.replaceChildren();
      for (const row of answer.rows || []) {
        const tr = el("tr", undefined, "wh-" + row.outcome);
        const who = row.user_id !== null ? row.username + " (" + row.user_id + ")" : "–";
        const result = row.status + " · " + row.reason + (row.detail ? " — " + row.detail : "");
        for (const text of [row.time, row.client, who, result]) tr.append(el("td", text));
        body.append(tr);
      }
      if (!(answer.rows || []).length) {
        const tr = el("tr", undefined, "empty");
        const td = el("td", t("no_webhooks"));
        td.colSpan = 4;
        tr.append(td);
        body.append(tr);
      }
      const user = document.getElementById("test-user");
      const first = (answer.rows || []).find((row) => row.user_id);
      if (user && !user.value && first) user.value = first.user_id;
    });
  }
})();
