"""Outputs settings and per-stream choices over REST: record, layout, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import ConfigError, load_settings
from tests.helpers.api import Api
from tests.helpers.server import RunningServer, add_user


@pytest.mark.parametrize(("text", "value"), [("true", True), ("1", True), ("off", False)])
def test_record_and_hls_parse_as_booleans(text: str, value: bool) -> None:
    settings = load_settings({"COSTREAM_RECORD": text, "COSTREAM_HLS": text})
    assert (settings.record, settings.hls) == (value, value)


def test_a_non_boolean_record_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="record"):
        load_settings({"COSTREAM_RECORD": "sometimes"})
    config = tmp_path / "costream.toml"
    config.write_text("record = true\nhls = false\n")
    settings = load_settings({}, config)
    assert (settings.record, settings.hls) == (True, False)


async def test_record_on_create_and_patch_and_what_refusals_leave(
    server: RunningServer, api: Api
) -> None:
    host = await add_user(server, "hostess")
    carol = await add_user(server, "carol")
    stream = await api.create_stream(host, title="Recorded", record=True)
    outputs = f"/api/streams/{stream['id']}/outputs"
    status, body = await api.request("GET", outputs, token=host)
    assert status == 200
    assert body["outputs"] == {
        "layout": "side_by_side",
        "record": True,
        "hls": True,
        "hls_url": f"/hls/{stream['id']}/index.m3u8",
    }

    status, body = await api.request(
        "POST", "/api/streams", token=host, json={"title": "Bad", "record": "yes"}
    )
    assert (status, body["error"]["code"]) == (400, "invalid_field")

    # A bad layout next to a good record: neither applies.
    status, body = await api.request(
        "PATCH", outputs, token=host, json={"record": False, "layout": "diagonal"}
    )
    assert (status, body["error"]["code"]) == (400, "invalid_field")
    status, body = await api.request(
        "PATCH", outputs, token=host, json={"record": False, "layout": "portrait"}
    )
    assert status == 200
    assert (body["outputs"]["record"], body["outputs"]["layout"]) == (False, "portrait")

    status, body = await api.request("PATCH", outputs, token=carol, json={"record": True})
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = await api.request("GET", outputs, token=host)
    assert body["outputs"]["record"] is False
    status, body = await api.request("GET", f"/api/streams/{stream['id']}/recording")
    assert (status, body["error"]["code"]) == (404, "recording_not_found")
