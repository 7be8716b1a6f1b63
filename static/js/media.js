// WHIP publish and WHEP play from the browser (RFC 9725 / WHEP draft).
// Non-trickle: the offer is sent once ICE gathering completes.

async function gathered(pc, timeoutMs = 3000) {
  if (pc.iceGatheringState === "complete") return;
  await new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === "complete") resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, timeoutMs); // send what we have; the server gathers too
  });
}

async function negotiate(pc, url, token) {
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const headers = { "Content-Type": "application/sdp" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(url, { method: "POST", headers, body: pc.localDescription.sdp });
  if (response.status !== 201) {
    let message = `${response.status}`;
    try {
      const body = await response.json();
      message = body.error?.message || message;
      const error = new Error(message);
      error.code = body.error?.code;
      throw error;
    } catch (error) {
      if (error.code) throw error;
      throw new Error(message);
    }
  }
  const location = new URL(response.headers.get("Location"), response.url).toString();
  await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  return location;
}

function session(pc, location, token, extra = {}) {
  return {
    pc,
    location,
    ...extra,
    /** cb(state): "connecting" | "connected" | "reconnecting" | "failed" | "closed". */
    onState(cb) {
      const map = { new: "connecting", connecting: "connecting", connected: "connected",
        disconnected: "reconnecting", failed: "failed", closed: "closed" };
      const report = () => cb(map[pc.connectionState] || pc.connectionState);
      pc.addEventListener("connectionstatechange", report);
      report();
    },
    /** Swap the outgoing track of that kind (device change) without renegotiating. */
    async replaceTrack(track) {
      const transceiver = pc.getTransceivers().find((t) => t.receiver.track?.kind === track.kind);
      if (transceiver) await transceiver.sender.replaceTrack(track);
    },
    /**
     * Call `onStall()` once when video that was flowing stops: no new bytes for `checks`
     * checks `everyMs` apart (the server restarted, or the network went away while ICE
     * still looks up). A slow first connection is not a stall: counting starts with the
     * first bytes, so a loaded machine never loops on re-negotiating.
     */
    watchStall(onStall, { everyMs = 2000, checks = 2 } = {}) {
      let last = 0;
      let still = 0;
      const timer = setInterval(async () => {
        if (pc.connectionState === "closed") return clearInterval(timer);
        let bytes = 0;
        (await pc.getStats()).forEach((report) => {
          if (report.type === "inbound-rtp" && report.kind === "video") bytes += report.bytesReceived;
        });
        still = bytes > 0 && bytes === last ? still + 1 : 0;
        last = bytes;
        if (still >= checks) {
          clearInterval(timer);
          onStall();
        }
      }, everyMs);
      this.unwatch = () => clearInterval(timer);
    },
    unwatch() {},
    async stop() {
      this.unwatch();
      pc.close();
      const headers = token ? { Authorization: `Bearer ${token}` } : {};
      await fetch(location, { method: "DELETE", headers }).catch(() => {});
    },
  };
}

/** Publish a camera/mic MediaStream to /whip/{streamId}. */
export async function publish(streamId, token, mediaStream) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  for (const track of mediaStream.getTracks()) {
    pc.addTransceiver(track, { direction: "sendonly", streams: [mediaStream] });
  }
  const location = await negotiate(pc, `/whip/${encodeURIComponent(streamId)}`, token);
  return session(pc, location, token);
}

/** Play the composite of /whep/{streamId}; resolves with a MediaStream. */
export async function play(streamId, token) {
  const pc = new RTCPeerConnection({ iceServers: [] });
  const stream = new MediaStream();
  pc.addTransceiver("video", { direction: "recvonly" });
  pc.addTransceiver("audio", { direction: "recvonly" });
  pc.addEventListener("track", (event) => stream.addTrack(event.track));
  const location = await negotiate(pc, `/whep/${encodeURIComponent(streamId)}`, token);
  return session(pc, location, token, { stream });
}

/**
 * Run `attempt()` again after growing pauses (0.5 s, 1 s, 2 s ... at most `maxMs`) when
 * `schedule()` is called, one pending retry at a time; `reset()` after a success.
 */
export class Backoff {
  constructor(attempt, { firstMs = 500, maxMs = 8000 } = {}) {
    this.attempt = attempt;
    this.firstMs = firstMs;
    this.maxMs = maxMs;
    this.failures = 0;
    this.timer = null;
  }

  schedule() {
    if (this.timer) return;
    const delay = Math.min(this.maxMs, this.firstMs * 2 ** this.failures);
    this.failures += 1;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.attempt();
    }, delay);
  }

  reset() {
    this.failures = 0;
  }

  cancel() {
    clearTimeout(this.timer);
    this.timer = null;
  }
}
