// Replay page: the show's recording (MP4 served with range requests, so seeking
// fetches only what it needs). A show recorded in parts (the media room closed
// and reopened, or the layout switched to portrait and back: one size per file)
// plays its parts one after the other, and each part can be picked.

import { api, streamIdFromPath } from "/static/js/api.js";
import { $, h, setText } from "/static/js/ui.js";

const streamId = streamIdFromPath();
const player = $("#player");
let parts = [];
let current = 0;

function minutes(seconds) {
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

async function load() {
  try {
    const { stream } = await api("GET", `/api/streams/${encodeURIComponent(streamId)}`);
    setText($("#title"), stream.title);
    document.title = `Replay: ${stream.title} — Costream`;
    setText($("#host-name"), `@${stream.host}`);
    setText($("#description"), stream.description || "");
  } catch {
    setText($("#title"), "Show not found");
    return;
  }
  try {
    const recording = await api("GET", `/api/streams/${encodeURIComponent(streamId)}/recording`);
    parts = recording.parts?.length ? recording.parts : [recording];
    const total = parts.reduce((sum, part) => sum + part.duration_s, 0);
    const inParts = parts.length > 1 ? ` in ${parts.length} parts` : "";
    setText($("#duration"), `Recording, ${minutes(total)} long${inParts}.`);
    showPartButtons();
    play(0);
  } catch (error) {
    $("#no-recording").hidden = false;
    setText($("#no-recording-note"), error.code === "recording_not_found"
      ? "This show was not recorded, or its recording is not ready."
      : "The recording could not be loaded.");
  }
}

function play(index, start = false) {
  current = index;
  player.src = parts[index].url;
  for (const [i, button] of document.querySelectorAll("#parts button").entries()) {
    button.setAttribute("aria-pressed", String(i === index));
  }
  if (start) player.play().catch(() => {});  // autoplay may be refused: controls remain
}

function showPartButtons() {
  const nav = $("#parts");
  nav.replaceChildren();
  nav.hidden = parts.length < 2;
  parts.forEach((part, index) => {
    const label = `Part ${index + 1} (${minutes(part.duration_s)})`;
    nav.append(h("button", {
      class: "btn btn-small", type: "button", "aria-pressed": "false",
      onclick: () => play(index, true),
    }, label));
  });
}

// The next part follows the one that ends, so the show plays through.
player.addEventListener("ended", () => {
  if (current + 1 < parts.length) play(current + 1, true);
});

load();
