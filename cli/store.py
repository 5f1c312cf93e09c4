"""The event store as the commands that read it open it: never created, never migrated."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from shared.eventstore import EventStore, StoreMissing
from shared.settings import setting


def shown_url(url: str) -> str:
    """The URL as it may be printed: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def owner_url() -> str:
    """The schema owner's URL: EVENT_STORE_OWNER_URL, default EVENT_STORE_URL."""
    return setting("EVENT_STORE_OWNER_URL") or setting("EVENT_STORE_URL")


def open_store(url: str | None = None, *, empty_means: str = "",
               owner: bool = False) -> EventStore:
    """The store at `url` (default EVENT_STORE_URL; with `owner`, and no `url`, the schema
    owner's EVENT_STORE_OWNER_URL, for commands that create or swap tables: a rebuild),
    holding at least one event.

    StoreMissing (exit 1 in `cli.main`), naming the URL, when there is no database or no
    event log there (`EventStore.open_existing`: a mistyped URL creates nothing), or when the
    log holds no event: a command reading it would only report on nothing, and an empty log
    is most often the wrong one. `empty_means` is said after that (e.g. "nothing to rebuild").
    """
    store = EventStore.open_existing(url or (owner_url() if owner else None))
    try:
        empty = store.last_position() == 0
    except BaseException:
        store.close()
        raise
    if empty:
        store.close()
        why = f": {empty_means}" if empty_means else ""
        raise StoreMissing(f"the event store at {shown_url(store.url)} holds no events{why} "
                           "(set EVENT_STORE_URL)")
    return store
