"""`clearance seal [--every SECONDS]`: sign the log head into a seal kept outside the database.

Each seal (shared/integrity/seals.py) is written first to a file in SEAL_DIR (default
`<var>/seals/<store>/`), the auditor's copy, then published to the `clearance.seals` fanout
exchange at AMQP_URI for anyone to archive. The key is SEAL_KEY_FILE (default: a development
key pair made on first use under `<var>/seal/`); the database never sees it.

* Once (default): seal the head, or say it is already sealed. Exit 0 when the seal is written
  (or nothing moved); a publish failure is reported on stderr and exits 0, since the file is
  safe, unless `--require-publish` (then 1). `--no-publish` skips the broker.
* `--new-key FILE`: make a production key pair (FILE, 0600, for the sealer; FILE.pub for
  the auditors) and exit; an existing file is never overwritten.
* `--every SECONDS`: seal periodically until Ctrl-C or SIGTERM (exit 0), skipping rounds in
  which the head has not moved. Seals the broker did not take are published again, in order,
  with the next round's (`--require-publish`: stop with exit 1 instead).

Sealing refuses (exit 1, nothing written) when the log no longer matches the previous seal or
its chain is broken since: that is what `clearance verify` is for.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shared.eventstore import EventStore
from shared.integrity.sealer import (
    NothingToSeal,
    Sealed,
    SealRefused,
    publish,
    seal_log,
    seal_publisher,
)
from shared.integrity.seals import (
    EXCHANGE,
    Seal,
    SealError,
    key_id,
    latest_seal,
    new_key_pair,
    seal_dir,
    signing_key,
)
from shared.messaging.publisher import Publisher
from shared.settings import setting

from ..output import Failed, UsageError, emit_json, error, positive_float
from ..store import shown_url


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "seal", help="sign the log head into a seal kept outside the database")
    parser.add_argument("--every", type=positive_float, metavar="SECONDS",
                        help="seal periodically until stopped (Ctrl-C or SIGTERM)")
    parser.add_argument("--no-publish", action="store_true",
                        help="write the seal file only, do not publish it to the broker")
    parser.add_argument("--require-publish", action="store_true",
                        help="exit 1 when a seal could not be published")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per round on stdout")
    parser.add_argument("--new-key", metavar="FILE", type=Path,
                        help="make a new signing key at FILE (0600) and its public key at "
                             "FILE.pub for the auditors, then exit; seals nothing")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.new_key is not None:
        return _new_key(args)
    try:
        key = signing_key()
    except SealError as exc:
        raise Failed(str(exc)) from None
    store = EventStore.open_existing()
    publisher = None if args.no_publish else seal_publisher(setting("AMQP_URI"))
    try:
        directory = seal_dir(store.url)
        previous = latest_seal(directory, key.public_key())
        backlog: list[dict[str, Any]] = []  # written, not yet published
        stop = threading.Event()
        with _stopped_by_signals(stop, enabled=args.every is not None):
            while True:
                try:
                    sealed = seal_log(store, key, directory, previous)
                except NothingToSeal as exc:
                    if args.every is None:
                        raise Failed(f"{exc} (store {shown_url(store.url)})") from None
                    sealed = None
                except SealRefused as exc:
                    raise Failed(f"not sealed: {exc}") from None
                if sealed is not None:
                    previous = sealed.as_previous(key)
                    backlog.append(sealed.document)
                published, failure = _publish(publisher, backlog)
                _report(args, sealed, previous, published, failure)
                if failure is not None and args.require_publish:
                    return 1
                if args.every is None or stop.wait(args.every):
                    return 0
    finally:
        if publisher is not None:
            publisher.close()
        store.close()


def _new_key(args: argparse.Namespace) -> int:
    if args.every is not None or args.no_publish or args.require_publish:
        raise UsageError("--new-key makes a key and seals nothing: it takes no other option"
                         " but --json")
    try:
        public_path, public = new_key_pair(args.new_key)
    except (SealError, OSError) as exc:
        raise Failed(f"no key made: {exc}") from None
    if args.json:
        emit_json({"key_file": str(args.new_key), "public_key_file": str(public_path),
                   "key_id": key_id(public)})
    else:
        print(f"seal key {key_id(public)}: private {args.new_key} (give it to the sealer "
              f"only, as SEAL_KEY_FILE), public {public_path} (give it to the auditors)")
    return 0


def _publish(publisher: Publisher | None, backlog: list[dict[str, Any]]
             ) -> tuple[bool | None, str | None]:
    """Publish the backlog in order, dropping what the broker confirmed: (published, why
    not). (None, None) when not publishing or nothing is waiting."""
    if publisher is None or not backlog:
        backlog.clear()
        return None, None
    deliveries = publish(publisher, backlog)
    confirmed = 0
    for delivery in deliveries:
        if not delivery.confirmed:
            break
        confirmed += 1
    del backlog[:confirmed]
    if backlog:
        failed = deliveries[confirmed]
        return False, f"{failed.outcome.value}: {failed.reason}"
    return True, None


def _report(args: argparse.Namespace, sealed: Sealed | None, previous: Seal | None,
            published: bool | None, failure: str | None) -> None:
    if args.json:
        line: dict[str, Any] = {"sealed": sealed is not None,
                                "position": None if previous is None else previous.position,
                                "published": published, "publish_error": failure}
        if sealed is not None:
            line.update(hash=sealed.document["hash"],
                        from_position=sealed.document["from_position"],
                        file=str(sealed.path), key_id=sealed.document["key_id"])
        print(json.dumps(line, sort_keys=True), flush=True)
    elif sealed is not None:
        document = sealed.document
        where = {True: f"; published to {EXCHANGE}", False: "", None: ""}[published]
        print(f"sealed position {document['position']:,} (hash {document['hash'][:16]}..., "
              f"positions {document['from_position']:,}..{document['position']:,}) in "
              f"{sealed.path}{where}", flush=True)
    elif previous is not None:
        print(f"unchanged: position {previous.position:,} is already sealed "
              f"({previous.source})", flush=True)
    else:
        print("unchanged: the log holds no event yet", flush=True)
    if failure is not None:
        error(f"seal written but not published to {EXCHANGE} ({failure}); "
              + ("will retry next round" if args.every is not None and not args.require_publish
                 else "the file is kept"))
        sys.stderr.flush()


@contextmanager
def _stopped_by_signals(stop: threading.Event, *, enabled: bool) -> Iterator[None]:
    """SIGINT and SIGTERM set `stop` (the current round finishes, then exit 0)."""
    if not enabled:
        yield
        return
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}

    def handler(_number: int, _frame: object) -> None:
        stop.set()

    for number in saved:
        signal.signal(number, handler)
    try:
        yield
    finally:
        for number, previous in saved.items():
            signal.signal(number, previous)
