// The web chat page: sends what the person types or presses, shows what the bot and caseworkers
// answer. Every text is set with textContent, never parsed as HTML.
"use strict";

const token = document.querySelector('meta[name="chat-token"]').content;
const chat = document.getElementById("chat");
const start = document.getElementById("start");
const offline = document.getElementById("offline");
let cursor = 0;

function newId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
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
  window.scrollTo(0, document.body.scrollHeight);
  return item;
}

async function send(event) {
  const response = await fetch("/chat/messages", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-Chat-Token": token },
    body: JSON.stringify(event),
  });
  return response.ok;
}

function show(line) {
  start.hidden = true;
  if (line.mine && line.ref && chat.querySelector(`[data-ref="${CSS.escape(line.ref)}"]`)) return;
  const item = bubble(line.mine, line.text, null);
  for (const row of line.buttons || []) {
    const group = document.createElement("div");
    group.className = "buttons";
    for (const b of row) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "chip";
      button.textContent = b.text;
      button.addEventListener("click", () => send({ id: newId(), data: b.data }));
      group.appendChild(button);
    }
    item.appendChild(group);
  }
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

document.getElementById("compose").addEventListener("submit", async (e) => {
  e.preventDefault();
  const field = document.getElementById("text");
  const text = field.value.trim();
  if (!text) return;
  const id = newId();
  field.value = "";
  bubble(true, text, id);
  start.hidden = true;
  await send({ id, text });
});

start.addEventListener("click", () => send({ id: newId(), text: "/start" }));
start.hidden = false;
listen();
