// Replay page: the show's recording (MP4 served with range requests, so seeking
// fetches only what it needs).

import { api, streamIdFromPath } from "/static/js/api.js";
import { $, setText } from "/static/js/ui.js";

const streamId = streamIdFromPath();
const player = $("#player");

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
    player.src = recording.url;
    setText($("#duration"), `Recording, ${minutes(recording.duration_s)} long.`);
  } catch (error) {
    $("#no-recording").hidden = false;
    setText($("#no-recording-note"), error.code === "recording_not_found"
      ? "This show was not recorded, or its recording is not ready."
      : "The recording could not be loaded.");
  }
}

load();
