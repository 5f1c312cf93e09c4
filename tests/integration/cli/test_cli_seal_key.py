"""`clearance seal --new-key FILE`: the operator's key pair for a real sealer (private 0600 for
the sealer only, public for the auditors), never overwriting a key; seals made with it verify
with only its public key."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from clirun import clearance, fill

from shared.integrity.seals import key_id, load_public_key


def test_new_key_makes_a_private_key_for_the_sealer_and_a_public_one_for_auditors(
        tmp_path: Path, sqlite_url: str) -> None:
    key = tmp_path / "keys" / "seal.key"
    made = clearance("seal", "--new-key", str(key), "--json", url=None)
    assert made.code == 0, made
    answer = json.loads(made.out)
    public = Path(answer["public_key_file"])
    assert public == key.with_name("seal.key.pub")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert answer["key_id"] == key_id(load_public_key(public))

    first = key.read_bytes()
    again = clearance("seal", "--new-key", str(key), url=None)
    assert again.code == 1 and "never overwritten" in again.err
    assert key.read_bytes() == first

    fill(sqlite_url, 3)
    seals = tmp_path / "seals"
    env = {"SEAL_KEY_FILE": str(key), "SEAL_DIR": str(seals)}
    sealed = clearance("seal", "--no-publish", url=sqlite_url, env=env)
    assert sealed.code == 0, sealed
    checked = clearance("verify", "--json", "--seal-public-key", str(public),
                        url=sqlite_url, env={"SEAL_DIR": str(seals)})
    assert checked.code == 0, checked
    assert json.loads(checked.out)["seals"]["checked"] == 1


def test_new_key_takes_no_sealing_option(tmp_path: Path) -> None:
    run = clearance("seal", "--new-key", str(tmp_path / "k"), "--every", "5", url=None)
    assert run.code == 2 and "seals nothing" in run.err
    assert not (tmp_path / "k").exists()
