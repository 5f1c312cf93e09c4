"""The development draw key: made once under the var folder by `make run` / `make start` (the
runner) when RISK_DRAW_KEY is not set, and given to the risk service it starts.

    var/risk/draw.key   64 hex digits (mode 0600, in a 0700 folder; var/ is not in git)

Its id starts with `DEV_KEY_ID_PREFIX`, so that every decision drawn with it says so
(`draw_key_id` of RiskAssessed): a production deployment sets its own RISK_DRAW_KEY, and a
decision recorded with a development key is visible as such to any auditor. Several processes
may ask at once: the key file is created exclusively, and whichever key won is read back.
"""

from __future__ import annotations

import stat
from pathlib import Path

from shared.files import create_once

from .domain import DEV_KEY_ID_PREFIX, DrawKey, derived_key_id, new_key_text


def dev_key_path(var: Path) -> Path:
    return Path(var) / "risk" / "draw.key"


def ensure_dev_draw_key(var: Path) -> DrawKey:
    """The development key under `var/risk/` (made if missing, then reused)."""
    path = dev_key_path(var)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        _create(path)
    elif stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)  # made readable to others by someone: only ours again
    found = read_dev_draw_key(var)
    assert found is not None
    return found


def read_dev_draw_key(var: Path) -> DrawKey | None:
    """The development key under `var/risk/` if there is one (never made here)."""
    try:
        text = dev_key_path(var).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    secret = DrawKey.parse(text).secret
    return DrawKey(secret, DEV_KEY_ID_PREFIX + derived_key_id(secret))


def dev_draw_environment(var: Path) -> dict[str, str]:
    """RISK_DRAW_KEY and RISK_DRAW_KEY_ID of the development key (made here if missing)."""
    key = ensure_dev_draw_key(var)
    return {"RISK_DRAW_KEY": key.text(), "RISK_DRAW_KEY_ID": key.key_id}


def _create(path: Path) -> None:
    create_once(path, (new_key_text() + "\n").encode("ascii"), 0o600)
