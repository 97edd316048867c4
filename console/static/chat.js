// The web chat page: sends what the person types or presses, shows what the bot and caseworkers
// answer. Every text is set with textContent, never parsed as HTML.
//
// Only the newest question's buttons are live: a pressed button is marked and its question's
// buttons are disabled, and a newer question disables the older ones (a keyboard user tabs from
// the newest options straight to the message box). A question sent again with the same buttons
// (a multiple choice after each tap) replaces the earlier copy. The page scrolls once a message
// is fully rendered, so the newest options and the message box stay on screen.
"use strict";

const token = document.querySelector('meta[name="chat-token"]').content;
const chat = document.getElementById("chat");
const start = document.getElementById("start");
const offline = document.getElementById("offline");
const notice = document.getElementById("notice");
const field = document.getElementById("text");
const compose = document.getElementById("compose");
const picker = document.getElementById("file");
let cursor = 0;
let question = null; // the newest message with buttons: { item, key }

function newId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function reveal() {
  // After rendering: the newest message, its buttons and the message box in view.
  // The message box is sticky (always in view), so the page itself is scrolled to its end.
  requestAnimationFrame(() => window.scrollTo(0, document.documentElement.scrollHeight));
}

function say(kind, values) {
  let text = notice.dataset[kind] || "";
  for (const [name, value] of Object.entries(values || {})) text = text.replace(`{${name}}`, value);
  notice.textContent = text;
  notice.hidden = !text;
  if (text) reveal();
}

function bubble(mine, text, ref) {
  const item = document.createElement("li");
  item.className = `msg ${mine ? "in" : "out"}`;
  if (ref) item.dataset.ref = ref;
  const body = document.createElement("div");
  body.className = "text";
  body.textContent = text;
  item.appendChild(body);
  chat.appendChild(item);
  return item;
}

function settle(item, chosen) {
  // A question answered: its buttons stop working, the chosen one stays marked.
  for (const button of item.querySelectorAll("button.chip")) {
    button.disabled = true;
    if (chosen && button.dataset.data === chosen) {
      button.classList.add("chosen");
      button.setAttribute("aria-pressed", "true");
    }
  }
}

async function send(event) {
  let response;
  try {
    response = await fetch("/chat/messages", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Chat-Token": token },
      body: JSON.stringify(event),
    });
  } catch (error) {
    say("failed");
    return false;
  }
  if (response.status === 413) say("tooLong", { limit: field.maxLength });
  else if (response.status === 429) say("tooMany");
  else if (!response.ok) say("failed");
  else say(null);
  return response.ok;
}

async function press(item, b) {
  settle(item, b.data);
  field.focus({ preventScroll: true });
  if (!(await send({ id: newId(), data: b.data }))) {
    for (const button of item.querySelectorAll("button.chip")) {
      button.disabled = false;
      button.classList.remove("chosen");
      button.removeAttribute("aria-pressed");
    }
  }
}

function buttons(item, rows) {
  for (const row of rows) {
    const group = document.createElement("div");
    group.className = "buttons";
    for (const b of row) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "chip";
      button.dataset.data = b.data;
      button.textContent = b.text;
      button.addEventListener("click", () => press(item, b));
      group.appendChild(button);
    }
    item.appendChild(group);
  }
}

function file(item, attached) {
  const line = document.createElement("p");
  line.className = "file";
  if (attached.url) {
    const link = document.createElement("a");
    link.href = attached.url;
    link.download = attached.name;
    link.textContent = notice.dataset.download.replace("{name}", attached.name);
    link.addEventListener("click", () => {
      // One download only: the link is spent once followed.
      setTimeout(() => { line.textContent = notice.dataset.gone; }, 0);
    });
    line.appendChild(link);
  } else {
    line.textContent = notice.dataset.gone;
  }
  item.appendChild(line);
}

function show(line) {
  start.hidden = true;
  if (line.chose) {
    if (question) settle(question.item, line.chose);
    return;
  }
  if (line.mine && line.ref && chat.querySelector(`[data-ref="${CSS.escape(line.ref)}"]`)) return;
  const rows = line.buttons || [];
  const key = rows.flat().map((b) => b.data).join("\n");
  if (rows.length && question && question.key === key && chat.lastElementChild === question.item) {
    // The same question again (a multiple choice after a tap): shown in place of the earlier copy.
    const item = question.item;
    item.querySelector(".text").textContent = line.text;
    for (const group of item.querySelectorAll(".buttons")) group.remove();
    buttons(item, rows);
    reveal();
    return;
  }
  const item = bubble(line.mine, line.text, null);
  if (line.file) file(item, line.file);
  if (rows.length) {
    if (question) settle(question.item, null);
    buttons(item, rows);
    question = { item, key };
  } else if (line.mine && question) {
    settle(question.item, null); // answered by typing
  }
  reveal();
}

function listen() {
  const source = new EventSource(`/chat/events?after=${cursor}`);
  source.onopen = () => { offline.hidden = true; };
  source.addEventListener("line", (e) => {
    const line = JSON.parse(e.data);
    cursor = line.cursor;
    show(line);
  });
  source.onerror = () => { source.close(); offline.hidden = false; setTimeout(listen, 1500); };
}

compose.addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = field.value.trim();
  if (!text) return;
  const id = newId();
  field.value = "";
  const item = bubble(true, text, id);
  if (question) settle(question.item, null);
  start.hidden = true;
  reveal();
  if (!(await send({ id, text }))) {
    item.remove(); // not taken: the text goes back into the box, to shorten or send again
    if (!field.value) field.value = text;
  }
  field.focus({ preventScroll: true });
});

field.addEventListener("keydown", (e) => {
  // Enter sends, Shift+Enter starts a new line.
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    compose.requestSubmit();
  }
});

async function upload(chosen) {
  // A photo or document: sent as it is; the server checks its size and type and says why it refuses.
  const id = newId();
  const item = bubble(true, `📎 ${chosen.name}`, id);
  if (question) settle(question.item, null);
  start.hidden = true;
  reveal();
  let response;
  try {
    response = await fetch("/chat/files", {
      method: "POST", credentials: "same-origin",
      headers: {
        "Content-Type": chosen.type || "application/octet-stream", "X-Chat-Token": token,
        "X-Message-Id": id, "X-File-Name": encodeURIComponent(chosen.name),
      },
      body: chosen,
    });
  } catch (error) {
    item.remove();
    say("failed");
    return;
  }
  if (response.ok) {
    say(null);
    return;
  }
  item.remove();
  if (response.status === 429) {
    say("tooMany");
    return;
  }
  let answer = {};
  try { answer = await response.json(); } catch (error) { answer = {}; }
  if (answer.message) {
    notice.textContent = answer.message;
    notice.hidden = false;
    reveal();
  } else {
    say("failed");
  }
}

picker.addEventListener("change", () => {
  const chosen = picker.files[0];
  picker.value = "";
  if (chosen) upload(chosen);
});

start.addEventListener("click", async () => {
  start.hidden = true;
  field.focus({ preventScroll: true });
  if (!(await send({ id: newId(), text: "/start" }))) start.hidden = false;
});
start.hidden = false;
listen();
