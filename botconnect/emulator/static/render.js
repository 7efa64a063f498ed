// Rendering of untrusted activity content into DOM nodes: a small safe markdown subset, attachments and cards.
// Text only ever reaches the page through textContent / createTextNode: no HTML string is parsed.

const SAFE_LINK_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);
const INLINE = new RegExp(
  [
    "(`+)([^`]+?)\\1", // code
    "\\*\\*(.+?)\\*\\*", // bold
    "(?<![\\w])__(.+?)__(?![\\w])", // bold
    "\\*(?!\\s)([^*]+?)\\*", // italics
    "(?<![\\w])_(?!\\s)([^_]+?)_(?![\\w])", // italics
    "\\[([^\\]]+)\\]\\(([^)\\s]+)\\)", // link
  ].join("|"),
);

export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function safeUrl(value) {
  if (typeof value !== "string" || !value) return null;
  try {
    const url = new URL(value, window.location.href);
    return SAFE_LINK_PROTOCOLS.has(url.protocol) ? url.href : null;
  } catch {
    return null;
  }
}

function safeImageUrl(value) {
  if (typeof value !== "string") return null;
  if (/^data:image\/(png|gif|jpeg|webp);base64,[a-z0-9+/=]+$/i.test(value)) return value;
  const url = safeUrl(value);
  return url && !url.startsWith("mailto:") ? url : null;
}

function appendInline(parent, text) {
  let rest = text;
  while (rest) {
    const match = INLINE.exec(rest);
    if (!match) {
      parent.append(document.createTextNode(rest));
      return;
    }
    if (match.index > 0) parent.append(document.createTextNode(rest.slice(0, match.index)));
    const [whole, , code, bold1, bold2, italic1, italic2, linkText, linkUrl] = match;
    if (code !== undefined) {
      parent.append(element("code", "", code));
    } else if (bold1 !== undefined || bold2 !== undefined) {
      const strong = element("strong");
      appendInline(strong, bold1 ?? bold2);
      parent.append(strong);
    } else if (italic1 !== undefined || italic2 !== undefined) {
      const em = element("em");
      appendInline(em, italic1 ?? italic2);
      parent.append(em);
    } else {
      const href = safeUrl(linkUrl);
      if (href) {
        const link = element("a");
        link.href = href;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        appendInline(link, linkText);
        parent.append(link);
      } else {
        parent.append(document.createTextNode(whole));
      }
    }
    rest = rest.slice(match.index + whole.length);
  }
}

const LIST_ITEM = /^\s*([-*+]|\d{1,9}[.)])\s+(.*)$/;

// Paragraphs, fenced code blocks, bulleted and numbered lists; inline bold, italics, code and links.
export function markdown(text) {
  const fragment = document.createDocumentFragment();
  const lines = String(text).replace(/\r\n?/g, "\n").split("\n");
  let paragraph = null;
  let list = null;
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i];
    if (/^\s*```/.test(line)) {
      const code = [];
      for (i += 1; i < lines.length && !/^\s*```/.test(lines[i]); i += 1) code.push(lines[i]);
      const pre = element("pre", "md-code");
      pre.append(element("code", "", code.join("\n")));
      fragment.append(pre);
      paragraph = list = null;
      continue;
    }
    const item = LIST_ITEM.exec(line);
    if (item) {
      const ordered = /\d/.test(item[1]);
      const tag = ordered ? "OL" : "UL";
      if (!list || list.tagName !== tag) {
        list = element(tag.toLowerCase());
        fragment.append(list);
      }
      const li = element("li");
      appendInline(li, item[2]);
      list.append(li);
      paragraph = null;
      continue;
    }
    if (!line.trim()) {
      paragraph = list = null;
      continue;
    }
    list = null;
    if (paragraph) {
      paragraph.append(element("br"));
    } else {
      paragraph = element("p");
      fragment.append(paragraph);
    }
    appendInline(paragraph, line);
  }
  return fragment;
}

export function formattedText(text, textFormat) {
  if (textFormat === "plain" || textFormat === "xml") {
    const p = element("p", "plain", text);
    return p;
  }
  return markdown(text);
}

function cardButton(action, onAction, title) {
  const button = element("button", "card-action", title ?? action.title ?? action.value ?? action.type);
  button.type = "button";
  button.dataset.actionType = String(action.type ?? "");
  button.addEventListener("click", () => onAction(action));
  return button;
}

function richCard(kind, content, onAction) {
  const card = element("div", `card ${kind}-card`);
  const images = Array.isArray(content.images) ? content.images : [];
  const body = element("div", "card-body");
  for (const image of images.slice(0, 1)) {
    const src = safeImageUrl(image && image.url);
    if (!src) continue;
    const img = element("img", "card-image");
    img.src = src;
    img.alt = typeof image.alt === "string" ? image.alt : "";
    card.append(img);
  }
  if (content.title) body.append(element("div", "card-title", content.title));
  if (content.subtitle) body.append(element("div", "card-subtitle", content.subtitle));
  if (content.text) {
    const text = element("div", "card-text");
    text.append(markdown(content.text));
    body.append(text);
  }
  const buttons = Array.isArray(content.buttons) ? content.buttons : [];
  if (buttons.length) {
    const row = element("div", "card-actions");
    for (const button of buttons) if (button && typeof button === "object") row.append(cardButton(button, onAction));
    body.append(row);
  }
  card.append(body);
  return card;
}

// Every Action.Submit / Action.Execute / Action.OpenUrl of an Adaptive Card, in document order (ShowCard bodies too).
function adaptiveActions(node, found = []) {
  if (Array.isArray(node)) {
    for (const item of node) adaptiveActions(item, found);
  } else if (node && typeof node === "object") {
    if (["Action.Submit", "Action.Execute", "Action.OpenUrl"].includes(node.type)) found.push(node);
    for (const value of Object.values(node)) if (value && typeof value === "object") adaptiveActions(value, found);
  }
  return found;
}

function adaptiveCard(content, onAction) {
  const card = element("div", "card adaptive-card");
  card.append(element("div", "card-kind", "Adaptive Card"));
  card.append(element("pre", "adaptive-json", JSON.stringify(content, null, 2)));
  const actions = adaptiveActions(content);
  if (actions.length) {
    const row = element("div", "card-actions");
    for (const action of actions) row.append(cardButton(action, onAction, action.title ?? action.verb ?? action.type));
    card.append(row);
  }
  return card;
}

function fileAttachment(attachment) {
  const box = element("div", "file-attachment");
  const name = attachment.name || attachment.contentUrl || "attachment";
  const href = safeUrl(attachment.contentUrl);
  const type = String(attachment.contentType || "");
  const image = type.startsWith("image/") ? safeImageUrl(attachment.contentUrl || attachment.thumbnailUrl) : null;
  if (image) {
    const img = element("img", "attachment-image");
    img.src = image;
    img.alt = name;
    box.append(img);
  }
  if (href) {
    const link = element("a", "file-name", name);
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    box.append(link);
  } else {
    box.append(element("span", "file-name", name));
  }
  if (type) box.append(element("span", "file-type", type));
  return box;
}

export function attachmentNode(attachment, onAction) {
  const type = String((attachment && attachment.contentType) || "");
  const content = attachment && attachment.content && typeof attachment.content === "object" ? attachment.content : {};
  if (type === "application/vnd.microsoft.card.hero") return richCard("hero", content, onAction);
  if (type === "application/vnd.microsoft.card.thumbnail") return richCard("thumbnail", content, onAction);
  if (type === "application/vnd.microsoft.card.adaptive") return adaptiveCard(content, onAction);
  if (attachment && (attachment.contentUrl || attachment.name)) return fileAttachment(attachment);
  const other = element("div", "card other-card");
  other.append(element("div", "card-kind", type || "attachment"));
  other.append(element("pre", "adaptive-json", JSON.stringify(attachment, null, 2)));
  return other;
}
