"""The embedded default's broker: kombu's filesystem transport, each message written whole.

kombu's filesystem channel creates a message file under its final name and only then writes
it. A worker listing the folder in between moves the empty file away, fails to decode it and
stops ("Unrecoverable error: JSONDecodeError"), and the message is lost: seen under load in
the suite on the embedded default. Here a message is written under a name no worker reads
and renamed into place, which is atomic within one folder (docs/operations.md, "Queues").
"""

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

# A worker takes only names whose part after the first dot is "<queue>.msg".
PARTIAL_SUFFIX = ".partial"


class Channel(filesystem.Channel):
    # kombu's stubs name the argument "message" in the base class and "payload" here.
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + PARTIAL_SUFFIX
        data = str_to_bytes(dumps(payload))
        try:
            with open(partial, "wb") as f:
                f.write(data)
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel


def use_whole_message_files() -> None:
    """Make ``filesystem://`` broker URLs use this transport (kombu resolves by alias)."""
    TRANSPORT_ALIASES["filesystem"] = f"{__name__}:Transport"
