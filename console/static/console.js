// Live updates for the console: the inbox refreshes its list, an open conversation receives new
// messages and delivery results. Everything inserted was rendered (and escaped) by the server.
"use strict";

function follow(url, handlers) {
  let source = null;
  const open = () => {
    source = new EventSource(url());
    for (const [name, handle] of Object.entries(handlers)) {
      source.addEventListener(name, (e) => handle(JSON.parse(e.data)));
    }
    source.onerror = () => { source.close(); setTimeout(open, 1500); };
  };
  open();
}

function fragment(html) {
  const template = document.createElement("template");
  template.innerHTML = html;  // inert: nothing in a template runs or loads
  return template.content;
}

function liveInbox(section) {
  follow(() => section.dataset.live, {
    changed: async () => {
      const response = await fetch(location.href, { credentials: "same-origin" });
      if (!response.ok) return;
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById("inbox-list");
      const list = document.getElementById("inbox-list");
      if (fresh && list) list.replaceWith(document.importNode(fresh, true));
    },
  });
}

function liveTranscript(list) {
  let last = new URL(list.dataset.events, location.href).searchParams.get("after") || "0";
  const base = list.dataset.events.split("?")[0];
  const bottom = () => window.scrollTo(0, document.body.scrollHeight);
  const waiting = () => Array.from(list.querySelectorAll('.status[data-status="queued"], .status[data-status="sending"]'))
    .map((s) => s.closest("li").dataset.id).join(",");
  follow(() => `${base}?after=${last}&pending=${waiting()}`, {
    messages: (data) => {
      for (const item of Array.from(fragment(data.html).children)) {
        if (!document.getElementById(item.id)) list.appendChild(item);
      }
      last = String(data.last);
      const urgent = document.getElementById("urgent");
      if (urgent && data.urgent) urgent.hidden = false;  // e.g. the person wrote that they are in danger
      bottom();
    },
    status: (data) => {
      const status = document.querySelector(`#m${data.id} .status`);
      if (status) { status.dataset.status = data.status; status.textContent = data.label; }
    },
  });
  if (!location.hash) bottom();
}

function cannedReplies() {
  const select = document.getElementById("canned");
  const text = document.getElementById("reply-text");
  if (!select || !text) return;
  select.addEventListener("change", () => { if (select.value) { text.value = select.value; text.focus(); } });
}

document.addEventListener("DOMContentLoaded", () => {
  const inbox = document.querySelector("[data-live]");
  if (inbox) liveInbox(inbox);
  const transcript = document.getElementById("transcript");
  if (transcript) liveTranscript(transcript);
  cannedReplies();
});
