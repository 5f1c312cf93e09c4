"""A writer process for the gap test: `python writer.py URL WRITER_ID COUNT START_AT`.

Appends COUNT events, one per transaction, each to a stream of its own, starting at the given
wall-clock time so that all writers run at once. Prints nothing; exits 0 when done.
"""

import sys
import time

from shared.events import NewEvent
from shared.eventstore import EventStore


def main() -> None:
    url, writer, count, start_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    store = EventStore(url, None)  # the bare log: unchecked appends
    while time.time() < start_at:
        time.sleep(0.005)
    for i in range(count):
        event = NewEvent("ThingHappened", 1, {"name": f"{writer}-{i}", "amount": "1"},
                         correlation_id=f"C-{writer}", actor=writer)
        store.append(f"thing-{writer}-{i}", [event], expected_version=0)
    store.close()


if __name__ == "__main__":
    main()
