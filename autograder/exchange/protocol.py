"""What the exchange's client and server send each other, and the checks both apply to archives.

One request and one answer per connection, each a frame:

    MAGIC | header length (4 bytes, big-endian) | payload length (8 bytes) | JSON header | payload

The header is a JSON object (`op` and its arguments; an answer has `ok` and either its results or
`error`); the payload, when there is one, is a zip archive of a folder. The receiver learns the
payload's size before reading it, so an oversized one is refused without being read.
"""

from __future__ import annotations

import io
import json
import re
import socket
import stat
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MAGIC = b"NNLAX1"
_SIZES = struct.Struct(">IQ")
MAX_HEADER = 64 * 1024
# Student and assignment ids the exchange accepts: they name folders in its store, so no
# separators, no leading dot, nothing a shell or a path would read specially.
_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,63}\Z")


class ProtocolError(Exception):
    """A frame or an archive that breaks the rules above; the message says which rule."""


def valid_id(value: object) -> bool:
    return isinstance(value, str) and _ID.match(value) is not None


def send(sock: socket.socket, header: dict, payload: bytes = b"") -> None:
    head = json.dumps(header).encode()
    if len(head) > MAX_HEADER:
        raise ProtocolError(f"header of {len(head)} bytes exceeds {MAX_HEADER}")
    sock.sendall(MAGIC + _SIZES.pack(len(head), len(payload)) + head)
    if payload:
        sock.sendall(payload)


def receive_header(sock: socket.socket) -> tuple[dict, int]:
    """The header of the next frame and the size of the payload that follows it (not yet read)."""
    prefix = _read_exactly(sock, len(MAGIC) + _SIZES.size)
    if not prefix.startswith(MAGIC):
        raise ProtocolError("not an nnla exchange frame")
    head_size, payload_size = _SIZES.unpack(prefix[len(MAGIC) :])
    if head_size > MAX_HEADER:
        raise ProtocolError(f"header of {head_size} bytes exceeds {MAX_HEADER}")
    try:
        header = json.loads(_read_exactly(sock, head_size))
    except (UnicodeDecodeError, json.JSONDecodeError) as bad:
        raise ProtocolError(f"header is not JSON: {bad}") from None
    if not isinstance(header, dict):
        raise ProtocolError("header is not a JSON object")
    return header, payload_size


def receive(sock: socket.socket, max_payload: int) -> tuple[dict, bytes]:
    header, size = receive_header(sock)
    if size > max_payload:
        raise ProtocolError(f"payload of {size} bytes exceeds the limit of {max_payload}")
    return header, _read_exactly(sock, size)


def read_payload(sock: socket.socket, size: int) -> bytes:
    return _read_exactly(sock, size)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise ProtocolError("connection closed mid-frame")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class ArchiveLimits:
    """How much one archive may hold once unpacked."""

    files: int = 500
    unpacked_bytes: int = 100 * 1024 * 1024


def pack(folder: Path, skip=None) -> bytes:
    """A zip of the regular files under `folder` (symbolic links and special files left out: they
    could point at files the sender may read and the receiver should not get). `skip(dir, names)`
    returns names to leave out, as shutil.copytree's `ignore`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, name in _walk(folder, folder, skip):
            archive.write(path, name)
    return buffer.getvalue()


def _walk(root: Path, folder: Path, skip):
    names = sorted(p.name for p in folder.iterdir())
    left_out = set(skip(str(folder), names)) if skip else set()
    for name in names:
        if name in left_out:
            continue
        path = folder / name
        mode = path.lstat().st_mode
        if stat.S_ISDIR(mode):
            yield from _walk(root, path, skip)
        elif stat.S_ISREG(mode):
            yield path, path.relative_to(root).as_posix()


def check_archive(data: bytes, limits: ArchiveLimits) -> list[zipfile.ZipInfo]:
    """The archive's file entries, after refusing anything unpacking could abuse: a name that is
    absolute or climbs out (`..`), duplicates, too many files or too many bytes once unpacked."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as bad:
        raise ProtocolError(f"not a zip archive: {bad}") from None
    files = [e for e in entries if not e.is_dir()]
    if len(files) > limits.files:
        raise ProtocolError(f"{len(files)} files, more than the {limits.files} allowed")
    if sum(e.file_size for e in files) > limits.unpacked_bytes:
        raise ProtocolError(f"more than {limits.unpacked_bytes} bytes once unpacked")
    seen = set()
    for entry in files:
        name = PurePosixPath(entry.filename)
        if (
            "\\" in entry.filename
            or "\0" in entry.filename
            or name.is_absolute()
            # split by hand: PurePosixPath would quietly drop "." and empty parts
            or any(part in ("", ".", "..") for part in entry.filename.split("/"))
        ):
            raise ProtocolError(f"unsafe file name in archive: {entry.filename!r}")
        if str(name) in seen:
            raise ProtocolError(f"file twice in archive: {entry.filename!r}")
        seen.add(str(name))
    return files


def unpack(data: bytes, dest: Path, limits: ArchiveLimits) -> list[Path]:
    """Write the archive's files under `dest` (created), after `check_archive`; returns them.
    Sizes are counted while writing too, since an entry's declared size may lie."""
    entries = check_archive(data, limits)
    written, total = [], 0
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for entry in entries:
            target = dest.joinpath(*PurePosixPath(entry.filename).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(entry) as source, open(target, "wb") as out:
                while chunk := source.read(1 << 20):
                    total += len(chunk)
                    if total > limits.unpacked_bytes:
                        raise ProtocolError(f"more than {limits.unpacked_bytes} bytes once unpacked")
                    out.write(chunk)
            written.append(target)
    return written
