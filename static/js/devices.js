// Camera + microphone: preview, device pickers, mute toggles. Used by the host and the cohost.

import { setText } from "/static/js/ui.js";

const FRIENDLY = {
  NotAllowedError: "Camera or microphone access was blocked. Allow it in the browser's site settings, then retry.",
  SecurityError: "Camera or microphone access was blocked. Allow it in the browser's site settings, then retry.",
  NotFoundError: "No camera or microphone was found. Plug one in, then retry.",
  NotReadableError: "The camera or microphone is busy in another app. Close it, then retry.",
  OverconstrainedError: "That device is not available any more. Pick another one.",
};

export function describeMediaError(error) {
  return FRIENDLY[error?.name] || error?.message || "The camera could not start.";
}

export class Camera {
  /**
   * elements: { video, cameraSelect?, micSelect?, micButton?, camButton? }
   * onTrack(track): a track was replaced (device switch) — swap it in the publisher.
   */
  constructor(elements, { onTrack = () => {} } = {}) {
    this.el = elements;
    this.onTrack = onTrack;
    this.stream = null;
    this.micOn = true;
    this.camOn = true;
    this.el.micButton?.addEventListener("click", () => this.setMic(!this.micOn));
    this.el.camButton?.addEventListener("click", () => this.setCam(!this.camOn));
    this.el.cameraSelect?.addEventListener("change", () => this.switchDevice("video"));
    this.el.micSelect?.addEventListener("change", () => this.switchDevice("audio"));
    navigator.mediaDevices?.addEventListener?.("devicechange", () => this.populate());
  }

  constraints(kind) {
    const select = kind === "video" ? this.el.cameraSelect : this.el.micSelect;
    const id = select?.value;
    return id ? { deviceId: { exact: id } } : true;
  }

  /** Start (or restart) camera and mic; throws with a friendly message. */
  async start() {
    if (!navigator.mediaDevices?.getUserMedia) {
      throw new Error("This browser cannot use a camera here (a secure https page is needed).");
    }
    this.stop();
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        video: this.constraints("video"),
        audio: this.constraints("audio"),
      });
    } catch (error) {
      const wrapped = new Error(describeMediaError(error));
      wrapped.name = error?.name || "Error";
      throw wrapped;
    }
    this.el.video.srcObject = this.stream;
    this.el.video.muted = true; // never hear yourself
    this.apply();
    await this.populate();
    return this.stream;
  }

  stop() {
    for (const track of this.stream?.getTracks() || []) track.stop();
    this.stream = null;
  }

  track(kind) {
    return this.stream?.getTracks().find((t) => t.kind === kind) || null;
  }

  async populate() {
    if (!navigator.mediaDevices?.enumerateDevices) return;
    const devices = await navigator.mediaDevices.enumerateDevices();
    const fill = (select, kind, current) => {
      if (!select) return;
      const list = devices.filter((d) => d.kind === kind);
      select.replaceChildren(
        ...list.map((device, index) => {
          const option = document.createElement("option");
          option.value = device.deviceId;
          option.textContent = device.label || `${kind === "videoinput" ? "Camera" : "Microphone"} ${index + 1}`;
          option.selected = device.deviceId === current;
          return option;
        }),
      );
      select.disabled = list.length < 2 && Boolean(current);
    };
    fill(this.el.cameraSelect, "videoinput", this.track("video")?.getSettings().deviceId);
    fill(this.el.micSelect, "audioinput", this.track("audio")?.getSettings().deviceId);
  }

  async switchDevice(kind) {
    if (!this.stream) return;
    const fresh = await navigator.mediaDevices.getUserMedia({ [kind]: this.constraints(kind) });
    const track = fresh.getTracks()[0];
    const old = this.track(kind);
    if (old) {
      this.stream.removeTrack(old);
      old.stop();
    }
    this.stream.addTrack(track);
    this.apply();
    await this.onTrack(track);
  }

  setMic(on) {
    this.micOn = on;
    this.apply();
  }

  setCam(on) {
    this.camOn = on;
    this.apply();
  }

  /** Reflect the toggles on the tracks (a disabled track sends silence / black) and buttons. */
  apply() {
    const audio = this.track("audio");
    const video = this.track("video");
    if (audio) audio.enabled = this.micOn;
    if (video) video.enabled = this.camOn;
    const mic = this.el.micButton;
    if (mic) {
      mic.setAttribute("aria-pressed", String(!this.micOn));
      mic.dataset.off = String(!this.micOn);
      setText(mic.querySelector(".label") || mic, this.micOn ? "Mute mic" : "Unmute mic");
    }
    const cam = this.el.camButton;
    if (cam) {
      cam.setAttribute("aria-pressed", String(!this.camOn));
      cam.dataset.off = String(!this.camOn);
      setText(cam.querySelector(".label") || cam, this.camOn ? "Camera off" : "Camera on");
    }
    this.el.video.closest(".self-view")?.setAttribute("data-cam", this.camOn ? "on" : "off");
  }
}
