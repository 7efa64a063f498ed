// The emulator's chat page: a Direct Line 3.0 client in the manner of Web Chat (token from tokens/generate,
// conversation start, WebSocket stream, activities and uploads posted over REST, resume with the conversation id
// and the watermark after a reload), and the activity inspector fed by the emulator.
import { attachmentNode, element, formattedText, safeUrl } from "./render.js";

const STATE_KEY = "botconnect.chat.state";
const TRANSCRIPT_KEY = "botconnect.chat.transcript";
const USER_KEY = "botconnect.chat.user";
const KEPT_ACTIVITIES = 300;
const TYPING_TIMEOUT_MS = 5000;
const INSPECTOR_POLL_MS = 500;

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("status"),
  conversation: $("conversation-id"),
  transcript: $("transcript"),
  typing: $("typing"),
  suggested: $("suggested-actions"),
  composer: $("composer"),
  text: $("message-text"),
  file: $("file-input"),
  restart: $("restart"),
  entries: $("inspector-entries"),
};

let config = null;
let state = null; // {conversationId, token, watermark, expiresAt}
let transcript = [];
let socket = null;
let generation = 0; // bumped by every (re)start: late callbacks of an old conversation do nothing
let reconnectDelay = 500;
let refreshTimer = null;
let typingTimer = null;
let inspectorAfter = 0;
let inspectorTimer = null;
const seen = new Set();
const ownBubbles = new Map(); // clientActivityID -> the bubble shown when it was sent

function userAccount() {
  let user = null;
  try {
    user = JSON.parse(localStorage.getItem(USER_KEY));
  } catch {
    user = null;
  }
  if (!user || typeof user.id !== "string") {
    user = { id: `dl_${crypto.randomUUID().replaceAll("-", "")}`, name: "You" };
    localStorage.setItem(USER_KEY, JSON.stringify(user));
  }
  return user;
}
const user = userAccount();

function setStatus(text, kind) {
  ui.status.textContent = text;
  ui.status.dataset.state = kind;
}

function save() {
  sessionStorage.setItem(STATE_KEY, JSON.stringify(state));
  sessionStorage.setItem(TRANSCRIPT_KEY, JSON.stringify(transcript.slice(-KEPT_ACTIVITIES)));
}

async function call(method, path, { token, body, form } = {}) {
  const headers = { Authorization: `Bearer ${token}` };
  const init = { method, headers };
  if (form) {
    init.body = form;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(config.directLine.domain + path, init);
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    const message = (json && json.error && json.error.message) || text || response.statusText;
    const problem = new Error(`${method} ${path}: ${response.status} ${message}`);
    problem.status = response.status;
    throw problem;
  }
  return json;
}

// -- the conversation -------------------------------------------------------------------------------------------

async function start() {
  const mine = ++generation;
  closeSocket();
  setStatus("Connecting…", "connecting");
  clearTranscript();
  const generated = await call("POST", "/tokens/generate", {
    token: config.directLine.secret,
    body: { user: { id: user.id, name: user.name } },
  });
  const started = await call("POST", "/conversations", { token: generated.token });
  if (mine !== generation) return;
  state = { conversationId: started.conversationId, token: started.token, watermark: null };
  state.expiresAt = Date.now() + (started.expires_in ?? generated.expires_in ?? 1800) * 1000;
  save();
  showConversation();
  connect(started.streamUrl, mine);
}

async function resume() {
  const mine = generation;
  setStatus("Reconnecting…", "connecting");
  const query = state.watermark ? `?watermark=${encodeURIComponent(state.watermark)}` : "";
  let body;
  try {
    body = await call("GET", `/conversations/${encodeURIComponent(state.conversationId)}${query}`, {
      token: state.token,
    });
  } catch (problem) {
    if (mine !== generation) return;
    if (problem.status === 403 || problem.status === 404) {
      await start(); // the token expired or the emulator forgot the conversation: begin again, as Web Chat does
    } else {
      scheduleReconnect(mine);
    }
    return;
  }
  if (mine !== generation) return;
  if (body.token) state.token = body.token;
  save();
  showConversation();
  connect(body.streamUrl, mine);
}

function connect(streamUrl, mine) {
  closeSocket();
  const ws = new WebSocket(streamUrl);
  socket = ws;
  ws.addEventListener("open", () => {
    if (mine !== generation) return;
    reconnectDelay = 500;
    setStatus("Connected", "online");
  });
  ws.addEventListener("message", (event) => {
    if (mine !== generation || !event.data) return; // an empty frame is a keepalive
    let set;
    try {
      set = JSON.parse(event.data);
    } catch {
      return;
    }
    for (const activity of set.activities || []) receive(activity);
    if (set.watermark !== undefined && set.watermark !== null) state.watermark = String(set.watermark);
    save();
  });
  ws.addEventListener("close", () => {
    if (socket !== ws) return; // replaced on purpose
    socket = null;
    if (mine === generation) scheduleReconnect(mine);
  });
  scheduleRefresh(mine);
  pollInspector(mine);
}

function scheduleReconnect(mine) {
  setStatus("Reconnecting…", "connecting");
  const delay = reconnectDelay;
  reconnectDelay = Math.min(reconnectDelay * 2, 10000);
  setTimeout(() => {
    if (mine === generation) resume().catch(() => scheduleReconnect(mine));
  }, delay);
}

function scheduleRefresh(mine) {
  clearTimeout(refreshTimer);
  const wait = Math.max(5000, (state.expiresAt - Date.now()) / 2);
  refreshTimer = setTimeout(async () => {
    if (mine !== generation) return;
    try {
      const refreshed = await call("POST", "/tokens/refresh", { token: state.token });
      state.token = refreshed.token;
      state.expiresAt = Date.now() + (refreshed.expires_in ?? 1800) * 1000;
      save();
    } catch {
      // the next reconnect finds out whether the token still works
    }
    scheduleRefresh(mine);
  }, wait);
}

function closeSocket() {
  const ws = socket;
  socket = null;
  if (ws) ws.close();
}

function showConversation() {
  ui.conversation.textContent = state.conversationId;
}

function clearTranscript() {
  transcript = [];
  seen.clear();
  ownBubbles.clear();
  ui.transcript.replaceChildren();
  ui.suggested.replaceChildren();
  ui.entries.replaceChildren();
  inspectorAfter = 0;
  hideTyping();
}

// -- activities in ------------------------------------------------------------------------------------------

function fromUser(activity) {
  return Boolean(activity.from && activity.from.id === user.id);
}

function receive(activity, { replay = false } = {}) {
  if (!activity || typeof activity !== "object") return;
  if (activity.id && seen.has(activity.id)) return; // a stream may repeat what it sent
  if (activity.id) seen.add(activity.id);
  if (!replay) {
    transcript.push(activity);
    if (transcript.length > KEPT_ACTIVITIES * 2) transcript = transcript.slice(-KEPT_ACTIVITIES);
  }
  if (fromUser(activity)) {
    const clientId = activity.channelData && activity.channelData.clientActivityID;
    const bubble = clientId ? ownBubbles.get(clientId) : null;
    if (bubble) {
      markSent(bubble, activity.id);
      return;
    }
    if (activity.type === "message" && !isHidden(activity)) appendBubble(activity, "user");
    return;
  }
  if (activity.type === "typing") {
    if (activity.text) {
      streamUpdate(activity);
    } else if (!replay) {
      showTyping(activity);
    }
    return;
  }
  if (activity.type === "message") {
    hideTyping();
    const streamed = streamBubble(activity);
    const bubble = appendBubble(activity, "bot", streamed);
    if (!replay || transcript.at(-1) === activity) showSuggestedActions(activity);
    return bubble;
  }
  if (activity.type === "endOfConversation") {
    hideTyping();
    ui.transcript.append(element("li", "notice", "The bot ended the conversation."));
    setStatus("Ended", "ended");
    scrollDown();
  }
}

function isHidden(activity) {
  return Boolean(activity.channelData && activity.channelData.postBack);
}

function streamIdOf(activity) {
  const info = (activity.entities || []).find((entity) => entity && entity.type === "streaminfo");
  return info ? info.streamId || activity.id : null;
}

function streamBubble(activity) {
  const streamId = streamIdOf(activity);
  return streamId ? ui.transcript.querySelector(`[data-stream-id="${CSS.escape(streamId)}"]`) : null;
}

function streamUpdate(activity) {
  const existing = streamBubble(activity);
  const bubble = appendBubble(activity, "bot", existing);
  bubble.dataset.streamId = streamIdOf(activity) || activity.id || "";
  bubble.classList.add("streaming");
}

function showTyping(activity) {
  const name = (activity.from && activity.from.name) || config.bot.name || "The bot";
  ui.typing.textContent = `${name} is typing…`;
  ui.typing.hidden = false;
  scrollDown();
  clearTimeout(typingTimer);
  typingTimer = setTimeout(hideTyping, TYPING_TIMEOUT_MS);
}

function hideTyping() {
  clearTimeout(typingTimer);
  ui.typing.hidden = true;
}

function appendBubble(activity, role, replacing = null) {
  const li = element("li", `activity ${role}`);
  li.dataset.role = role;
  if (activity.id) li.dataset.activityId = activity.id;
  const name = role === "user" ? "You" : (activity.from && activity.from.name) || config.bot.name || "Bot";
  li.append(element("div", "sender", name));
  const bubble = element("div", "bubble");
  if (activity.text) bubble.append(formattedText(activity.text, activity.textFormat));
  const attachments = Array.isArray(activity.attachments) ? activity.attachments : [];
  if (attachments.length) {
    const box = element("div", `attachments ${activity.attachmentLayout === "carousel" ? "carousel" : "list"}`);
    for (const attachment of attachments) box.append(attachmentNode(attachment, (action) => cardAction(action)));
    bubble.append(box);
  }
  if (!activity.text && !attachments.length) bubble.append(element("p", "empty", "(no text)"));
  li.append(bubble);
  if (replacing) {
    replacing.replaceWith(li);
  } else {
    ui.transcript.append(li);
  }
  scrollDown();
  return li;
}

function markSent(bubble, id) {
  if (id) bubble.dataset.activityId = id;
  if (bubble.dataset.state === "failed") return; // stored, but the bot did not take it: the failure stays shown
  bubble.classList.remove("pending");
  bubble.dataset.state = "sent";
  const note = bubble.querySelector(".delivery");
  if (note) note.remove();
}

function scrollDown() {
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
}

function showSuggestedActions(activity) {
  ui.suggested.replaceChildren();
  const suggested = activity.suggestedActions;
  if (!suggested || !Array.isArray(suggested.actions)) return;
  if (Array.isArray(suggested.to) && suggested.to.length && !suggested.to.includes(user.id)) return;
  for (const action of suggested.actions) {
    if (!action || typeof action !== "object") continue;
    const button = element("button", "suggested-action", action.title ?? action.value ?? action.type);
    button.type = "button";
    button.addEventListener("click", () => {
      ui.suggested.replaceChildren();
      cardAction(action);
    });
    ui.suggested.append(button);
  }
  scrollDown(); // the buttons took room from the transcript
}

// -- activities out -----------------------------------------------------------------------------------------

function outgoing(fields) {
  const clientActivityID = crypto.randomUUID();
  return {
    type: "message",
    ...fields,
    from: { id: user.id, name: user.name, role: "user" },
    locale: navigator.language || "en-US",
    channelData: { ...(fields.channelData || {}), clientActivityID },
  };
}

function pendingBubble(activity, files = []) {
  const shown = { ...activity };
  if (files.length) shown.attachments = files.map((file) => ({ name: file.name, contentType: file.type }));
  const bubble = appendBubble(shown, "user");
  bubble.classList.add("pending");
  bubble.dataset.state = "sending";
  bubble.append(element("div", "delivery", "Sending…"));
  ownBubbles.set(activity.channelData.clientActivityID, bubble);
  return bubble;
}

function failed(bubble, problem) {
  bubble.classList.remove("pending");
  bubble.classList.add("failed");
  bubble.dataset.state = "failed";
  const note = bubble.querySelector(".delivery") || bubble.appendChild(element("div", "delivery"));
  note.textContent = `Send failed: ${problem.message}`;
}

async function post(activity, { display = true } = {}) {
  const mine = generation;
  if (!state) return null;
  ui.suggested.replaceChildren();
  const bubble = display ? pendingBubble(activity) : null;
  try {
    const answer = await call("POST", `/conversations/${encodeURIComponent(state.conversationId)}/activities`, {
      token: state.token,
      body: activity,
    });
    if (mine === generation && bubble) markSent(bubble, answer && answer.id);
    return answer;
  } catch (problem) {
    if (bubble) failed(bubble, problem);
    return null;
  }
}

async function upload(files, text) {
  const mine = generation;
  const activity = outgoing(text ? { text } : {});
  const bubble = pendingBubble(activity, files);
  const form = new FormData();
  // the files become the message's attachments: the activity part lists none, so each file is one attachment
  form.append("activity", new Blob([JSON.stringify(activity)], { type: "application/vnd.microsoft.activity" }));
  for (const file of files) form.append("file", file, file.name);
  const query = `?userId=${encodeURIComponent(user.id)}`;
  try {
    const path = `/conversations/${encodeURIComponent(state.conversationId)}/upload${query}`;
    const answer = await call("POST", path, { token: state.token, form });
    if (mine === generation) markSent(bubble, answer && answer.id);
  } catch (problem) {
    failed(bubble, problem);
  }
}

function cardAction(action) {
  const type = action.type;
  const value = action.value;
  if (type === "openUrl" || type === "Action.OpenUrl") {
    const href = safeUrl(action.url ?? value);
    if (href) window.open(href, "_blank", "noopener,noreferrer");
  } else if (type === "imBack") {
    post(outgoing({ text: String(value ?? action.title ?? "") }));
  } else if (type === "messageBack") {
    const shown = action.displayText ?? action.text;
    const activity = outgoing({ text: action.text, value, channelData: shown ? {} : { postBack: true } });
    post(activity, { display: Boolean(shown) });
  } else if (type === "postBack") {
    const fields = typeof value === "string" ? { text: value } : { value };
    post(outgoing({ ...fields, channelData: { postBack: true } }), { display: false });
  } else if (type === "Action.Submit") {
    const data = action.data;
    const fields = typeof data === "string" ? { text: data } : { value: data ?? {}, channelData: { postBack: true } };
    post(outgoing(fields), { display: typeof data === "string" });
  } else if (type === "Action.Execute") {
    const invoke = outgoing({
      type: "invoke",
      name: "adaptiveCard/action",
      value: { action: { type: "Action.Execute", id: action.id, verb: action.verb, data: action.data ?? {} }, trigger: "manual" },
    });
    post(invoke, { display: false });
  }
}

// -- the inspector --------------------------------------------------------------------------------------------

function pollInspector(mine) {
  clearTimeout(inspectorTimer);
  const poll = async () => {
    if (mine !== generation || !state) return;
    try {
      const query = `?conversationId=${encodeURIComponent(state.conversationId)}&after=${inspectorAfter}`;
      const response = await fetch(config.inspector + query);
      if (response.ok) {
        const feed = await response.json();
        if (mine !== generation) return;
        for (const entry of feed.entries) showEntry(entry);
        inspectorAfter = feed.last;
      }
    } catch {
      // the emulator is away: try again on the next tick
    }
    if (mine === generation) inspectorTimer = setTimeout(poll, INSPECTOR_POLL_MS);
  };
  poll();
}

function summary(activity) {
  if (!activity) return "(not an activity)";
  const parts = [activity.type || "?"];
  if (activity.name) parts.push(activity.name);
  if (activity.text) parts.push(JSON.stringify(activity.text.length > 60 ? `${activity.text.slice(0, 60)}…` : activity.text));
  const count = Array.isArray(activity.attachments) ? activity.attachments.length : 0;
  if (count) parts.push(`${count} attachment${count > 1 ? "s" : ""}`);
  return parts.join(" ");
}

// what the bot's call did, beside the arrow (sending is the usual case: no label)
const OPERATION_LABELS = {
  reply: "reply",
  update: "update",
  delete: "delete",
  createConversation: "new conversation",
  injected: "bot_says()",
};

function entrySummary(entry) {
  if (entry.operation === "delete") return `deleted ${entry.activityId || "?"}`;
  if (entry.operation === "createConversation" && !entry.activity) return entry.detail || "created the conversation";
  const text = summary(entry.activity);
  return entry.operation === "update" && entry.activityId ? `${entry.activityId}: ${text}` : text;
}

function showEntry(entry) {
  const li = element("li", `entry ${entry.direction}`);
  li.dataset.direction = entry.direction;
  li.dataset.status = entry.status === null ? "none" : String(entry.status);
  li.dataset.operation = entry.operation || "";
  const activityId = entry.activityId || (entry.activity && entry.activity.id);
  if (activityId) li.dataset.activityId = activityId;
  const injected = entry.operation === "injected";
  const ok = injected || (entry.status !== null && entry.status >= 200 && entry.status < 300);
  const details = element("details");
  const head = element("summary");
  head.append(element("span", "arrow", entry.direction === "toBot" ? "→ bot" : "← bot"));
  if (OPERATION_LABELS[entry.operation]) head.append(element("span", "operation", OPERATION_LABELS[entry.operation]));
  const shown = injected ? "no call" : entry.status === null ? "no answer" : entry.status;
  head.append(element("span", `status ${ok ? "ok" : "bad"}`, shown));
  head.append(element("span", "latency", `${entry.latencyMs} ms`));
  head.append(element("span", "what", entrySummary(entry)));
  details.append(head);
  if (entry.detail) details.append(element("div", "entry-detail", entry.detail));
  details.append(element("pre", "entry-json", JSON.stringify(entry.activity, null, 2)));
  li.append(details);
  li.dataset.startedAt = String(entry.startedAt);
  // entries arrive as calls end; they are shown in the order the calls began (a turn begins before its replies)
  const later = Array.from(ui.entries.children).find((other) => Number(other.dataset.startedAt) > entry.startedAt);
  ui.entries.insertBefore(li, later || null);
  ui.entries.scrollTop = ui.entries.scrollHeight;
}

// -- the page ---------------------------------------------------------------------------------------------------

function restoreTranscript() {
  let kept = [];
  try {
    kept = JSON.parse(sessionStorage.getItem(TRANSCRIPT_KEY)) || [];
  } catch {
    kept = [];
  }
  transcript = Array.isArray(kept) ? kept : [];
  for (const activity of transcript) receive(activity, { replay: true });
}

ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.text.value;
  const files = Array.from(ui.file.files || []);
  if (!state || (!text.trim() && !files.length)) return;
  ui.text.value = "";
  ui.file.value = "";
  if (files.length) {
    upload(files, text.trim());
  } else {
    post(outgoing({ text }));
  }
});

ui.file.addEventListener("change", () => {
  if (ui.file.files && ui.file.files.length) ui.composer.requestSubmit();
});

ui.restart.addEventListener("click", () => {
  sessionStorage.removeItem(STATE_KEY);
  sessionStorage.removeItem(TRANSCRIPT_KEY);
  start().catch((problem) => setStatus(`Cannot start: ${problem.message}`, "error"));
});

async function main() {
  const response = await fetch("/_emulator/chat/config");
  if (!response.ok) throw new Error(`the emulator gave no configuration (${response.status})`);
  config = await response.json();
  document.title = `${config.bot.name || "Bot"} · botconnect emulator`;
  $("bot-name").textContent = config.bot.name || config.bot.id || "Bot";
  try {
    state = JSON.parse(sessionStorage.getItem(STATE_KEY));
  } catch {
    state = null;
  }
  if (state && state.conversationId && state.token) {
    restoreTranscript();
    await resume();
  } else {
    await start();
  }
}

main().catch((problem) => setStatus(`Cannot start: ${problem.message}`, "error"));
