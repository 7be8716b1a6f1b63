// The server's clock as the page sees it: deadlines (`ends_at_ms`) are server time, so
// countdowns correct the local clock by the offset learned from the join ack's `now_ms`.

export const serverClock = {
  offset: 0,
  sync(serverNowMs) {
    if (typeof serverNowMs === "number") this.offset = serverNowMs - Date.now();
  },
  now() {
    return Date.now() + this.offset;
  },
};

/** "1:05" left until `endsAtMs` (server time); "0:00" once past. */
export function timeLeft(endsAtMs) {
  const seconds = Math.max(0, Math.ceil((endsAtMs - serverClock.now()) / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

// Every element carrying data-ends-at-ms shows its time left, a few times a second.
setInterval(() => {
  for (const node of document.querySelectorAll("[data-ends-at-ms]")) {
    const text = timeLeft(Number(node.dataset.endsAtMs));
    if (node.textContent !== text) node.textContent = text;
  }
}, 250);
