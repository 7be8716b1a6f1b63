"""Fixtures for after the sale: a local SMTP server and a server that mails through it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ServerFactory
from tests.helpers.after_sale import Inbox, SoldShow, sell_cohosted_show, smtp_server
from tests.helpers.api import Api
from tests.helpers.server import RunningServer
from tests.helpers.sio import Connect


@pytest.fixture
def inbox(free_port: int) -> Iterator[Inbox]:
    with smtp_server(free_port) as received:
        yield received


@pytest.fixture
async def server(server_factory: ServerFactory, inbox: Inbox) -> RunningServer:
    """The app, mailing through the test's SMTP server."""
    return await server_factory(smtp_host="127.0.0.1", smtp_port=inbox.port)


@pytest.fixture
async def show(server: RunningServer, api: Api, connect: Connect) -> SoldShow:
    return await sell_cohosted_show(server, api, connect)
