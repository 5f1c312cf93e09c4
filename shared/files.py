"""Files written safely: whole or not at all, and secrets made once.

Keys (the development signing key, the draw key, the seal key) and seals are files that
several processes may make at the same moment and that must never be seen half written:

* `write_atomically(path, data, mode)`: a temporary file in the same folder, flushed and
  fsynced, then renamed over `path` (readers see the old or the new content, never a part).
* `create_once(path, data, mode)`: the same, but linked into place only if `path` does not
  exist yet (an exclusive create): True when this call made it; False when another process's
  file was there first, and that one stays.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def write_atomically(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary(path)
    _write_new(temporary, data, mode)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def create_once(path: Path, data: bytes, mode: int) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary(path)
    _write_new(temporary, data, mode)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        temporary.unlink(missing_ok=True)
    return True


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def _write_new(path: Path, data: bytes, mode: int) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "wb") as file:
            descriptor = -1
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    finally:
        if descriptor >= 0:
            os.close(descriptor)
