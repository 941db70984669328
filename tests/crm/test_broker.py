"""The embedded default's broker never hands a worker a message that is still being written."""

from queue import Empty

import pytest
from kombu import Connection

from crm import broker


@pytest.fixture
def channel(tmp_path):
    folders = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path)}
    with Connection("filesystem://", transport_options=folders) as connection:
        yield connection.default_channel


def test_filesystem_urls_use_the_whole_message_transport(channel):
    assert isinstance(channel, broker.Channel)


def test_a_message_being_written_is_invisible_to_a_worker(channel, monkeypatch):
    seen_while_writing = []
    replace = broker.os.replace

    def peek_then_replace(src, dst):
        # The file is written but not yet in place: a worker polling now finds nothing.
        try:
            seen_while_writing.append(channel._get("default"))
        except Empty:
            seen_while_writing.append(None)
        replace(src, dst)

    monkeypatch.setattr(broker.os, "replace", peek_then_replace)
    channel._put("default", {"body": "whole"})
    assert seen_while_writing == [None]
    assert channel._get("default") == {"body": "whole"}
