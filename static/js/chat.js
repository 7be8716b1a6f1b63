// The chat panel shared by the studio and the watch page.
// Messages are rendered with text nodes only (never HTML); @mentions are highlighted,
// usernames open a per-role menu, and "@" in the composer autocompletes from user:suggest.

import { h, setText, toast } from "/static/js/ui.js";

const MAX_MESSAGES = 200;
const MAX_LENGTH = 500;
const MENTION = /@([A-Za-z0-9_]{1,30})/g;

let menuCounter = 0;

/** What the input says when the server refuses a message because the chat is shut. */
export const CLOSED = {
  stream_ended: "Chat closed — show ended",
  stream_not_live: "Chat opens at showtime",
};

export class ChatPanel {
  /**
   * room: a Room; me: username or null;
   * menuFor(username, message|null) -> [{label, run, id?}] for the username menu;
   * signInForm: an element shown to anonymous people instead of the composer.
   */
  constructor(root, { room, me = null, menuFor = () => [], signInForm = null }) {
    this.root = root;
    this.room = room;
    this.me = me;
    this.menuFor = menuFor;
    this.muted = false;
    this.available = true;
    this.closed = null; // why nobody may send now (the show ended), or null
    this.messages = new Map();
    this.suggestions = [];
    this.active = -1;
    this.suggestSeq = 0;
    this.menu = null;
    this.build(signInForm);
    this.room.on("chat:message", (message) => this.add(message));
    this.room.on("chat:hidden", ({ id }) => this.hide(id));
    const here = (data) => !data?.stream_id || data.stream_id === room.streamId;
    this.room.on("user:muted", (data) => here(data) && this.setMuted(true));
    this.room.on("user:unmuted", (data) => here(data) && this.setMuted(false));
    document.addEventListener("click", (event) => {
      if (!this.menu || this.menu.contains(event.target)) return;
      if (this.menuAnchor?.contains(event.target)) return; // the click that opened it
      this.closeMenu(false);
    });
  }

  build(signInForm) {
    this.list = h("ol", {
      class: "chat-list",
      id: "chat-list",
      role: "log",
      "aria-live": "polite",
      "aria-label": "Chat messages",
    });
    this.emptyNote = h("li", { class: "chat-empty muted" }, "Say hi! Messages appear here.");
    this.list.append(this.emptyNote);
    this.input = h("input", {
      id: "chat-input",
      type: "text",
      maxlength: MAX_LENGTH,
      autocomplete: "off",
      placeholder: "Say something…",
      role: "combobox",
      "aria-autocomplete": "list",
      "aria-expanded": "false",
      "aria-controls": "chat-suggest",
      "aria-label": "Chat message",
    });
    this.suggest = h("ul", { id: "chat-suggest", class: "suggest", role: "listbox", hidden: true, "aria-label": "Mention suggestions" });
    this.sendButton = h("button", { type: "submit", class: "btn btn-primary", id: "chat-send" }, "Send");
    this.error = h("p", { class: "chat-error", id: "chat-error", role: "alert" });
    this.composer = h(
      "form",
      { class: "chat-composer", id: "chat-composer", autocomplete: "off" },
      h("div", { class: "composer-row" }, this.input, this.sendButton),
      this.suggest,
    );
    this.signIn = h(
      "div",
      { class: "chat-signin", id: "chat-signin" },
      h("p", { class: "muted" }, "Chat is read-only until you sign in."),
    );
    if (signInForm) {
      const reveal = h("button", { type: "button", class: "btn btn-primary", id: "chat-signin-open" }, "Sign in to chat");
      signInForm.hidden = true;
      reveal.addEventListener("click", () => {
        reveal.hidden = true;
        signInForm.hidden = false;
        signInForm.querySelector("input")?.focus();
      });
      this.signIn.append(reveal, signInForm);
    }
    this.root.append(
      h("h2", { class: "panel-title" }, "Live chat"),
      this.list,
      h("div", { class: "chat-footer" }, this.composer, this.signIn, this.error),
    );
    this.composer.addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.suggestOpen && this.active >= 0) return this.pick(this.active);
      this.send();
    });
    this.input.addEventListener("input", () => this.onInput());
    this.input.addEventListener("keydown", (event) => this.onKey(event));
    this.input.addEventListener("blur", () => setTimeout(() => this.closeSuggest(), 150));
    this.refresh();
  }

  /** Who is typing (null = anonymous). */
  setMe(username) {
    this.me = username;
    this.refresh();
    for (const message of this.messages.values()) this.render(message, true);
  }

  setMuted(muted) {
    this.muted = muted;
    this.refresh();
    if (muted) setText(this.error, "The host muted you in this chat.");
    else setText(this.error, "");
  }

  /** `reason`: why this chat takes no messages now, shown in the input; null: open. */
  setClosed(reason) {
    this.closed = reason;
    this.refresh();
  }

  setAvailable(available) {
    this.available = available;
    this.refresh();
  }

  refresh() {
    const signedIn = Boolean(this.me);
    // A closed chat shows why to everyone: signing in would not open it.
    this.composer.hidden = !signedIn && !this.closed;
    this.signIn.hidden = signedIn || Boolean(this.closed);
    const disabled = !this.available || this.muted || Boolean(this.closed);
    this.input.disabled = disabled;
    this.sendButton.disabled = disabled;
    this.input.placeholder = this.closed
      ? this.closed
      : this.muted
      ? "You are muted"
      : this.available
        ? "Say something…"
        : "Chat is connecting…";
  }

  setMessages(messages) {
    for (const node of [...this.list.querySelectorAll(".chat-message")]) node.remove();
    this.messages.clear();
    for (const message of messages || []) this.add(message);
  }

  add(message) {
    if (!message?.id || this.messages.has(message.id)) return;
    this.messages.set(message.id, message);
    const stick = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 60;
    this.list.append(this.render(message));
    this.emptyNote.hidden = true;
    while (this.messages.size > MAX_MESSAGES) {
      const [oldest] = this.messages.keys();
      this.hide(oldest);
    }
    if (stick) this.list.scrollTop = this.list.scrollHeight;
  }

  hide(id) {
    this.messages.delete(id);
    this.list.querySelector(`[data-id="${CSS.escape(String(id))}"]`)?.remove();
    this.emptyNote.hidden = this.messages.size > 0;
  }

  /** One message as DOM: a username button and the text with highlighted mentions. */
  render(message, replace = false) {
    const mentions = new Set((message.mentions || []).map((name) => name.toLowerCase()));
    const mine = this.me && message.user?.toLowerCase() === this.me.toLowerCase();
    const mentionsMe = this.me && mentions.has(this.me.toLowerCase());
    const text = h("span", { class: "chat-text" });
    let last = 0;
    for (const match of message.text.matchAll(MENTION)) {
      if (!mentions.has(match[1].toLowerCase())) continue;
      text.append(document.createTextNode(message.text.slice(last, match.index)));
      const me = this.me && match[1].toLowerCase() === this.me.toLowerCase();
      text.append(
        h(
          "button",
          {
            type: "button",
            class: me ? "mention mention-me" : "mention",
            "aria-haspopup": "menu",
            onclick: (event) => this.openMenu(event.currentTarget, match[1], null),
          },
          match[0],
        ),
      );
      last = match.index + match[0].length;
    }
    text.append(document.createTextNode(message.text.slice(last)));
    const node = h(
      "li",
      {
        class: `chat-message${mine ? " mine" : ""}${mentionsMe ? " mentions-me" : ""}`,
        dataset: { id: message.id, user: message.user },
      },
      h(
        "button",
        {
          type: "button",
          class: "chat-user",
          "aria-haspopup": "menu",
          onclick: (event) => this.openMenu(event.currentTarget, message.user, message),
        },
        message.user,
      ),
      " ",
      text,
    );
    if (replace) {
      this.list.querySelector(`[data-id="${CSS.escape(String(message.id))}"]`)?.replaceWith(node);
    }
    return node;
  }

  async send() {
    const text = this.input.value.trim();
    if (!text) return;
    setText(this.error, "");
    this.sendButton.disabled = true;
    try {
      const ack = await this.room.request("chat:send", { text });
      this.input.value = "";
      if (ack.message) this.add(ack.message);
    } catch (error) {
      const messages = {
        rate_limited: "Slow down a little — too many messages.",
        muted: "The host muted you in this chat.",
        unauthorized: "Sign in to chat.",
      };
      const closed = CLOSED[error.code];
      if (closed) this.setClosed(closed);
      else setText(this.error, messages[error.code] || error.message);
      if (error.code === "muted") this.setMuted(true);
    } finally {
      this.sendButton.disabled = this.muted || !this.available || Boolean(this.closed);
      this.input.focus();
    }
  }

  // --- @ autocomplete -------------------------------------------------------

  get suggestOpen() {
    return !this.suggest.hidden;
  }

  /** The "@prefix" being typed at the caret, or null. */
  mentionAtCaret() {
    const caret = this.input.selectionStart ?? this.input.value.length;
    const before = this.input.value.slice(0, caret);
    const match = /(^|\s)@([A-Za-z0-9_]{0,30})$/.exec(before);
    return match ? { prefix: match[2], start: caret - match[2].length - 1, end: caret } : null;
  }

  async onInput() {
    const at = this.mentionAtCaret();
    if (!at || !at.prefix) return this.closeSuggest();
    const seq = ++this.suggestSeq;
    let users = [];
    try {
      ({ users } = await this.room.request("user:suggest", { prefix: at.prefix }));
    } catch {
      users = [];
    }
    if (seq !== this.suggestSeq) return; // a newer keystroke won
    const names = (users || [])
      .map((user) => (typeof user === "string" ? user : user?.username))
      .filter((name) => name && name !== this.me);
    this.showSuggest(names);
  }

  showSuggest(names) {
    this.suggestions = names;
    this.suggest.replaceChildren(
      ...names.map((name, index) =>
        h(
          "li",
          {
            id: `chat-suggest-${index}`,
            role: "option",
            class: "suggest-option",
            "aria-selected": "false",
            onmousedown: (event) => event.preventDefault(),
            onclick: () => this.pick(index),
          },
          h("span", { class: "avatar", "aria-hidden": "true" }, name.slice(0, 1).toUpperCase()),
          `@${name}`,
        ),
      ),
    );
    this.suggest.hidden = names.length === 0;
    this.input.setAttribute("aria-expanded", String(names.length > 0));
    this.setActive(names.length ? 0 : -1);
  }

  setActive(index) {
    this.active = index;
    [...this.suggest.children].forEach((node, i) => node.setAttribute("aria-selected", String(i === index)));
    if (index >= 0) this.input.setAttribute("aria-activedescendant", `chat-suggest-${index}`);
    else this.input.removeAttribute("aria-activedescendant");
  }

  closeSuggest() {
    this.suggest.hidden = true;
    this.suggestions = [];
    this.input.setAttribute("aria-expanded", "false");
    this.setActive(-1);
  }

  pick(index) {
    const name = this.suggestions[index];
    const at = this.mentionAtCaret();
    if (!name || !at) return this.closeSuggest();
    const value = this.input.value;
    const inserted = `@${name} `;
    this.input.value = value.slice(0, at.start) + inserted + value.slice(at.end);
    const caret = at.start + inserted.length;
    this.input.setSelectionRange(caret, caret);
    this.closeSuggest();
    this.input.focus();
  }

  onKey(event) {
    if (!this.suggestOpen) return;
    const count = this.suggestions.length;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      this.setActive((this.active + 1) % count);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      this.setActive((this.active - 1 + count) % count);
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      this.pick(Math.max(0, this.active));
    } else if (event.key === "Escape") {
      event.preventDefault();
      this.closeSuggest();
    }
  }

  /** Put "@name " into the composer (used by the username menu). */
  mention(name) {
    const value = this.input.value;
    this.input.value = `${value}${value && !value.endsWith(" ") ? " " : ""}@${name} `;
    this.input.focus();
  }

  // --- username menu -------------------------------------------------------

  openMenu(anchor, username, message) {
    this.closeMenu(false);
    const items = this.menuFor(username, message) || [];
    if (!items.length) return;
    const id = `user-menu-${++menuCounter}`;
    const buttons = items.map((item) =>
      h(
        "button",
        {
          type: "button",
          role: "menuitem",
          class: `menu-item${item.danger ? " danger" : ""}`,
          dataset: { action: item.id || "" },
          onclick: async (event) => {
            event.stopPropagation();
            this.closeMenu(true);
            try {
              await item.run();
            } catch (error) {
              toast(error.message, "error");
            }
          },
        },
        item.label,
      ),
    );
    this.menu = h(
      "div",
      { class: "user-menu", role: "menu", id, "aria-label": `Actions for ${username}` },
      h("p", { class: "menu-title" }, `@${username}`),
      ...buttons,
    );
    this.menuAnchor = anchor;
    anchor.setAttribute("aria-expanded", "true");
    anchor.setAttribute("aria-controls", id);
    this.menu.addEventListener("keydown", (event) => {
      const index = buttons.indexOf(document.activeElement);
      if (event.key === "Escape") {
        event.preventDefault();
        this.closeMenu(true);
      } else if (event.key === "ArrowDown") {
        event.preventDefault();
        buttons[(index + 1) % buttons.length].focus();
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        buttons[(index - 1 + buttons.length) % buttons.length].focus();
      }
    });
    document.body.append(this.menu);
    const rect = anchor.getBoundingClientRect();
    const menuRect = this.menu.getBoundingClientRect();
    const top = Math.min(rect.bottom + 4, window.innerHeight - menuRect.height - 8);
    const left = Math.min(rect.left, window.innerWidth - menuRect.width - 8);
    this.menu.style.top = `${Math.max(8, top)}px`;
    this.menu.style.left = `${Math.max(8, left)}px`;
    buttons[0].focus();
  }

  closeMenu(returnFocus) {
    if (!this.menu) return;
    this.menu.remove();
    this.menu = null;
    this.menuAnchor?.setAttribute("aria-expanded", "false");
    if (returnFocus && this.menuAnchor?.isConnected) this.menuAnchor.focus();
    this.menuAnchor = null;
  }
}
