"""Faulty servers: the negative controls of the server behaviours.

Rules of this package:
- each module is a small echo server (run as `python FILE --port N`, no import
  from sockspec) with exactly one defect, written in its own file and named in
  its one-line docstring, the way a student's server might get it wrong;
- what they all repeat (the port, the listening socket, a correct echo, the
  thread-per-client and selectors loops) is in `_listen.py` beside them, which
  has no defect and hides none: its loops catch no error of a client's
  connection, and its echo ends on a reset as a correct server's does;
- `FAULTY_SERVERS` says, for each, the behaviours its defect breaks, with a
  phrase of the failure each must show; every other behaviour must pass,
  except those in `may_break` (a symptom that shows only when the kernel's
  buffers happen to fill), which may fail but only with their phrase;
- `model` is the observed model the summary must name, when the server is
  observed at all; `declares` sets a declared model in its pyproject table;
- a behaviour whose set-up the defect breaks is "not reached", not failed: its
  phrases say so and name the behaviour to see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

FOLDER = Path(__file__).resolve().parent


@dataclass(frozen=True)
class FaultyServer:
    name: str
    command: tuple[str, ...]
    breaks: dict[str, tuple[str, ...]]
    may_break: dict[str, tuple[str, ...]] = field(default_factory=dict)
    model: str | None = None
    declares: str | None = None

    @property
    def doc(self) -> str:
        script = FOLDER / f"{self.name}.py"
        if not script.exists():
            return ""
        text = script.read_text(encoding="utf-8")
        return text.split('"""')[1].strip()


def _script(name: str) -> tuple[str, ...]:
    return (str(FOLDER / f"{name}.py"), "--port", "{port}")


NOTHING = ("observed nothing within",)

NOT_REACHED_MANY = (
    "not reached: step ",
    "connect 50 clients) failed",
    "see server.concurrency.many-clients",
)

FAULTY_SERVERS: tuple[FaultyServer, ...] = (
    FaultyServer(
        "one_at_a_time",
        _script("one_at_a_time"),
        breaks={
            "server.concurrency.second-client": (
                "client second: expected data b'second\\n', observed nothing",
            ),
            "server.concurrency.slow-reader": (
                "client other: expected data b'not stalled\\n', observed nothing",
            ),
            "server.concurrency.many-clients": (*NOTHING, "the kernel drops new SYNs"),
        },
        model="one client at a time",
    ),
    FaultyServer(
        "busy_poll",
        _script("busy_poll"),
        breaks={"server.observe.idle-cpu": ("of one core while its 50 clients idle, observed",)},
        model="busy polling",
    ),
    FaultyServer(
        "sendall_in_select",
        _script("sendall_in_select"),
        breaks={
            "server.concurrency.slow-reader": (
                "client other: expected data b'not stalled\\n', observed nothing",
            )
        },
        model="single-thread readiness loop",
    ),
    FaultyServer(
        "ignores_send_count",
        _script("ignores_send_count"),
        breaks={"server.concurrency.slow-reader": ("client slow:", "then nothing more for")},
        may_break={"server.echo.large": ("client a:", "then nothing more for")},
        model="single-thread readiness loop",
    ),
    FaultyServer(
        "closes_on_would_block",
        _script("closes_on_would_block"),
        breaks={"server.concurrency.slow-reader": ("client slow: expected data 16777216 bytes",)},
        may_break={"server.echo.large": ("client a: expected data 16777216 bytes",)},
        model="single-thread readiness loop",
    ),
    FaultyServer(
        "reads_once",
        _script("reads_once"),
        breaks={
            "server.echo.large": ("client a: expected data 16777216 bytes",),
            "server.concurrency.second-client": ("expected data b'first again\\n', observed EOF",),
            "server.concurrency.slow-reader": ("client slow: expected data 16777216 bytes",),
            "server.input.fragments": (
                "observed b'o'",
                "the server closed the connection (EOF) after 1 bytes",
            ),
            "server.close.after-half-close": ("client a: expected data 1048576 bytes",),
            "server.idle.stays-open": ("expected data b'still here\\n', observed EOF",),
        },
    ),
    FaultyServer(
        "never_closes",
        _script("never_closes"),
        breaks={
            "server.close.after-half-close": ("expected EOF (b''), observed nothing within",),
            "server.observe.no-leak": ("expected the server to return to its counts at 'base'",),
        },
        model="thread-per-client",
    ),
    FaultyServer(
        "dies_on_reset",
        _script("dies_on_reset"),
        breaks={"server.reset.survives": ("the server exited (exit code 1) during this behaviour",)},
        model="single-thread readiness loop",
    ),
    FaultyServer(
        "leaks_threads",
        _script("leaks_threads"),
        breaks={
            "server.observe.no-leak": ("expected the server to return to its counts at 'base'", "threads")
        },
        model="thread-per-client",
    ),
    FaultyServer(
        "sleeps_in_loop",
        _script("sleeps_in_loop"),
        breaks={"server.concurrency.many-clients": ("observed nothing within 5.000 s",)},
        model="single-thread readiness loop",
    ),
    FaultyServer(
        "text_mode",
        _script("text_mode"),
        breaks={
            "server.echo.small": ("they differ first at offset 128",),
            "server.echo.large": ("they differ first at offset 128",),
            "server.concurrency.slow-reader": ("they differ first at offset 128",),
            "server.close.after-half-close": ("they differ first at offset 128",),
        },
        model="thread-per-client",
    ),
    FaultyServer(
        "gives_up_early",
        _script("gives_up_early"),
        breaks={"server.input.late-first-bytes": ("expected data b'late but welcome\\n', observed EOF",)},
        # No model pinned: the observed behaviours' idle clients outlast its 300 ms, so whether any
        # is still connected when its threads are counted depends on the machine's load.
    ),
    FaultyServer(
        "closes_idle",
        _script("closes_idle"),
        breaks={"server.idle.stays-open": ("expected data b'still here\\n', observed EOF",)},
        model="thread-per-client",
    ),
    FaultyServer(
        "leaks_descriptors",
        _script("leaks_descriptors"),
        breaks={
            "server.observe.no-leak": ("open descriptors",),
            "server.connections.churn": ("the server exited (exit code 1) during this behaviour",),
            "server.concurrency.many-clients": ("the server exited (exit code 1) during this behaviour",),
        },
        model="thread-per-client",
    ),
    FaultyServer(
        "tiny_backlog",
        _script("tiny_backlog"),
        breaks={
            "server.concurrency.many-clients": (
                "observed nothing within 5.000 s",
                "backlog 1, ",
                "the kernel drops new SYNs",
                "listen with a larger backlog",
            ),
            "server.observe.idle-cpu": NOT_REACHED_MANY,
            "server.observe.no-leak": NOT_REACHED_MANY,
        },
    ),
    FaultyServer(
        "caps_connections",
        _script("caps_connections"),
        breaks={
            # 32 at most: connections of the behaviours before may still hold a few places.
            "server.concurrency.many-clients": (
                "of 200 clients were served; the server ended the other",
                "it seems to cap its connections at",
            )
        },
        model="thread-per-client",
    ),
    FaultyServer(
        "slow_writer",
        _script("slow_writer"),
        breaks={
            "server.echo.large": ("client a:", "still arriving when the limit ran out", "bytes/s"),
            "server.concurrency.slow-reader": ("client slow:", "still arriving when the limit ran out"),
        },
        model="thread-per-client",
    ),
)
