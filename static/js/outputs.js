// Studio panel for the outputs beyond WebRTC: layout mode, recording, HLS link,
// simulcast destinations with their live status, and the on-screen QR code warning.

import { api } from "/static/js/api.js";
import { h, setChip, setText, toast } from "/static/js/ui.js";

const LAYOUTS = [
  ["side_by_side", "Side by side (fill)"],
  ["side_by_side_letterbox", "Side by side (whole cameras)"],
  ["portrait", "Portrait (phones)"],
];
const STATUS = {
  idle: ["idle", "Starts when you go live"],
  connecting: ["connecting", "Connecting…"],
  live: ["ok", "Live"],
  retrying: ["warn", "Retrying…"],
  failed: ["bad", "Failed"],
  ended: ["idle", "Stopped"],
};
const POLL_MS = 3000;

/** The URL without its stream key (the last path part is a secret). */
function shownUrl(url) {
  const cut = url.lastIndexOf("/");
  return cut > url.indexOf("://") + 2 ? `${url.slice(0, cut + 1)}••••` : url;
}

export class OutputsPanel {
  constructor(root, streamId, room) {
    this.root = root;
    this.streamId = streamId;
    this.base = `/api/streams/${encodeURIComponent(streamId)}`;
    this.timer = null;
    this.layout = h("select", { id: "layout-select", onchange: () => this.setLayout() },
      LAYOUTS.map(([value, label]) => h("option", { value }, label)));
    this.record = h("input", { type: "checkbox", id: "record-toggle", onchange: () => this.setRecord() });
    this.hls = h("p", { class: "muted small", id: "hls-link" });
    this.warning = h("p", { class: "form-error", id: "qr-warning", role: "alert", hidden: true });
    this.list = h("ul", { class: "destinations", id: "destinations", "aria-live": "polite" });
    this.url = h("input", {
      id: "destination-url", type: "url", required: true, maxlength: 500,
      placeholder: "rtmps://live.example.com/app/stream-key", autocomplete: "off",
    });
    const form = h("form", { class: "row", onsubmit: (event) => this.add(event) },
      this.url, h("button", { type: "submit", class: "btn btn-small" }, "Add"));
    root.replaceChildren(
      h("h2", { class: "panel-title", id: "outputs-heading" }, "Outputs"),
      this.warning,
      h("label", { for: "layout-select" }, "Layout"), this.layout,
      h("label", { class: "row", for: "record-toggle" }, this.record, "Record this show"),
      this.hls,
      h("h3", { class: "panel-subtitle" }, "Simulcast (RTMP)"),
      this.list,
      h("label", { for: "destination-url" }, "Add a destination"), form,
    );
    room.on("qr:detected", ({ payload }) => this.qrWarning(payload));
  }

  async start() {
    try {
      const { outputs } = await api("GET", `${this.base}/outputs`);
      this.layout.value = outputs.layout;
      this.record.checked = outputs.record;
      setText(this.hls, outputs.hls_url ? `HLS for any player or CDN: ${location.origin}${outputs.hls_url}` : "");
    } catch {
      return; // not the host: the panel stays empty
    }
    await this.refresh();
    this.timer = setInterval(() => !document.hidden && this.refresh(), POLL_MS);
  }

  async setLayout() {
    try {
      await api("PATCH", `${this.base}/layout`, { layout: this.layout.value });
    } catch (error) {
      toast(error.message, "error");
    }
  }

  async setRecord() {
    try {
      await api("PATCH", `${this.base}/outputs`, { record: this.record.checked });
    } catch (error) {
      this.record.checked = !this.record.checked;
      toast(error.message, "error");
    }
  }

  async add(event) {
    event.preventDefault();
    try {
      await api("POST", `${this.base}/destinations`, { url: this.url.value.trim() });
      this.url.value = "";
      await this.refresh();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  async remove(id) {
    try {
      await api("DELETE", `${this.base}/destinations/${encodeURIComponent(id)}`);
      await this.refresh();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  async refresh() {
    let destinations;
    try {
      ({ destinations } = await api("GET", `${this.base}/destinations`));
    } catch {
      return;
    }
    this.list.replaceChildren(...destinations.map((d) => {
      const [state, label] = STATUS[d.status] || ["idle", d.status];
      const chip = h("span", { class: "chip" });
      setChip(chip, state, d.error && d.status !== "live" ? `${label}: ${d.error}` : label);
      return h("li", { class: "destination", dataset: { id: d.id, status: d.status } },
        h("span", { class: "destination-url" }, shownUrl(d.url)), chip,
        h("button", { type: "button", class: "btn btn-small", onclick: () => this.remove(d.id) }, "Remove"));
    }));
    if (!destinations.length) this.list.append(h("li", { class: "muted" }, "No destinations yet."));
  }

  qrWarning(payload) {
    const text = "A QR code is on screen. Showing QR codes breaks the seller rules: take it out of the picture.";
    setText(this.warning, payload ? `${text} (It reads: ${payload})` : text);
    this.warning.hidden = false;
    toast("QR code on screen: take it out of the picture.", "error", 8000);
    clearTimeout(this.warningTimer);
    this.warningTimer = setTimeout(() => { this.warning.hidden = true; }, 15000);
  }
}
