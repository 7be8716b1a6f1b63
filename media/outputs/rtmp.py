"""Simulcast: push the composite to an RTMP/RTMPS ingest, retrying when it fails."""

from __future__ import annotations

import threading

import av

from media.outputs.sink import MuxSink

# Waits between attempts after a failure: quick at first, then every 10 s.
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0)


class RtmpSink(MuxSink):
    """FLV over RTMP(S) from the shared encode.

    Status: "connecting", "live", "failed" (with `error`) right after a
    failure, "retrying" while waiting for the next attempt, "ended" once
    removed or the show ended. A failure never reaches the room: packets keep
    being offered and dropped while the destination is down.
    """

    label = "rtmp"
    # One connection for the whole show: ingests take the new SPS in-band; a
    # reconnect per layout switch would drop the stream at YouTube and others.
    split_on_resize = False

    def __init__(self, url: str, width: int, height: int, fps: int) -> None:
        self.url = url
        self.attempts = 0
        self._stopped = threading.Event()
        super().__init__(width, height, fps)

    def open_container(self) -> av.container.OutputContainer:
        self.attempts += 1
        # A write that hangs blocks only this thread: its queue drops meanwhile.
        return av.open(self.url, "w", format="flv", timeout=10.0)

    def close(self) -> None:
        self._stopped.set()
        super().close()

    def _run(self) -> None:
        failures = 0
        while not self._stopped.is_set():
            try:
                self.status = "connecting"
                self.write_until_closed()
                break  # the queue closed: removed, or the show ended
            except Exception as error:
                self.fail(error)
            delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
            failures += 1
            if self._stopped.wait(delay / 2):
                break
            self.status = "retrying"
            if self._stopped.wait(delay / 2):
                break
            self.queue.clear()  # stale by now: start again from a fresh keyframe
        self.status = "ended"
