"""On-screen QR code guard: a sample of the composite every few seconds, off the loop.

The seller rules forbid showing QR codes on screen (payment links bypass the
shop). The video thread hands a half-size copy of the luma plane to the
guard's own thread at most every `interval` seconds; OpenCV's detector looks
for a code there (about 20 ms per sample on this machine: ~1% of a core).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import av
import cv2
import numpy as np

from media.compositor import plane_views
from media.outputs.sink import DroppingQueue

logger = logging.getLogger(__name__)

# OpenCV's own thread pool would compete with the media threads.
cv2.setNumThreads(1)


class QrGuard:
    """Calls `on_found(payload)` (from its thread) when a sample shows a QR code."""

    def __init__(self, on_found: Callable[[str], None], interval: float = 2.0) -> None:
        self.interval = interval
        self.samples = 0
        self.found = 0
        self.busy_seconds = 0.0  # CPU time spent detecting (for the benchmark)
        self._on_found = on_found
        self._last = -1e9
        self._queue = DroppingQueue(1)
        self._thread = threading.Thread(target=self._run, name="qr-guard", daemon=True)
        self._thread.start()

    def sample(self, frame: av.VideoFrame, now: float | None = None) -> None:
        """Maybe take a sample of `frame` (video thread; a strided copy, no colour work)."""
        now = time.monotonic() if now is None else now
        if now - self._last < self.interval:
            return
        self._last = now
        self._queue.put(np.ascontiguousarray(plane_views(frame)[0][::2, ::2]))

    def close(self) -> None:
        self._queue.close()

    def _run(self) -> None:
        detector = cv2.QRCodeDetector()
        while (luma := self._queue.get()) is not None:
            started = time.thread_time()
            try:
                found, _corners = detector.detect(luma)
                payload = ""
                if found:
                    payload, _points, _ = detector.detectAndDecode(luma)
            except cv2.error as error:  # a sample it cannot read is not an incident
                logger.debug("QR detection failed: %s", error)
                found = False
            self.busy_seconds += time.thread_time() - started
            self.samples += 1
            if found:
                self.found += 1
                self._on_found(payload or "")
