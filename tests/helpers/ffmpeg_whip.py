"""FFmpeg's own WHIP client (PyAV's bundled FFmpeg `whip` muxer) as a publisher.

FFmpeg's self-made DTLS certificate uses curve P-224, which OpenSSL rejects,
so it is handed a P-256 key and certificate made here.
"""

from __future__ import annotations

import datetime
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def p256_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed P-256 certificate and key as PEM files in `folder`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ffmpeg-whip")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "whip-cert.pem", folder / "whip-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def publish(url: str, token: str, folder: Path, yuv: tuple[int, int, int], seconds: float) -> None:
    """Publish a solid colour (H264 baseline) and a tone (Opus) for `seconds`.

    Blocking, and FFmpeg's WHIP handshake holds the GIL: run it in its own
    process (`python -m tests.helpers.ffmpeg_whip`).
    """
    cert_file, key_file = p256_certificate(folder)
    options = {"cert_file": str(cert_file), "key_file": str(key_file), "authorization": token}
    with av.open(url, mode="w", format="whip", options=options) as container:
        video = container.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = 640, 360, "yuv420p"
        video.codec_context.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "profile": "baseline",
            "x264-params": "keyint=15:bframes=0",  # FFmpeg's client ignores PLI
        }
        audio = container.add_stream("libopus", rate=48000)
        audio.layout, audio.format = "stereo", "s16"
        start = time.monotonic()
        for index in range(round(seconds * 30)):
            frame = av.VideoFrame(640, 360, "yuv420p")
            for plane, value in zip(frame.planes, yuv, strict=True):
                plane.update(bytes([value]) * plane.buffer_size)
            frame.pts, frame.time_base = index, Fraction(1, 30)
            for packet in video.encode(frame):
                container.mux(packet)
            # 1/30 s of 48 kHz audio is 1600 samples; the encoder re-frames it.
            t = (np.arange(1600) + index * 1600) / 48000
            tone = (6000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
            samples = av.AudioFrame.from_ndarray(
                np.repeat(tone, 2).reshape(1, -1), format="s16", layout="stereo"
            )
            samples.sample_rate, samples.pts = 48000, index * 1600
            for packet in audio.encode(samples):
                container.mux(packet)
            time.sleep(max(0.0, start + (index + 1) / 30 - time.monotonic()))  # live pacing


if __name__ == "__main__":
    url, token, folder, y, u, v, seconds = sys.argv[1:]
    publish(url, token, Path(folder), (int(y), int(u), int(v)), float(seconds))
