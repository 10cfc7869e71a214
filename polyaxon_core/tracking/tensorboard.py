"""TensorBoard event files, written without TensorFlow.

With ``tracking.init(tensorboard=True)`` (or ``POLYAXON_TRACKING_TENSORBOARD=1``) every
``log_metrics`` point is also written as a scalar to
``<run artifacts>/tensorboard/events.out.tfevents.<time>.<host>``, where a TensorBoard
service (the hub's ``tensorboard`` component, a ``tensorboard`` initializer) finds it.

The file is TensorFlow's record format: each record is its length (8 bytes, little
endian), the masked CRC-32C of the length, the data and the masked CRC-32C of the data;
the data is an ``Event`` protocol buffer, encoded here by hand (the few fields a scalar
needs: ``wall_time``, ``step``, ``file_version``, ``summary.value[].tag`` and
``simple_value``). Each point costs a few tens of microseconds (the checksum is computed
in Python); the file is flushed at every call, so a TensorBoard reading it sees the point.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data``, as TensorFlow's records use it."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(data: bytes) -> bytes:
    """``data`` framed as one record of a TFRecord file."""
    length = struct.pack("<Q", len(data))
    return (length + struct.pack("<I", _masked(crc32c(length))) + data
            + struct.pack("<I", _masked(crc32c(data))))


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _field(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _bytes(number: int, payload: bytes) -> bytes:
    return _field(number, 2) + _varint(len(payload)) + payload


def scalar_event(wall_time: float, step: int, values: Iterable[tuple[str, float]]) -> bytes:
    """An ``Event`` with a ``Summary`` of ``(tag, value)`` scalars at ``step``."""
    summary = b"".join(
        _bytes(1, _bytes(1, tag.encode()) + _field(2, 5) + struct.pack("<f", value))
        for tag, value in values)
    return (_field(1, 1) + struct.pack("<d", wall_time) + _field(2, 0) + _varint(step)
            + _bytes(5, summary))


def version_event(wall_time: float) -> bytes:
    """The first event of every file: its format's version."""
    return _field(1, 1) + struct.pack("<d", wall_time) + _bytes(3, b"brain.Event:2")


class EventFile:
    """One event file of a run, appended to by :meth:`add`."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        now = time.time()
        self.path = folder / f"events.out.tfevents.{int(now)}.{socket.gethostname()}"
        self._file: BinaryIO | None = open(self.path, "ab")  # noqa: SIM115 - kept for the run
        self._file.write(record(version_event(now)))
        self._file.flush()
        #: how many points each name has, for the steps of points logged without one
        self._counts: dict[str, int] = {}

    def add(self, points: Iterable[tuple[str, float, int | None, float]]) -> None:
        """Write ``(name, value, step, wall time)`` points (a step of None: the name's
        next index), one event per step."""
        if self._file is None:
            return
        by_step: dict[tuple[int, float], list[tuple[str, float]]] = {}
        for name, value, step, wall_time in points:
            if step is None:
                step = self._counts.get(name, 0)
            self._counts[name] = max(self._counts.get(name, 0), step + 1)
            by_step.setdefault((step, wall_time), []).append((name, value))
        self._file.write(b"".join(record(scalar_event(wall_time, step, values))
                                  for (step, wall_time), values in by_step.items()))
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
