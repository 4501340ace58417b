// Markdown to DOM for the web chat. Written for this page instead of vendoring a parser plus a
// sanitiser: it builds elements with createElement and text with createTextNode only, never
// innerHTML, so no text from the model can become markup, whatever it contains. It covers what
// chat answers use: code blocks (also an unclosed one while the answer streams), headings,
// lists, quotes, rules, paragraphs, and inline code, bold, italic and http(s) links.
"use strict";

(function (global) {
  const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([\w+#.-]*)/;

  function el(tag, className) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    return node;
  }

  function safeHref(url) {
    return /^(https?:\/\/|mailto:)/i.test(url) ? url : null;
  }

  // Inline spans, left to right: the earliest match wins; text between matches stays text.
  const INLINE = [
    { re: /`([^`\n]+)`/, make: (m) => { const c = el("code"); c.textContent = m[1]; return c; } },
    { re: /\*\*([^*\n]+)\*\*|__([^_\n]+)__/, make: (m) => wrap("strong", m[1] || m[2]) },
    { re: /\*([^*\n]+)\*|(?:^|(?<=\s))_([^_\n]+)_(?=\s|$|[.,;:!?])/, make: (m) => wrap("em", m[1] || m[2]) },
    {
      re: /\[([^\]\n]+)\]\(([^)\s]+)\)/,
      make: (m) => {
        const href = safeHref(m[2]);
        if (!href) return document.createTextNode(m[0]);
        const a = el("a");
        a.href = href;
        a.rel = "noopener noreferrer nofollow";
        a.target = "_blank";
        a.textContent = m[1];
        return a;
      },
    },
    {
      re: /https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"]/,
      make: (m) => {
        const a = el("a");
        a.href = m[0];
        a.rel = "noopener noreferrer nofollow";
        a.target = "_blank";
        a.textContent = m[0];
        return a;
      },
    },
  ];

  function wrap(tag, text) {
    const node = el(tag);
    inline(node, text);
    return node;
  }

  function inline(parent, text) {
    let rest = text;
    while (rest) {
      let best = null;
      for (const rule of INLINE) {
        const m = rule.re.exec(rest);
        if (m && (best === null || m.index < best.m.index)) best = { m, rule };
      }
      if (!best) {
        parent.appendChild(document.createTextNode(rest));
        return;
      }
      if (best.m.index > 0) parent.appendChild(document.createTextNode(rest.slice(0, best.m.index)));
      parent.appendChild(best.rule.make(best.m));
      rest = rest.slice(best.m.index + best.m[0].length);
    }
  }

  function lines(parent, textLines) {
    textLines.forEach((line, i) => {
      if (i) parent.appendChild(el("br"));
      inline(parent, line);
    });
  }

  function render(text, options) {
    const root = document.createDocumentFragment();
    const all = String(text).replace(/\r\n?/g, "\n").split("\n");
    let i = 0;
    while (i < all.length) {
      const line = all[i];
      const fence = FENCE.exec(line);
      if (fence) {
        const marker = fence[1];
        const body = [];
        i += 1;
        while (i < all.length && !(all[i].trim().startsWith(marker[0].repeat(marker.length)) && /^[`~]+$/.test(all[i].trim()))) {
          body.push(all[i]);
          i += 1;
        }
        i += 1; // the closing fence (or the end, while streaming)
        root.appendChild(codeBlock(body.join("\n"), fence[2], options));
        continue;
      }
      if (!line.trim()) { i += 1; continue; }
      const heading = /^(#{1,6})\s+(.*)$/.exec(line);
      if (heading) {
        root.appendChild(wrap("h" + Math.min(heading[1].length + 2, 6), heading[2]));
        i += 1;
        continue;
      }
      if (/^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) { root.appendChild(el("hr")); i += 1; continue; }
      if (/^\s{0,3}>/.test(line)) {
        const quoted = [];
        while (i < all.length && /^\s{0,3}>/.test(all[i])) { quoted.push(all[i].replace(/^\s{0,3}>\s?/, "")); i += 1; }
        const quote = el("blockquote");
        quote.appendChild(render(quoted.join("\n"), options));
        root.appendChild(quote);
        continue;
      }
      const item = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
      if (item.test(line)) {
        const ordered = /\d/.test(item.exec(line)[2]);
        const list = el(ordered ? "ol" : "ul");
        if (ordered) list.start = parseInt(item.exec(line)[2], 10) || 1;
        while (i < all.length && item.test(all[i]) && /\d/.test(item.exec(all[i])[2]) === ordered) {
          const li = el("li");
          const parts = [item.exec(all[i])[3]];
          i += 1;
          while (i < all.length && all[i].trim() && /^\s{2,}\S/.test(all[i]) && !item.test(all[i])) {
            parts.push(all[i].trim());
            i += 1;
          }
          lines(li, parts);
          list.appendChild(li);
        }
        root.appendChild(list);
        continue;
      }
      const para = [];
      while (i < all.length && all[i].trim() && !FENCE.test(all[i]) && !/^#{1,6}\s/.test(all[i]) && !item.test(all[i]) && !/^\s{0,3}>/.test(all[i])) {
        para.push(all[i]);
        i += 1;
      }
      const p = el("p");
      lines(p, para);
      root.appendChild(p);
    }
    return root;
  }

  function codeBlock(code, language, options) {
    const box = el("div", "code");
    const bar = el("div", "code-bar");
    const name = el("span");
    name.textContent = language || "";
    bar.appendChild(name);
    if (options && options.copyLabel) {
      const copy = el("button", "copy-code");
      copy.type = "button";
      copy.textContent = options.copyLabel;
      copy.addEventListener("click", () => {
        navigator.clipboard.writeText(code).then(() => {
          copy.textContent = options.copiedLabel || options.copyLabel;
          setTimeout(() => { copy.textContent = options.copyLabel; }, 1500);
        });
      });
      bar.appendChild(copy);
    }
    const pre = el("pre");
    const inner = el("code");
    if (language) inner.className = "language-" + language.replace(/[^\w+#-]/g, "");
    inner.textContent = code;
    pre.appendChild(inner);
    box.appendChild(bar);
    box.appendChild(pre);
    return box;
  }

  global.renderMarkdown = render;
})(window);
