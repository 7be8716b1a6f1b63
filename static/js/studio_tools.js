// The studio's show tools: details and cover before live, rehearsal with the pre-live
// checklist, the big ON AIR state, pin, moderators, slow mode, blocked words, raid, restart.

import { api, currentUser } from "/static/js/api.js";
import { cover, shareBox } from "/static/js/lifecycle.js";
import { $, checkItem, fill, h, setText, toast } from "/static/js/ui.js";

const CHECK_LABELS = {
  host_video: "Camera",
  host_audio: "Microphone",
  listings_priced: "Items priced and in stock",
  compare_at_backed: "Compare-at prices",
  codes_ready: "Discount codes",
  return_address: "Return address",
};
const RESTART_WINDOW_MS = 2 * 3600 * 1000;

function toLocalInput(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

async function uploadCover(streamId, file) {
  const response = await fetch(`/api/streams/${streamId}/cover`, {
    method: "PUT",
    headers: { "Content-Type": file.type || "application/octet-stream", Authorization: `Bearer ${currentUser()?.token}` },
    body: file,
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error?.message || `HTTP ${response.status}`);
  return data.stream;
}

export class ShowTools {
  /** `onRehearse()` starts camera + publishing then the rehearsal; `onChange(stream)`. */
  constructor({ streamId, onRehearse, onChange }) {
    this.streamId = streamId;
    this.onRehearse = onRehearse;
    this.onChange = onChange;
    this.stream = null;
    this.pollTimer = null;
    this.banner = $("#onair");
    this.details = $("#details-panel");
    this.checklist = $("#checklist-panel");
    this.tools = $("#tools-panel");
    this.after = $("#after-panel");
    this.buildDetails();
    this.buildChecklist();
    this.buildTools();
  }

  path(suffix = "") {
    return `/api/streams/${encodeURIComponent(this.streamId)}${suffix}`;
  }

  // --- state --------------------------------------------------------------------------

  /** `publishing`: this page sends the host's camera (live but not: viewers get a slate). */
  update(stream, publishing = true) {
    this.stream = stream;
    const live = publishing ? "live" : "paused";
    const state = stream.status === "live" ? live : stream.status === "rehearsal" ? "rehearsal" : stream.status === "ended" ? "ended" : "offair";
    this.banner.dataset.state = state;
    const texts = {
      live: ["● LIVE", "Viewers see and hear you now"],
      paused: ["NOT ON AIR", "You're live, but viewers see a “Starting soon” slate — press Resume broadcast"],
      rehearsal: ["REHEARSAL", "Only you and your cohost see this — viewers are waiting"],
      offair: ["OFF AIR", "Nobody sees you yet"],
      ended: ["ENDED", "The show is over"],
    };
    setText($("#onair-state"), texts[state][0]);
    setText($("#onair-note"), texts[state][1]);
    const beforeLive = stream.status === "scheduled" || stream.status === "rehearsal";
    this.details.hidden = !beforeLive;
    this.checklist.hidden = !beforeLive;
    this.tools.hidden = stream.status !== "live";
    this.after.hidden = stream.status !== "ended";
    $("#rehearse").hidden = stream.status !== "scheduled";
    this.fillDetails(stream);
    this.showPinned(stream.pinned);
    if (stream.status === "rehearsal") this.pollChecklist();
    else this.stopPolling();
    if (stream.status === "scheduled") this.refreshChecklist();
    if (stream.status === "ended") this.renderAfter(stream);
    if (stream.status === "live") this.loadLiveShows();
  }

  // --- details and cover ----------------------------------------------------------------

  buildDetails() {
    const form = h("form", { class: "details-form", id: "details-form" },
      h("h2", { class: "panel-title" }, "Show details"),
      h("div", { class: "cover-edit" },
        h("div", { id: "cover-preview", class: "cover-preview" }),
        h("label", { class: "btn btn-small", for: "cover-file" }, "Change cover"),
        h("input", { id: "cover-file", type: "file", accept: "image/jpeg,image/png,image/webp", class: "visually-hidden" })),
      h("label", { for: "detail-title" }, "Title"),
      h("input", { id: "detail-title", name: "title", maxlength: 120, required: true }),
      h("label", { for: "detail-description" }, "Description"),
      h("textarea", { id: "detail-description", name: "description", maxlength: 2000, rows: 3 }),
      h("label", { for: "detail-when" }, "Starts at"),
      h("input", { id: "detail-when", name: "scheduled_at", type: "datetime-local" }),
      h("label", { for: "detail-kind" }, "Kind"),
      h("select", { id: "detail-kind", name: "kind" },
        h("option", { value: "video" }, "Video"), h("option", { value: "audio" }, "Audio only")),
      h("p", { class: "form-error", id: "details-error", role: "alert" }),
      h("div", { class: "row" }, h("button", { class: "btn btn-primary", type: "submit" }, "Save details")),
      h("div", { id: "share-slot" }));
    form.addEventListener("submit", (event) => this.saveDetails(event));
    this.details.append(form);
    $("#cover-file").addEventListener("change", async (event) => {
      const file = event.target.files?.[0];
      if (!file) return;
      try {
        const stream = await uploadCover(this.streamId, file);
        toast("Cover updated", "ok");
        this.onChange(stream);
      } catch (error) {
        toast(`Cover refused: ${error.message}`, "error");
      }
      event.target.value = "";
    });
  }

  fillDetails(stream) {
    if (this.details.hidden) return;
    $("#cover-preview").replaceChildren(cover(stream, "cover cover-wide"));
    if (document.activeElement?.closest?.("#details-form")) return; // typing: leave it be
    $("#detail-title").value = stream.title;
    $("#detail-description").value = stream.description || "";
    $("#detail-when").value = toLocalInput(stream.scheduled_at);
    $("#detail-kind").value = stream.kind;
    if (!$("#share-slot").childElementCount) $("#share-slot").append(shareBox(stream));
  }

  async saveDetails(event) {
    event.preventDefault();
    const when = $("#detail-when").value;
    try {
      const { stream } = await api("PATCH", this.path(), {
        title: $("#detail-title").value,
        description: $("#detail-description").value,
        scheduled_at: when ? new Date(when).toISOString() : null,
        kind: $("#detail-kind").value,
      });
      setText($("#details-error"), "");
      toast("Details saved", "ok");
      this.onChange(stream);
    } catch (error) {
      setText($("#details-error"), error.message);
    }
  }

  // --- rehearsal and checklist ----------------------------------------------------------

  buildChecklist() {
    this.checklist.append(
      h("h2", { class: "panel-title" }, "Before you go live"),
      h("p", { class: "muted" }, "Rehearse: your camera goes on air for you and your cohost only, while the checklist below turns green."),
      h("div", { class: "row" }, h("button", { id: "rehearse", class: "btn btn-rehearse", type: "button" }, "Rehearse")),
      h("ul", { id: "checks", class: "checks", "aria-live": "polite" }),
      h("p", { id: "checks-ready", class: "checks-ready" }));
    $("#rehearse").addEventListener("click", async () => {
      $("#rehearse").disabled = true;
      try {
        await this.onRehearse();
      } catch (error) {
        toast(`Could not start the rehearsal: ${error.message}`, "error");
      } finally {
        $("#rehearse").disabled = false;
      }
    });
  }

  async refreshChecklist() {
    try {
      const { ready, checks } = await api("GET", this.path("/checklist"));
      fill($("#checks"), checks.map((check) => checkItem({
        id: `check-${check.id}`, ok: check.ok, name: CHECK_LABELS[check.id] || check.id, detail: check.detail,
      })));
      $("#checks-ready").dataset.ready = String(ready);
      setText($("#checks-ready"), ready ? "All green — you're ready to go live." : "Fix the red items, or go live anyway.");
    } catch (error) {
      setText($("#checks-ready"), error.message);
    }
  }

  pollChecklist() {
    this.refreshChecklist();
    this.pollTimer ??= setInterval(() => this.refreshChecklist(), 1500);
  }

  stopPolling() {
    clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  // --- live tools: pin, moderators, chat settings, raid ----------------------------------

  buildTools() {
    const pinForm = h("form", { class: "tool", id: "pin-form" },
      h("label", { for: "pin-text" }, "Pin a message"),
      h("div", { class: "row" },
        h("input", { id: "pin-text", maxlength: 200, placeholder: "Free shipping over $50 tonight" }),
        h("button", { class: "btn btn-primary btn-small", type: "submit" }, "Pin"),
        h("button", { class: "btn btn-small", type: "button", id: "unpin" }, "Unpin")),
      h("p", { id: "pinned-now", class: "muted" }));
    pinForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      await this.act(() => api("POST", this.path("/pin"), { text: $("#pin-text").value }), "Pinned");
      $("#pin-text").value = "";
    });
    const modForm = h("form", { class: "tool", id: "mod-form" },
      h("label", { for: "mod-name" }, "Moderators (hide messages, mute)"),
      h("div", { class: "row" },
        h("input", { id: "mod-name", maxlength: 30, placeholder: "username" }),
        h("button", { class: "btn btn-small", type: "submit" }, "Add")),
      h("ul", { id: "mod-list", class: "mod-list" }));
    modForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const name = $("#mod-name").value.replace(/^@/, "").trim();
      if (!name) return;
      try {
        const { moderators } = await api("POST", this.path(`/moderators/${encodeURIComponent(name)}`));
        this.renderModerators(moderators);
        $("#mod-name").value = "";
        toast(`@${name} is a moderator`, "ok");
      } catch (error) {
        toast(error.message, "error");
      }
    });
    const chatForm = h("form", { class: "tool", id: "chat-form" },
      h("label", { for: "slow-mode" }, "Slow mode"),
      h("select", { id: "slow-mode" }, ...[0, 5, 10, 30, 60].map((s) => h("option", { value: s }, s ? `One message every ${s} s` : "Off"))),
      h("label", { for: "blocked-words" }, "Blocked words (comma-separated)"),
      h("input", { id: "blocked-words", placeholder: "scam, fake" }),
      h("div", { class: "row" }, h("button", { class: "btn btn-small", type: "submit" }, "Save chat rules")));
    chatForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const words = $("#blocked-words").value.split(",").map((w) => w.trim()).filter(Boolean);
      await this.act(() => api("PATCH", this.path("/chat"), {
        slow_mode_seconds: Number($("#slow-mode").value), blocked_words: words,
      }), "Chat rules saved");
    });
    const raidForm = h("form", { class: "tool", id: "raid-form" },
      h("label", { for: "raid-target" }, "Raid: send your viewers to another live show"),
      h("div", { class: "row" },
        h("select", { id: "raid-target" }, h("option", { value: "" }, "Pick a live show…")),
        h("button", { class: "btn btn-danger btn-small", type: "submit" }, "Raid and end")));
    raidForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const target = $("#raid-target").value;
      if (!target) return toast("Pick a live show to raid", "info");
      await this.act(() => api("POST", this.path("/raid"), { to_stream_id: target }), "Raid sent: your viewers are on their way");
    });
    $("#unpin", pinForm).addEventListener("click", () => this.act(() => api("DELETE", this.path("/pin")), "Unpinned"));
    this.tools.append(h("h2", { class: "panel-title" }, "Show tools"), pinForm, modForm, chatForm, raidForm);
    api("GET", this.path("/moderators")).then(({ moderators }) => this.renderModerators(moderators)).catch(() => {});
  }

  async act(call, message) {
    try {
      const { stream } = await call();
      toast(message, "ok");
      if (stream) this.onChange(stream);
    } catch (error) {
      toast(error.message, "error");
    }
  }

  showPinned(pinned) {
    setText($("#pinned-now"), pinned ? `Pinned now: “${pinned.text}”` : "Nothing pinned.");
  }

  renderModerators(names) {
    $("#mod-list").replaceChildren(...names.map((name) => h("li", {},
      h("span", {}, `@${name}`),
      h("button", { type: "button", class: "btn btn-small", "aria-label": `Remove moderator @${name}`, onclick: async () => {
        try {
          const { moderators } = await api("DELETE", this.path(`/moderators/${encodeURIComponent(name)}`));
          this.renderModerators(moderators);
        } catch (error) {
          toast(error.message, "error");
        }
      } }, "Remove"))));
  }

  async loadLiveShows() {
    try {
      const { streams } = await api("GET", "/api/streams?status=live");
      const others = streams.filter((s) => s.id !== this.streamId);
      $("#raid-target").replaceChildren(h("option", { value: "" }, others.length ? "Pick a live show…" : "No other show is live"),
        ...others.map((s) => h("option", { value: s.id }, `${s.title} — @${s.host} (${s.viewers} watching)`)));
    } catch {
      /* the raid list stays as it was */
    }
  }

  // --- after the show ---------------------------------------------------------------------

  renderAfter(stream) {
    const endedMs = stream.ended_at_ms ?? 0;
    const canRestart = stream.started_at && Date.now() - endedMs < RESTART_WINDOW_MS;
    const restart = h("button", { type: "button", class: "btn btn-live", id: "restart" }, "Restart the show");
    restart.addEventListener("click", async () => {
      try {
        await api("POST", this.path("/start"));
        location.reload();
      } catch (error) {
        toast(error.message, "error");
      }
    });
    fill(this.after,
      h("h2", { class: "panel-title" }, "After the show"),
      stream.raided_to ? h("p", {}, "You raided another show: your viewers went there.") : null,
      canRestart ? h("p", { class: "muted" }, "Ended by mistake? You can restart within two hours of the end.") : null,
      h("div", { class: "row" }, canRestart ? restart : null,
        h("a", { class: "btn btn-primary", href: `/dashboard#${encodeURIComponent(stream.id)}` }, "See the figures")));
  }
}
