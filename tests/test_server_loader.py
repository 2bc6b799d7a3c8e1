"""The server step language: client and observe steps loaded into the model, or exact messages.

Rules of this file:
- every spec is a small YAML string written here (server behaviours on lines 1-8,
  the first step on line 9); the bundled spec/server.yaml is loaded as a whole once;
- a bad spec is checked against the exact message a spec author reads;
- no sockets, no processes.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from sockspec.language.loader import SCHEMA_PATH, SpecError, load_file, load_text
from sockspec.language.model import (
    Client,
    Expectation,
    Family,
    Model,
    Observe,
    ObserveExpectation,
    Origin,
    Payload,
)

ROOT = Path(__file__).resolve().parent.parent
ACTIONS = ", ".join(
    json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))["$defs"]["client"]["properties"]["action"]["enum"]
)
BEHAVIOUR = "(behaviour server.x.y)"
HEADER = """\
model: server
source: RFC 862
behaviours:
  - id: server.x.y
    level: must
    rule: The server echoes what it gets.
    source: RFC 862
    steps:
"""


def spec(steps: str, header: str = HEADER) -> str:
    return header + textwrap.indent(textwrap.dedent(steps), "      ")


def load_error(text: str) -> str:
    with pytest.raises(SpecError) as caught:
        load_text(text, "t.yaml")
    return str(caught.value)


def test_client_steps_load_into_the_model() -> None:
    loaded = load_text(
        spec(
            """\
            - {client: many, action: connect, count: 3, rcvbuf: 4096, limit: 5s}
            - {client: many, action: send, data: "hi {client}", fragment: 1, pause: 20ms}
            - {client: many, action: read, expect: {data: "hi {client}"}}
            - {client: many, action: shutdown, how: write, after: 10ms, name: fin}
            """
        ),
        "t.yaml",
    )
    behaviour = loaded.behaviours[0]
    assert behaviour.model is Model.SERVER
    assert behaviour.requires == frozenset()
    assert behaviour.steps == (
        Client(Origin("t.yaml", 9), "many", "connect", count=3, rcvbuf=4096, limit=5.0),
        Client(
            Origin("t.yaml", 10),
            "many",
            "send",
            payload=b"hi {client}",
            per_client=True,
            fragment=1,
            pause=0.02,
        ),
        Client(Origin("t.yaml", 11), "many", "read", expect=Expectation(data=b"hi {client}")),
        Client(Origin("t.yaml", 12), "many", "shutdown", how="write", name="fin", after=0.01),
    )


def test_observe_steps_load_and_require_proc() -> None:
    loaded = load_text(
        spec(
            """\
            - {observe: base}
            - {client: a, action: connect, count: 2}
            - {observe: busy, over: 1s, baseline: base, expect: {cpu_below: 12.5%, model: declared}}
            - {observe: after, limit: 3s, expect: {back_to: base}}
            """
        ),
        "t.yaml",
    )
    behaviour = loaded.behaviours[0]
    assert behaviour.requires == frozenset({"proc", "declared_model"})
    assert behaviour.steps[0] == Observe(Origin("t.yaml", 9), "base")
    assert behaviour.steps[2] == Observe(
        Origin("t.yaml", 11),
        "busy",
        over=1.0,
        baseline="base",
        expect=ObserveExpectation(cpu_below=0.125, model="declared"),
    )
    assert behaviour.steps[3] == Observe(
        Origin("t.yaml", 12), "after", limit=3.0, expect=ObserveExpectation(back_to="base")
    )


def test_bundled_server_corpus_loads() -> None:
    loaded = load_file(ROOT / "spec" / "server.yaml", "spec/server.yaml")
    assert {behaviour.model for behaviour in loaded.behaviours} == {Model.SERVER}
    assert all(behaviour.families == (Family.TCP4,) for behaviour in loaded.behaviours)
    payloads = [
        step.payload
        for behaviour in loaded.behaviours
        for step in behaviour.steps
        if isinstance(step, Client)
    ]
    assert Payload.pattern(16777216).data in payloads


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (
            "- {client: a, action: send, data: x}\n",
            f"t.yaml:9: behaviours[0].steps[0].client {BEHAVIOUR}: the client 'a' is not connected yet: "
            "connect it first (clients: none so far)",
        ),
        (
            "- {client: a, action: connect}\n- {client: a, action: connect}\n",
            f"t.yaml:10: behaviours[0].steps[1].client {BEHAVIOUR}: the client 'a' was made at step 1; "
            "give each connection (or cycle) its own name",
        ),
        (
            "- {client: a, action: connect}\n- {client: a, action: send, data: x, pause: 10ms}\n",
            f"t.yaml:10: behaviours[0].steps[1].pause {BEHAVIOUR}: pause goes with fragment: "
            "the pause is between fragments",
        ),
        (
            "- {client: a, action: connect}\n- {client: a, action: read}\n",
            f"t.yaml:10: behaviours[0].steps[1].action {BEHAVIOUR}: read needs size, or expect.data "
            "(then it reads that many bytes)",
        ),
        (
            "- {client: a, action: connect}\n- {client: a, action: read, data: x, size: 1}\n",
            f"t.yaml:10: behaviours[0].steps[1].data {BEHAVIOUR}: action read does not take the field 'data'",
        ),
        (
            "- {client: c, action: cycle}\n",
            f"t.yaml:9: behaviours[0].steps[0].action {BEHAVIOUR}: action cycle needs the field 'count'",
        ),
        (
            "- {client: c, action: cycle, count: 2}\n- {client: c, action: close}\n",
            f"t.yaml:10: behaviours[0].steps[1].client {BEHAVIOUR}: 'c' is a cycle of connections, "
            "each closed in turn: nothing is left to act on",
        ),
        (
            "- {observe: now, baseline: before}\n",
            f"t.yaml:9: behaviours[0].steps[0].baseline {BEHAVIOUR}: no earlier observe step is named "
            "'before' (observations: none so far)",
        ),
        (
            "- {observe: now, expect: {cpu_below: 10%}}\n",
            f"t.yaml:9: behaviours[0].steps[0].expect.cpu_below {BEHAVIOUR}: cpu_below needs over: "
            "the window to measure CPU time over",
        ),
        (
            "- {observe: a}\n- {observe: b, over: 1s, expect: {model: threads}}\n",
            f"t.yaml:10: behaviours[0].steps[1].expect.model {BEHAVIOUR}: model needs over and baseline: "
            "the model is inferred by comparing them",
        ),
        (
            "- {peer: send, data: x}\n",
            f"t.yaml:9: behaviours[0].steps[0] {BEHAVIOUR}: a server behaviour's steps are client and "
            "observe steps (call, peer, await and check act on a driver's socket)",
        ),
    ],
)
def test_server_step_errors(steps: str, message: str) -> None:
    assert load_error(spec(steps)) == message


def test_unknown_action_is_explained() -> None:
    assert load_error(spec("- {client: a, action: conect}\n")) == (
        f"t.yaml:9: behaviours[0].steps[0].action {BEHAVIOUR}: 'conect' is not one of: {ACTIONS} "
        "(did you mean 'connect'?)"
    )


def test_server_behaviour_takes_no_driver_fields() -> None:
    header = HEADER.replace(
        "    source: RFC 862\n    steps:", "    source: RFC 862\n    connection: listener\n    steps:"
    )
    assert load_error(spec("- {client: a, action: connect}\n", header)) == (
        f"t.yaml:8: behaviours[0].connection {BEHAVIOUR}: connection does not apply to a server behaviour "
        "(clients set rcvbuf and sndbuf on connect)"
    )


def test_server_behaviour_runs_over_tcp_only() -> None:
    header = HEADER.replace(
        "source: RFC 862\nbehaviours:", "source: RFC 862\nfamilies: [tcp4, unix]\nbehaviours:"
    )
    assert load_error(spec("- {client: a, action: connect}\n", header)) == (
        "t.yaml:3: families: a server behaviour runs over tcp4 or tcp6, not unix"
    )


def test_client_step_in_a_driver_behaviour_is_refused() -> None:
    header = HEADER.replace("model: server", "model: blocking").replace("server.x.y", "blocking.x.y")
    assert load_error(spec("- {client: a, action: connect}\n", header)) == (
        "t.yaml:9: behaviours[0].steps[0] (behaviour blocking.x.y): client and observe steps belong to "
        "server behaviours"
    )
