"""The Docker image holds everything the server reads at run time.

No Docker engine runs here, so the image is assembled the way the Dockerfile says:
each COPY of its last stage is carried out into a temporary /app (the `web` stage's
`npm ci` output is the repository's own node_modules, installed by `make` from the
same package-lock.json), and `python -m server serve` runs from that tree alone.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tests.helpers.cluster import REPO, free_port, stop, wait_until

DOCKERFILE = REPO / "Dockerfile"
# What the pages load: their own modules and the npm libraries served at /vendor/.
PAGE_FILES = (
    "/",
    "/static/js/lifecycle.js",
    "/vendor/socket.io/socket.io.esm.min.js",
    "/vendor/hls.js/hls.min.mjs",
    "/vendor/uplot/uPlot.esm.js",
)


def _stages(text: str) -> list[tuple[str | None, list[str]]]:
    """(stage name, instructions) per FROM, continuation lines joined."""
    stages: list[tuple[str | None, list[str]]] = []
    for line in re.sub(r"\\\n\s*", " ", text).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            named = re.search(r"\bAS\s+(\S+)$", line, flags=re.IGNORECASE)
            stages.append((named[1] if named else None, []))
        stages[-1][1].append(line)
    return stages


def _assemble(root: Path) -> Path:
    """The last stage's files under `root`; returns its WORKDIR there."""
    stages = _stages(DOCKERFILE.read_text())
    web = dict(stages).get("web", [])
    web_dir = next((line.split()[1] for line in web if line.startswith("WORKDIR ")), "/")
    assert not web or any(line.startswith("RUN npm ci") for line in web), "npm ci in web"
    workdir = root
    for line in stages[-1][1]:
        words = line.split()
        if words[0] == "WORKDIR":
            workdir = root / words[1].lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        if words[0] != "COPY":
            continue
        sources, dest = words[1:-1], words[-1]
        if sources[0] == "--from=web":
            # npm ci in the web stage's WORKDIR: what `make` installed here.
            sources = [str(Path(source).relative_to(web_dir)) for source in sources[1:]]
        for source in sources:
            target = workdir / dest
            if (REPO / source).is_dir():
                shutil.copytree(REPO / source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy(REPO / source, target)
    return workdir


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_image_serves_the_pages_and_their_libraries(tmp_path: Path) -> None:
    app = _assemble(tmp_path / "image")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("COSTREAM_")},
        "PYTHONPATH": str(app),  # the image's packages, not this checkout's
        "COSTREAM_DATA_DIR": str(tmp_path / "data"),
    }
    where = subprocess.run(
        [sys.executable, "-c", "import server, media, signaling; print(server.__file__)"],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(app), where

    port = free_port()
    log = tmp_path / "serve.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=app,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _healthy(base), "costream from the image", process, 60)
        assert {path: _status(base + path) for path in PAGE_FILES} == dict.fromkeys(PAGE_FILES, 200)
    finally:
        stop(process)


def _healthy(base: str) -> bool:
    try:
        return _status(base + "/healthz") == 200
    except OSError:
        return False
