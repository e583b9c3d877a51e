"""Files the bot uploads, kept with what Telegram reports back about them.

Telegram answers a photo upload with its pixel size and refuses bytes that are not an image
(`IMAGE_PROCESS_FAILED`), so PNG, GIF and JPEG headers are read here; documents keep their
name, bytes and a MIME type guessed from the name.
"""

from __future__ import annotations

import hashlib
import mimetypes
import secrets
import struct
from dataclasses import dataclass
from typing import Any, Literal

Json = dict[str, Any]
FileKind = Literal["document", "photo"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers carry the size; C4, C8 and CC are other segments.
_JPEG_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part of a multipart request, before it becomes a stored file."""

    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file the bot sent; `file_id` lets the bot send it again without uploading."""

    kind: FileKind
    file_id: str
    file_unique_id: str
    filename: str
    data: bytes
    mime_type: str
    width: int = 0
    height: int = 0

    @classmethod
    def from_upload(cls, kind: FileKind, upload: UploadedFile) -> StoredFile | None:
        """None when a photo is not an image Telegram could process."""
        size = image_size(upload.data) if kind == "photo" else (0, 0)
        if size is None:
            return None
        return cls(
            kind=kind,
            file_id=secrets.token_urlsafe(24),
            file_unique_id=hashlib.sha256(upload.data).hexdigest()[:16],
            filename=upload.filename,
            data=upload.data,
            mime_type=mimetypes.guess_type(upload.filename)[0] or "application/octet-stream",
            width=size[0],
            height=size[1],
        )

    def to_api(self) -> Json | list[Json]:
        """A Document object, or the PhotoSize list Telegram gives for a photo."""
        common = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
        }
        if self.kind == "photo":
            return [{**common, "width": self.width, "height": self.height}]
        return {**common, "file_name": self.filename, "mime_type": self.mime_type}


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF or JPEG image; None for anything else."""
    if data.startswith(_PNG_SIGNATURE) and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return width, height
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 9 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
        elif marker in _JPEG_FRAMES:
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        else:
            pos += 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
    return None
