"""Read a W&B ``.wandb`` file back as wandb's own protobuf ``Record`` messages.

wandb 0.31 writes the file from its Go core and ships no Python reader, so this follows the
format: a 7-byte header (``:W&B``, magic 0xBEE1, version 0), then 32 KiB blocks of chunks, each
``crc32(type + data)``, ``len(data)`` (little-endian u32, u16), ``type`` (1 full, 2 first,
3 middle, 4 last) and the data; a block's last < 7 bytes are padding.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wandb.proto.wandb_internal_pb2 import Record

HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)
BLOCK = 32 * 1024
CHUNK = struct.Struct("<IHB")
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> Iterator[Record]:
    """Every record in the file, checksums verified."""
    data = path.read_bytes()
    assert data.startswith(HEADER), f"{path} is not a .wandb file: {data[:7]!r}"
    pos, pending = len(HEADER), b""
    while pos + CHUNK.size <= len(data):
        if BLOCK - pos % BLOCK < CHUNK.size:
            pos += BLOCK - pos % BLOCK
            continue
        checksum, length, kind = CHUNK.unpack_from(data, pos)
        if kind == 0 and length == 0:  # zero padding at the end of a block
            pos += BLOCK - pos % BLOCK
            continue
        chunk = data[pos + CHUNK.size : pos + CHUNK.size + length]
        assert zlib.crc32(bytes([kind]) + chunk) == checksum, f"bad checksum at byte {pos}"
        pos += CHUNK.size + length
        pending = chunk if kind in (FULL, FIRST) else pending + chunk
        if kind in (FULL, LAST):
            record = Record()
            record.ParseFromString(pending)
            yield record


def _key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


def items(update: Any) -> dict[str, Any]:
    """A repeated ``*Item`` field (history, summary, config) as {key: decoded JSON value}."""
    return {_key(item): json.loads(item.value_json) for item in update}


def history(path: Path) -> dict[int, dict[str, Any]]:
    """Each logged history row by its step, without wandb's own ``_``-keys."""
    rows = {}
    for record in records(path):
        if record.WhichOneof("record_type") == "history":
            row = items(record.history.item)
            rows[record.history.step.num] = {k: v for k, v in row.items()
                                             if not k.startswith("_")}
    return rows


def of_type(path: Path, kind: str) -> list[Any]:
    """The payloads of every record of one type, e.g. ``"run"``, ``"summary"``, ``"exit"``."""
    return [getattr(r, kind) for r in records(path) if r.WhichOneof("record_type") == kind]
