// Live updates for the console: the inbox refreshes its list, an open conversation receives new
// messages, delivery results and changes of its status and assignee, a broadcast's page its counts.
// Everything inserted was rendered (and escaped) by the server, or set as text.
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
      for (const id of ["inbox-list", "inbox-filters"]) {  // the rows, and the counts of each view
        const fresh = page.getElementById(id);
        const here = document.getElementById(id);
        if (fresh && here) here.replaceWith(document.importNode(fresh, true));
      }
    },
  });
}

function actionsFollow(data) {
  // The take over, hand back and close buttons as they now are for this caseworker: another one may have taken the
  // conversation over or handed it back. The status form stays the same element, with what the caseworker may be
  // choosing in it (its values follow in `keep`).
  const here = document.getElementById("conversation-actions");
  const fresh = data.actions ? fragment(data.actions).firstElementChild : null;
  if (!here || !fresh) return;
  const status = here.querySelector("form.status-form");
  const freshStatus = fresh.querySelector("form.status-form");
  if (status && freshStatus) freshStatus.replaceWith(status);
  here.replaceWith(fresh);
}

function replyFollows(data) {
  // The reply box only for the caseworker who has the conversation. A reply being written when another caseworker
  // takes over stays in view, but can no longer be sent; it can be again if the conversation comes back.
  const here = document.getElementById("conversation-reply");
  const fresh = data.reply ? fragment(data.reply).firstElementChild : null;
  if (!here || !fresh) return;
  const form = here.querySelector("form.reply");
  const open = fresh.querySelector("form.reply");
  if (form && open) {
    for (const field of form.elements) field.disabled = false;
    for (const hint of here.querySelectorAll(".hint")) hint.remove();
    return;
  }
  if (form && form.elements.text && form.elements.text.value.trim()) {
    for (const field of form.elements) field.disabled = true;
    for (const hint of here.querySelectorAll(".hint")) hint.remove();
    const hint = fresh.querySelector(".hint");
    if (hint) here.insertBefore(hint, form);
    return;
  }
  here.replaceWith(fresh);
}

function liveTranscript(list) {
  let last = new URL(list.dataset.events, location.href).searchParams.get("after") || "0";
  const base = list.dataset.events.split("?")[0];
  // The newest line in view: the transcript's own end where it scrolls by itself (phones), then the page scrolled
  // so that the reply box (or the transcript's end) is at the bottom of the screen. Not the page's own end: on a
  // phone the profile, assignment and notes come after the thread, and the reply box would be far above.
  const bottom = () => {
    list.scrollTop = list.scrollHeight;
    const reply = list.parentElement ? list.parentElement.querySelector("form.reply") : null;
    (reply || list).scrollIntoView({ block: "end" });
  };
  const waiting = () => Array.from(list.querySelectorAll('.status[data-status="queued"], .status[data-status="sending"]'))
    .map((s) => s.closest("li").dataset.id).join(",");
  // The head of the page (owner, status, assignee) as the server last showed it: another caseworker's change
  // or the end of a snooze sends it again.
  let state = new URL(list.dataset.events, location.href).searchParams.get("state") || "";
  follow(() => `${base}?after=${last}&pending=${waiting()}&state=${state}`, {
    state: (data) => {
      state = data.state;
      // The live region itself stays, so screen readers announce the change; only what it shows is new.
      const here = document.getElementById("conversation-state");
      const fresh = fragment(data.html).firstElementChild;
      if (here && fresh) {
        here.dataset.state = fresh.dataset.state;
        here.replaceChildren(...fresh.childNodes);
      }
      // The forms show it too, unless the caseworker has changed the field and not saved it yet (say, chosen
      // "snoozed" and is typing the date), or is choosing in it right now. The new value becomes the field's
      // default, so the next change is told apart from it again.
      const keep = (id, value) => {
        const field = document.getElementById(id);
        if (!field || document.activeElement === field) return;
        if (field.tagName === "SELECT") {
          const options = Array.from(field.options);  // with none marked selected, the first is the default
          const initial = options.find((o) => o.defaultSelected) || options[0];
          if (initial && !initial.selected) return;
          for (const option of options) option.defaultSelected = option.value === String(value ?? "");
          field.value = String(value ?? "");
        } else {
          if (field.value !== field.defaultValue) return;
          field.defaultValue = String(value);
          field.value = String(value);
        }
      };
      keep("status-choice", data.status);
      if (data.until) keep("snooze-until", data.until);
      keep("assignee-choice", data.assignee);
      actionsFollow(data);
      replyFollows(data);
    },
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

function liveCounts(figures) {
  // A broadcast's page follows its counts (a small JSON) while it is prepared and sent, and stops once all went.
  const shown = (id, text) => {
    const element = document.getElementById(id);
    if (element) { element.textContent = text; element.hidden = !text; }
  };
  const look = async () => {
    let data = null;
    try {
      const response = await fetch(figures.dataset.follow, { credentials: "same-origin" });
      if (response.ok) data = await response.json();
    } catch (e) { /* offline for a moment: the next look */ }
    if (data) {
      for (const name of ["sent", "failed", "skipped", "left"]) {
        const cell = figures.querySelector(`dd[data-count="${name}"]`);
        if (cell) cell.textContent = String(data[name]);
      }
      shown("broadcast-progress", data.progress);
      const list = document.getElementById("broadcast-skipped");
      const title = document.getElementById("skipped-title");
      if (list) {
        list.replaceChildren(...Object.keys(data.reasons).sort().map((reason) => {
          const item = document.createElement("li");
          item.dataset.reason = reason;
          item.textContent = `${data.reasons[reason][0]}: ${data.reasons[reason][1]}`;
          return item;
        }));
        list.hidden = title.hidden = data.skipped === 0;
      }
      if (data.done) {
        document.getElementById("broadcast-sending").hidden = true;
        return;
      }
    }
    setTimeout(look, 2000);
  };
  setTimeout(look, 1000);
}

function sendWithCtrlEnter() {
  // Ctrl+Enter (⌘+Enter on a Mac) sends a reply or a note from its text box (one shown later, live, too).
  document.addEventListener("keydown", (e) => {
    const box = e.target;
    if (!(box instanceof HTMLTextAreaElement) || !box.form) return;
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      if (!box.disabled) box.form.requestSubmit();
    }
  });
}

function cannedReplies() {
  document.addEventListener("change", (e) => {
    const select = e.target;
    const text = document.getElementById("reply-text");
    if (!select || select.id !== "canned" || !text || !select.value) return;
    text.value = select.value;
    text.focus();
  });
}

function ring() {
  // A short two-tone chime, made here: no sound file to fetch.
  try {
    const audio = new AudioContext();
    for (const [i, hz] of [[0, 880], [1, 660]]) {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = hz;
      gain.gain.setValueAtTime(0.15, audio.currentTime + i * 0.18);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + i * 0.18 + 0.16);
      tone.connect(gain).connect(audio.destination);
      tone.start(audio.currentTime + i * 0.18);
      tone.stop(audio.currentTime + i * 0.18 + 0.17);
    }
  } catch (e) { /* no sound on this browser: the title still counts */ }
}

function alerts(body) {
  // Every page: the tab's title counts the unread conversations waiting for a caseworker; with
  // "Sound and notifications" on (kept in this browser), one more rings and shows a notification.
  const title = document.title;
  const toggle = document.getElementById("alerts-toggle");
  const on = () => localStorage.getItem("hw-alerts") === "on";
  const show = () => { if (toggle) toggle.setAttribute("aria-pressed", on() ? "true" : "false"); };
  if (toggle) {
    toggle.addEventListener("click", async () => {
      if (on()) {
        localStorage.setItem("hw-alerts", "off");
      } else {
        localStorage.setItem("hw-alerts", "on");
        if ("Notification" in window && Notification.permission === "default") await Notification.requestPermission();
        ring();
      }
      show();
    });
  }
  show();
  let before = null;
  follow(() => body.dataset.alerts, {
    alerts: (now) => {
      document.title = now.waiting ? `(${now.waiting}) ${title}` : title;
      const more = before && (now.latest !== before.latest || now.urgent > before.urgent) && now.waiting > 0;
      // One more waiting conversation assigned to this caseworker (by hand or automatically) says so.
      const given = before && now.mine > before.mine;
      if ((more || given) && on()) {
        ring();
        if ("Notification" in window && Notification.permission === "granted") {
          const text = given ? body.dataset.assignedText : body.dataset.alertText;
          new Notification(text, { tag: "homeward-waiting" });
        }
      }
      before = now;
    },
  });
}

function focusableScrollers() {
  // A table or transcript that scrolls inside itself (on a phone) can be scrolled with the keyboard too.
  const mark = () => {
    for (const box of document.querySelectorAll("table.log, table.chart, #transcript")) {
      const scrolls = box.scrollWidth > box.clientWidth || box.scrollHeight > box.clientHeight;
      if (scrolls && !box.hasAttribute("tabindex")) box.setAttribute("tabindex", "0");
      if (!scrolls && box.getAttribute("tabindex") === "0") box.removeAttribute("tabindex");
    }
  };
  mark();
  window.addEventListener("resize", mark);
}

function photosOnRequest() {
  // A photo is fetched (and its view audited) only when the caseworker asks to see it; then it is shown in place.
  document.addEventListener("click", (event) => {
    const link = event.target.closest ? event.target.closest("a.show-photo") : null;
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    const image = document.createElement("img");
    image.src = link.getAttribute("href");
    image.alt = link.dataset.alt || "";
    link.classList.remove("show-photo");
    link.replaceChildren(image);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  photosOnRequest();
  const inbox = document.querySelector("[data-live]");
  if (inbox) liveInbox(inbox);
  const transcript = document.getElementById("transcript");
  if (transcript) liveTranscript(transcript);
  const figures = document.querySelector("#broadcast-counts[data-follow]");
  if (figures) liveCounts(figures);
  cannedReplies();
  sendWithCtrlEnter();
  focusableScrollers();
  if (document.body.dataset.alerts) alerts(document.body);
});
