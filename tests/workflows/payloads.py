"""Reading a history's payloads: every Payload in any proto message, decrypted in place.

The recorder writes histories decrypted (plain JSON that replays under any key), and the
encryption test compares what the server stores with what the product can read.
"""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.converter import PayloadCodec


async def decrypt_in_place(message: Message, codec: PayloadCodec) -> None:
    """Decode every Payload anywhere in a proto message (inputs, results, failures, ...)."""
    if isinstance(message, Payload):
        message.CopyFrom((await codec.decode([message]))[0])
        return
    for field, value in message.ListFields():
        kind = field.message_type
        if field.type != FieldDescriptor.TYPE_MESSAGE or kind is None:
            continue
        if kind.GetOptions().map_entry:
            if kind.fields_by_name["value"].type == FieldDescriptor.TYPE_MESSAGE:
                for key in value:
                    await decrypt_in_place(value[key], codec)
        elif field.is_repeated:
            for item in value:
                await decrypt_in_place(item, codec)
        else:
            await decrypt_in_place(value, codec)


async def decrypted(history: WorkflowHistory, codec: PayloadCodec) -> WorkflowHistory:
    """A decrypted copy of the history (the original is left as the server sent it)."""
    events = []
    for event in history.events:
        copy = type(event)()
        copy.CopyFrom(event)
        await decrypt_in_place(copy, codec)
        events.append(copy)
    return WorkflowHistory(history.workflow_id, events)


def stored_bytes(history: WorkflowHistory) -> bytes:
    """The history as the server stores it: every event's protobuf bytes (payload data raw,
    unlike `to_json`, which would show it base64-encoded)."""
    return b"".join(event.SerializeToString() for event in history.events)
