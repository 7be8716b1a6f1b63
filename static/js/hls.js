// HLS playback of the same composite, a few seconds behind live: for viewers whose
// WebRTC fails, when the server is at WebRTC capacity, or with ?mode=hls.
// hls.js is the npm package, served by the server at /vendor/hls.js/.

const HLS_URL = "/vendor/hls.js/hls.min.mjs";

export function hlsRequested() {
  return new URLSearchParams(location.search).get("mode") === "hls";
}

/** Play /hls/{streamId}/index.m3u8 in `video`; resolves with { stop() }. */
export async function playHls(video, streamId) {
  const url = `/hls/${encodeURIComponent(streamId)}/index.m3u8`;
  const { default: Hls } = await import(HLS_URL);
  if (!Hls.isSupported()) {
    // Safari and iOS play HLS natively.
    video.src = url;
    video.play().catch(() => {});
    return { kind: "hls", stop() { video.removeAttribute("src"); video.load(); } };
  }
  const hls = new Hls({ liveSyncDurationCount: 3, manifestLoadingMaxRetry: 10 });
  let stopped = false;
  hls.on(Hls.Events.ERROR, (_event, data) => {
    if (!data.fatal || stopped) return;
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
      hls.recoverMediaError();
    } else {
      // The playlist may not exist yet (first segment still being cut) or the
      // network hiccupped: try again shortly.
      setTimeout(() => !stopped && hls.loadSource(url), 2000);
    }
  });
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
  hls.loadSource(url);
  hls.attachMedia(video);
  return {
    kind: "hls",
    hls,
    stop() {
      stopped = true;
      hls.destroy();
    },
  };
}
