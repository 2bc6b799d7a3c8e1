"""What the plugin keeps for one pytest run, in `config.stash[STATE]`.

Rules of this module:
- one `State` per run, made in pytest_configure when impls are named; the
  settings are frozen, the rest fills in as the run goes;
- `left_out` holds the items that were not collected because their behaviour
  does not apply to the impl (see sockspec.judging.applicability), as plain
  data, so that with pytest-xdist a worker can send them to the controller.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest
from sockspec.judging.applicability import Profile
from sockspec.language.model import Origin
from sockspec.plugin.options import Settings
from sockspec.plugin.profiles import profile
from sockspec.plugin.session import ServerSession
from sockspec.reports.record import ItemRecord

#: An item left out as not applicable: (impl, model, behaviour id, reason).
LeftOut = tuple[str, str, str, str]


@dataclass
class State:
    """The run's settings, the impls' profiles, and what the run has recorded so far.

    ids: each behaviour id -> where it was first seen (an id used twice is a spec error);
    records: the record of every item that ran (or was found not applicable while running).
    """

    settings: Settings
    servers: ServerSession
    profiles: dict[str, Profile] = field(default_factory=dict)
    ids: dict[str, Origin] = field(default_factory=dict)
    records: list[ItemRecord] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)
    opt_in: list[tuple[str, str]] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.profiles = {impl.name: profile(impl) for impl in self.settings.impls}


STATE = pytest.StashKey[State]()
