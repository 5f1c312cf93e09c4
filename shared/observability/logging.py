"""Structured logs: every line a process writes is one JSON object, whoever wrote it.

Each line has at least `timestamp` (ISO 8601, UTC), `level` (lower case), `service` and
`event` (the message), sorted by key; a traceback is a field (`exception`), never more lines.

    log = get_logger(__name__)
    log.info("relay started", relay=name)       # {"event": "relay started", "relay": ..., ...}
    with bound(consignment_id=c, event_id=e):   # carried by every line this greenthread writes
        ...

Two roads lead to one rendering (`_processors()` then `RENDERER`):

* structlog events are rendered by structlog itself and printed straight to stderr (a
  `PrintLogger`, loggers cached on first use): the hot path costs what it always did.
* stdlib `logging` records (nameko, the HTTP access log, werkzeug, kombu, amqp, Alembic,
  `warnings`) are rendered by `JsonFormatter`, structlog's `ProcessorFormatter` with the same
  processors, plus the logger's name and any `extra` fields.

Who sets it up:

* A service process: its `config.yaml` names `service_handler` as the LOGGING handler, so
  `nameko run` sends its own lines through it from its first log line on. The handler also
  takes over what bypasses logging: text printed to stdout or stderr (`print`, a traceback
  printed by eventlet's hub) becomes JSON lines, one per line or per whole traceback, and an
  uncaught exception is logged. Started as `python -m shared.observability.logging run
  --config ... services.<name>.service` (`nameko run` with this set up before nameko imports
  eventlet), even eventlet's import-time deprecation warning is a JSON line.
  The `service` of every line is the handler's `service` in the config (also read by
  `run`), else `SERVICE_NAME` from the environment, else the program's name; the service's
  `setup()` confirms it with `configure(service)`.
* The `clearance` command: `configure_cli()`. Its messages for people are not logs; what its
  commands make libraries log (Alembic's INFO lines, kombu, warnings) is shown from WARNING
  on (or `LOG_LEVEL`), as JSON lines on stderr.

`bound(...)` binds context for the current greenthread (greenlet keeps a context per
greenthread), so every line written while handling an event carries its ids.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO, cast

import structlog
import yaml
from structlog.typing import EventDict, Processor, WrappedLogger

SERVICE_VARIABLE = "SERVICE_NAME"
LEVEL_VARIABLE = "LOG_LEVEL"
DEFAULT_LEVEL = "INFO"
CLI_LEVEL = "WARNING"

RENDERER = structlog.processors.JSONRenderer(sort_keys=True)


def _program_name() -> str:
    """`nameko` for `python -m nameko ...`, `clearance` for the `clearance` script."""
    path = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("python")
    name = path.parent.name if path.stem == "__main__" else path.stem
    return name or "python"


_service = os.environ.get(SERVICE_VARIABLE) or _program_name()
_structlog_setup: tuple[int, TextIO | None, bool] | None = None
_real_stderr: TextIO | None = None  # set once this process's stdout and stderr are taken over


def service_name() -> str:
    """The `service` of this process's lines."""
    return _service


def add_service(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    event_dict.setdefault("service", _service)
    return event_dict


def _processors() -> list[Processor]:
    """What every line gets, structlog event or stdlib record: context, service, level, time."""
    return [
        structlog.contextvars.merge_contextvars,
        add_service,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def _add_record_fields(logger: WrappedLogger, method_name: str,
                       event_dict: EventDict) -> EventDict:
    """A stdlib record's logger name, its `extra` fields, and its `stack_info` as `stack`."""
    record: logging.LogRecord = event_dict["_record"]
    event_dict["logger"] = record.name
    for key, value in record.__dict__.items():
        if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
            event_dict.setdefault(key, value)
    stack = event_dict.pop("stack_info", None)
    if stack:
        event_dict["stack"] = stack
    return event_dict


class JsonFormatter(structlog.stdlib.ProcessorFormatter):
    """A stdlib record as one JSON line: the structlog processors above, then `RENDERER`;
    `exc_info` becomes the `exception` field."""

    def __init__(self) -> None:
        super().__init__(
            foreign_pre_chain=[*_processors(), _add_record_fields],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        structlog.processors.format_exc_info, RENDERER],
        )

    def format(self, record: logging.LogRecord) -> str:
        try:
            return super().format(record)
        except Exception as exc:  # e.g. a message whose %-arguments do not fit it
            # (logging would print a multi-line report on stderr): the record as it came
            event_dict: EventDict = {"event": str(record.msg), "args": repr(record.args),
                                     "logger": record.name, "exc_info": record.exc_info,
                                     "format_error": f"{type(exc).__name__}: {exc}"}
            return _render(record.levelname.lower(), event_dict)


def _render(level: str, event_dict: EventDict) -> str:
    """One line of JSON for `event_dict`, as structlog would render it at `level`."""
    processors: list[Processor] = [*_processors(), structlog.processors.format_exc_info]
    for processor in processors:
        event_dict = cast(EventDict, processor(None, level, event_dict))
    return cast(str, RENDERER(None, level, event_dict))


class JsonHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Records as JSON lines on `stream` (default: this process's real stderr)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream or _real_stderr or sys.stderr)
        self.setFormatter(JsonFormatter())


def _level(level: str | None, default: str = DEFAULT_LEVEL) -> int:
    name = (level or os.environ.get(LEVEL_VARIABLE) or default).strip().upper()
    value = logging.getLevelName(name)
    return value if isinstance(value, int) else logging.INFO


def _configure_structlog(level: int, stream: TextIO | None, cache: bool = True) -> None:
    """structlog's chain, printing to `stream` (None: whatever sys.stderr is at each line)."""
    global _structlog_setup
    if _structlog_setup == (level, stream, cache):
        return
    factory: Callable[..., Any] = (
        structlog.PrintLoggerFactory(file=stream) if stream is not None
        else lambda *args: structlog.PrintLogger(sys.stderr))
    structlog.configure(
        processors=[*_processors(), structlog.processors.format_exc_info, RENDERER],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=factory,
        cache_logger_on_first_use=cache,
    )
    _structlog_setup = (level, stream, cache)


def _json_root() -> None:
    """Root's handlers to stdout or stderr render JSON; a root without handlers gets one."""
    root = logging.getLogger()
    streams = {sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__, _real_stderr}
    for handler in root.handlers:
        if (isinstance(handler, logging.StreamHandler) and handler.stream in streams
                and not isinstance(handler.formatter, JsonFormatter)):
            handler.setFormatter(JsonFormatter())
    if not root.handlers:
        root.addHandler(JsonHandler())


def configure(service: str | None = None, level: str | None = None) -> None:
    """This process's logs as JSON lines on stderr, each naming `service`: structlog at
    `level` (default `LOG_LEVEL`, else INFO), stdlib logging through `JsonFormatter` (the
    levels of stdlib loggers are left as configured), Python warnings logged. Called again,
    it renames the service (a nameko process sets up logging before it knows its service) and
    applies a new level to the loggers not used yet."""
    global _service
    if service:
        _service = service
    if level is not None or _structlog_setup is None:
        stream = _real_stderr or sys.stderr
        _configure_structlog(_level(level), stream)
    _json_root()
    logging.captureWarnings(True)


def configure_cli(level: str | None = None) -> None:
    """The logging of the `clearance` command (see the module's docstring): service
    `clearance`, shown from `level` (default `LOG_LEVEL`, else WARNING) as JSON lines on
    stderr. Safe to call on every run of `main()`."""
    global _service
    _service = "clearance"
    threshold = _level(level, default=CLI_LEVEL)
    _configure_structlog(threshold, None, cache=False)
    root = logging.getLogger()
    handlers = [h for h in root.handlers if isinstance(h, JsonHandler)]
    if handlers:
        for handler in handlers:
            handler.setStream(sys.stderr)
    else:
        root.addHandler(JsonHandler(sys.stderr))
    root.setLevel(threshold)
    logging.captureWarnings(True)


# -- a service process: everything it writes ------------------------------------------------------

class _LinesAsJson(io.TextIOBase):
    """sys.stdout or sys.stderr of a service process, for code that writes there itself: each
    line becomes one JSON line on the real stderr (logger `stdout` or `stderr`), and a printed
    traceback (from "Traceback (most recent call last):" to its exception line) becomes one,
    its text in `exception`."""

    def __init__(self, name: str, level: str, target: TextIO) -> None:
        super().__init__()
        self.logger_name = name
        self.level = level
        self.target = target
        self._pending = ""
        self._traceback: list[str] | None = None
        self._lock = threading.RLock()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.target.encoding

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.target.fileno()

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            while "\n" in self._pending:
                line, self._pending = self._pending.split("\n", 1)
                self._line(line.rstrip("\r"))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                line, self._pending = self._pending, ""
                self._line(line)
        self.target.flush()

    def close(self) -> None:
        try:
            self.flush()
            with self._lock:
                if self._traceback:
                    self._emit(self._traceback[-1], "\n".join(self._traceback))
                    self._traceback = None
        except (OSError, ValueError):  # the real stderr is gone: nowhere left to say it
            pass

    def _line(self, line: str) -> None:
        if self._traceback is not None:
            self._traceback.append(line)
            if line and not line[0].isspace():  # the exception's own line ends a traceback
                self._emit(line, "\n".join(self._traceback))
                self._traceback = None
        elif line.startswith("Traceback (most recent call last):"):
            self._traceback = [line]
        elif line.strip():
            self._emit(line)

    def _emit(self, event: str, exception: str | None = None) -> None:
        event_dict: EventDict = {"event": event, "logger": self.logger_name}
        if exception is not None:
            event_dict["exception"] = exception
        self.target.write(_render(self.level, event_dict) + "\n")
        self.target.flush()


_uncaught = logging.getLogger("uncaught")


def _log_uncaught(kind: type[BaseException], value: BaseException,
                  traceback: types.TracebackType | None) -> None:
    _uncaught.critical("uncaught exception", exc_info=(kind, value, traceback))


def _log_thread_uncaught(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        _uncaught.error("uncaught exception in thread %s",
                        args.thread.name if args.thread else "?",
                        exc_info=(args.exc_type, args.exc_value, args.exc_traceback))


def _log_unraisable(unraisable: Any) -> None:
    _uncaught.error("exception ignored in %r", unraisable.object,
                    exc_info=(unraisable.exc_type, unraisable.exc_value,
                              unraisable.exc_traceback))


def _take_over_process() -> TextIO:
    """stdout and stderr as `_LinesAsJson`, uncaught exceptions and warnings logged, structlog
    configured; the real stderr, where every line goes."""
    global _real_stderr
    if _real_stderr is None:
        _real_stderr = sys.stderr
        sys.stdout.flush()
        sys.stdout = _LinesAsJson("stdout", "info", _real_stderr)
        sys.stderr = _LinesAsJson("stderr", "error", _real_stderr)
        sys.excepthook = _log_uncaught
        threading.excepthook = _log_thread_uncaught
        sys.unraisablehook = _log_unraisable
    _configure_structlog(_level(None), _real_stderr)
    logging.captureWarnings(True)
    return _real_stderr


def service_handler(service: str | None = None) -> logging.Handler:
    """The LOGGING handler of a service's nameko config (`(): <this function>`, `service:
    <name>`): JSON lines on the real stderr, and the whole process's output made JSON (see
    the module's docstring)."""
    global _service
    if service:
        _service = service
    return JsonHandler(_take_over_process())


def _configured_service(argv: Sequence[str]) -> str | None:
    """The `service` a nameko command line's `--config` gives its LOGGING handler, if any."""
    arguments = list(argv)
    if "--config" not in arguments[:-1]:
        return None
    try:
        config = yaml.safe_load(Path(arguments[arguments.index("--config") + 1]).read_text())
        handlers = config["LOGGING"]["handlers"].values()
    except (OSError, yaml.YAMLError, TypeError, KeyError, AttributeError):
        return None
    names = [h.get("service") for h in handlers if isinstance(h, dict) and h.get("service")]
    return str(names[0]) if names else None


def run_nameko(argv: Sequence[str]) -> None:
    """`nameko <argv>` with every line JSON from the first: set up before nameko imports
    eventlet (whose deprecation warning is then a JSON line too)."""
    handler = service_handler(_configured_service(argv) or os.environ.get(SERVICE_VARIABLE)
                              or "nameko")
    root = logging.getLogger()
    if not any(isinstance(h, JsonHandler) for h in root.handlers):
        root.addHandler(handler)
    root.setLevel(_level(None))
    from nameko.cli.main import main

    sys.argv = ["nameko", *argv]
    main()


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


@contextmanager
def bound(**context: Any) -> Iterator[None]:
    with structlog.contextvars.bound_contextvars(**context):
        yield


if __name__ == "__main__":
    # `python -m shared.observability.logging run --config FILE MODULE...`: this module runs
    # as `__main__`; the logging nameko's config names is the imported module's.
    from shared.observability.logging import run_nameko as _run

    _run(sys.argv[1:])
