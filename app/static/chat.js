// The web chat: past chats, streaming answers (server-sent events read from a fetch, since a
// question is a POST), stop, regenerate, export. Text from the model only ever reaches the page
// through renderMarkdown (markdown.js), which builds nodes and never parses HTML.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const T = JSON.parse($("texts").textContent);
  const CSRF = document.querySelector('meta[name="csrf-token"]').content;
  const messages = $("messages");
  const input = $("input");
  const state = { chat: "", busy: false, turns: [], pictures: [] };
  const MAX_PICTURES = 4;
  const MAX_SIDE = 1280; // pixels: what vision models read well, and small enough to send
  const MAX_SENT = 900 * 1024; // characters of data: URLs in one question (the server takes 1 MB)

  function newId() {
    const bytes = new Uint8Array(10);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => (b % 36).toString(36)).join("");
  }

  function post(path, fields) {
    const body = new FormData();
    Object.entries(fields).forEach(([k, v]) => body.append(k, v));
    return fetch(path, { method: "POST", body, headers: { "X-CSRF-Token": CSRF }, credentials: "same-origin" });
  }

  function show(node, text, notice) {
    node.replaceChildren(window.renderMarkdown(text, { copyLabel: T.wc_copy, copiedLabel: T.wc_copied }));
    node.classList.toggle("notice", Boolean(notice));
  }

  function bubble(role, text, pictures) {
    const row = document.createElement("div");
    row.className = "msg " + role;
    const body = document.createElement("div");
    body.className = "body";
    if (role === "user") body.textContent = text; else show(body, text);
    if (Array.isArray(pictures)) {
      pictures.forEach((src) => {
        const img = document.createElement("img");
        img.src = src;
        img.className = "sent-picture";
        img.alt = "";
        body.appendChild(img);
      });
    } else if (pictures) {
      const note = document.createElement("p");
      note.className = "picture-note";
      note.textContent = "🖼 " + T.wc_pictures.replace("{count}", pictures);
      body.appendChild(note);
    }
    row.appendChild(body);
    messages.appendChild(row);
    return body;
  }

  // A drawn picture, kept with the chat: shown under its answer, opened whole in a new tab.
  function addPicture(body, src, prompt) {
    const link = document.createElement("a");
    link.href = src;
    link.target = "_blank";
    link.rel = "noopener";
    const img = document.createElement("img");
    img.src = src;
    img.className = "picture";
    img.alt = T.wc_picture.replace("{prompt}", prompt);
    img.addEventListener("load", scrollDown);
    link.appendChild(img);
    body.appendChild(link);
  }

  // An answer its reader stopped: marked so, as it streamed and when the chat is read again.
  function markStopped(body) {
    const mark = document.createElement("p");
    mark.className = "stopped";
    mark.textContent = T.wc_stopped;
    body.appendChild(mark);
  }

  function scrollDown() {
    messages.scrollTop = messages.scrollHeight;
  }

  function renderTurns() {
    messages.replaceChildren();
    if (!state.turns.length) {
      const empty = document.createElement("p");
      empty.className = "empty-chat";
      empty.id = "empty-chat";
      empty.textContent = T.wc_empty;
      messages.appendChild(empty);
    }
    state.turns.forEach((turn) => {
      bubble("user", turn.user, turn.pictures);
      const answer = bubble("assistant", turn.assistant);
      answer.classList.toggle("notice", Boolean(turn.notice));
      if (turn.image) addPicture(answer, turn.image, turn.user);
      if (turn.stopped) markStopped(answer);
    });
    addRegenerate();
    scrollDown();
  }

  function addRegenerate() {
    const old = $("regenerate");
    if (old) old.remove();
    if (!state.turns.length || state.busy) return;
    const button = document.createElement("button");
    button.type = "button";
    button.id = "regenerate";
    button.className = "regenerate";
    button.textContent = T.wc_regenerate;
    button.addEventListener("click", () => ask(state.turns[state.turns.length - 1].user, true, false));
    messages.appendChild(button);
  }

  function setBusy(busy) {
    state.busy = busy;
    $("send").hidden = busy;
    $("draw").hidden = busy;
    $("stop").hidden = !busy;
    input.disabled = false;
    addRegenerate();
  }

  async function loadList() {
    const answer = await fetch("/api/chat/list", { credentials: "same-origin" });
    if (!answer.ok) return;
    const data = await answer.json();
    const list = $("chat-list");
    list.replaceChildren();
    data.chats.forEach((chat) => {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = "#" + chat.id;
      link.textContent = chat.title || T.wc_untitled;
      link.dataset.chat = chat.id;
      if (chat.id === state.chat) {
        link.setAttribute("aria-current", "page");
        // The server makes the title (plain words, without the question's Markdown).
        if (chat.title) $("chat-title").textContent = chat.title;
      }
      item.appendChild(link);
      list.appendChild(item);
    });
  }

  async function open(id) {
    state.chat = id;
    $("export").href = "/api/chat/export?chat=" + encodeURIComponent(id);
    const answer = await fetch("/api/chat/history?chat=" + encodeURIComponent(id), { credentials: "same-origin" });
    const data = answer.ok ? await answer.json() : { title: "", messages: [] };
    state.turns = data.messages.map((m) => ({ user: m.user, assistant: m.assistant, image: m.image, pictures: m.pictures, stopped: m.stopped }));
    $("chat-title").textContent = data.title || T.wc_new;
    renderTurns();
    loadList();
    document.body.classList.remove("menu-open");
  }

  function startNew() {
    const id = newId();
    history.replaceState(null, "", "#" + id);
    open(id);
    input.focus();
  }

  // One SSE frame: "event: name\ndata: json". Comments (": …") keep the line alive.
  function parseFrame(frame) {
    let event = "message";
    const data = [];
    frame.split("\n").forEach((line) => {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).trim());
    });
    return data.length ? { event, data: JSON.parse(data.join("\n")) } : null;
  }

  async function ask(text, regenerate, draw) {
    const pictures = regenerate || draw ? [] : state.pictures.slice();
    if (state.busy || (!text.trim() && !pictures.length)) return;
    if (!state.chat) startNew();
    const empty = $("empty-chat");
    if (empty) empty.remove();
    let turn;
    if (regenerate) {
      turn = state.turns[state.turns.length - 1];
      messages.lastElementChild.remove(); // the regenerate button
      messages.lastElementChild.remove(); // the old answer
    } else {
      turn = { user: text, assistant: "", pictures: pictures.slice() };
      state.turns.push(turn);
      bubble("user", text, pictures);
    }
    const body = bubble("assistant", "");
    body.classList.add("streaming");
    setBusy(true);
    let streamed = "";
    let pending = false;
    let finished = false;
    // Tokens are painted once per animation frame. A late frame (a busy machine, a background
    // tab) can fire after the last event: it must not put the streamed text back over the
    // final answer, its notice or its "(stopped)" mark.
    const paint = () => {
      pending = false;
      if (finished) return;
      show(body, streamed);
      scrollDown();
    };
    try {
      const fields = { chat: state.chat, text, regenerate: regenerate ? "1" : "0", draw: draw ? "1" : "0" };
      const form = new FormData();
      Object.entries(fields).forEach(([k, v]) => form.append(k, v));
      pictures.forEach((url) => form.append("picture", url));
      if (pictures.length) setPictures([]);
      const answer = await fetch("/api/chat/send", {
        method: "POST", body: form, headers: { "X-CSRF-Token": CSRF }, credentials: "same-origin",
      });
      if (!answer.ok || !answer.body) {
        let message = T.wc_error;
        try { message = (await answer.json()).error || message; } catch (e) { /* not JSON */ }
        turn.assistant = message;
        turn.notice = true;
        show(body, message, true);
        if (!regenerate) state.turns.pop();
        return;
      }
      const reader = answer.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const frame = parseFrame(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
          if (!frame) continue;
          if (frame.event === "token") {
            streamed += frame.data.t;
            if (!pending) { pending = true; requestAnimationFrame(paint); }
          } else if (frame.event === "drawing") {
            show(body, T.wc_drawing);
          } else if (frame.event === "done") {
            finished = true;
            turn.assistant = frame.data.text;
            turn.notice = frame.data.notice && !frame.data.stopped;
            turn.image = frame.data.image || "";
            show(body, frame.data.text || streamed, turn.notice);
            turn.stopped = Boolean(frame.data.stopped);
            if (turn.image) addPicture(body, turn.image, text);
            if (turn.stopped) markStopped(body);
          } else if (frame.event === "error") {
            finished = true;
            turn.assistant = frame.data.message;
            turn.notice = true;
            show(body, frame.data.message, true);
          }
        }
      }
    } catch (error) {
      finished = true;
      show(body, T.wc_error, true);
    } finally {
      body.classList.remove("streaming");
      setBusy(false);
      scrollDown();
      loadList();
    }
  }

  // -- pictures pasted or dropped: made at most MAX_SIDE pixels wide or high, as JPEG, here in
  // the browser, so a phone photo of several MB becomes a few hundred KB before it is sent.
  function setPictures(list) {
    state.pictures = list;
    const tray = $("pictures");
    tray.replaceChildren();
    list.forEach((url, index) => {
      const item = document.createElement("span");
      item.className = "thumb";
      const img = document.createElement("img");
      img.src = url;
      img.alt = "";
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "×";
      remove.setAttribute("aria-label", T.wc_remove_picture);
      remove.addEventListener("click", () => setPictures(state.pictures.filter((_, i) => i !== index)));
      item.append(img, remove);
      tray.appendChild(item);
    });
    tray.hidden = !list.length;
  }

  async function shrink(file) {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    return canvas.toDataURL("image/jpeg", 0.85);
  }

  async function addPictures(files) {
    const images = Array.from(files).filter((f) => f.type.startsWith("image/"));
    if (!images.length) return false;
    const list = state.pictures.slice();
    for (const file of images) {
      if (list.length >= MAX_PICTURES) break;
      try { list.push(await shrink(file)); } catch (error) { /* not a picture the browser can read */ }
    }
    if (list.reduce((n, url) => n + url.length, 0) > MAX_SENT) {
      window.alert(T.wc_pictures_too_big);
      return true;
    }
    setPictures(list);
    return true;
  }

  input.addEventListener("paste", (event) => {
    const files = event.clipboardData ? event.clipboardData.files : [];
    if (files.length) {
      event.preventDefault();
      addPictures(files);
    }
  });
  $("composer").addEventListener("dragover", (event) => event.preventDefault());
  $("composer").addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer) addPictures(event.dataTransfer.files);
  });
  $("attach").addEventListener("click", () => $("picture-file").click());
  $("picture-file").addEventListener("change", async () => {
    await addPictures($("picture-file").files);
    $("picture-file").value = "";
  });

  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    // While an answer is still coming, the typed text stays in the box (it used to be cleared
    // and dropped): it can be sent once the answer is done.
    if (state.busy) return;
    const text = input.value;
    input.value = "";
    ask(text, false, false);
  });
  $("draw").addEventListener("click", () => {
    if (state.busy || !input.value.trim()) { input.focus(); return; }
    const text = input.value;
    input.value = "";
    ask(text, false, true);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("stop").addEventListener("click", () => post("/api/chat/stop", { chat: state.chat }));
  $("new-chat").addEventListener("click", startNew);
  $("menu").addEventListener("click", () => document.body.classList.toggle("menu-open"));
  $("delete").addEventListener("click", async () => {
    if (!state.turns.length || !window.confirm(T.wc_delete_confirm)) return;
    await post("/api/chat/delete", { chat: state.chat });
    startNew();
  });
  $("chat-list").addEventListener("click", (event) => {
    const link = event.target.closest("a[data-chat]");
    if (!link) return;
    event.preventDefault();
    history.replaceState(null, "", "#" + link.dataset.chat);
    open(link.dataset.chat);
  });

  const wanted = location.hash.slice(1);
  if (/^[a-z0-9]{8,32}$/.test(wanted)) open(wanted); else startNew();
})();
