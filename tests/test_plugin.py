"""The pytest plugin seen from the command line, through pytester.

Rules of this file:
- every test runs pytest in a fresh pytester directory, where the plugin is
  active through its installed pytest11 entry point (this file never registers it);
- every run is a subprocess (runpytest_subprocess): an in-process run shares
  sys.modules and sockspec's module caches with this process (pytest then warns
  that `sockspec` cannot be rewritten), which is not how a user runs sockspec;
- a user's driver is a module written into that directory and named with
  --impl=module:Class, as a user would;
- expectations about the corpus (which items exist, which model they belong to)
  are computed with sockspec.language.loader from spec/*.yaml, not written out by hand;
- runs stay small: each selects a few items with -k or -m, or only collects;
- a message for a person is never a Python traceback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path
from xml.etree import ElementTree

import pytest
from sockspec.driving.connections import unavailable
from sockspec.judging import applicability
from sockspec.language.loader import load_file
from sockspec.language.model import Behaviour, Family, Model
from sockspec.plugin import profiles
from sockspec.plugin.registry import Impl, known_names, resolve

ROOT = Path(__file__).resolve().parent.parent
CORPUS: list[tuple[str, Behaviour]] = [
    (f"spec/{path.name}", behaviour)
    for path in sorted((ROOT / "spec").glob("*.yaml"))
    for behaviour in load_file(path, f"spec/{path.name}").behaviours
]
SOCKETS = profiles.profile(resolve(["sockets"])[0])
ITEM = re.compile(r"^(spec/[a-z]+\.yaml::[a-z0-9.-]+\[[^\]]+\])(?: (PASSED|FAILED|SKIPPED|ERROR))?")

DRIVERS = '''\
from __future__ import annotations

import socket

from sockspec.language.model import Model
from sockspec.reference_impls.sockets_ref import SocketsDriver


class Broken(SocketsDriver):
    """recv returns b'' at once when nothing is buffered, instead of waiting."""

    name = "broken"

    def recv(self, sock: socket.socket, size: int, flags: int) -> bytes:
        try:
            return sock.recv(size, flags | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return b""


class BlockingOnly(SocketsDriver):
    """The reference driver, declaring only the blocking model."""

    name = "blocking-only"
    models = frozenset({Model.BLOCKING})


class Refused(SocketsDriver):
    """The reference driver on a machine that refuses what it is built on."""

    name = "refused"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return "the kernel refuses it here"
'''


def user_driver(name: str) -> applicability.Profile:
    """What applicability knows of a driver class of DRIVERS, as the plugin sees it."""
    module = types.ModuleType("userdrivers")
    exec(DRIVERS, module.__dict__)
    return profiles.profile(Impl(f"userdrivers:{name}", getattr(module, name)))


BAD_SPEC = """\
model: blocking
source: io-models-blog.md
behaviours:
  - id: blocking.bad.one
    level: must
    rule: A recv returns what is there.
    source: recv(2)
    steps:
      - call: recv
        sise: 4
"""


def output(result: pytest.RunResult) -> str:
    return "\n".join(result.outlines + result.errlines)


def item_ids(result: pytest.RunResult) -> list[str]:
    """The node ids of the items listed by --collect-only -q (or reported by -v)."""
    return [match[1] for line in result.outlines if (match := ITEM.match(line))]


def expected_ids(selected: list[tuple[str, Behaviour]], impl: str, family: Family | None = None) -> list[str]:
    return [
        f"{file}::{behaviour.id}[{impl}-{each.value}]"
        for file, behaviour in selected
        for each in behaviour.families
        if family is None or each is family
    ]


def applying(
    selected: list[tuple[str, Behaviour]], impl: applicability.Profile
) -> list[tuple[str, Behaviour]]:
    """The behaviours of `selected` that apply to `impl` and run by default (scale behaviours that
    apply are opt-in: deselected unless -m names them)."""
    return [
        (file, b) for file, b in selected if b.scale is None and applicability.not_applicable(b, impl) is None
    ]


def not_applying(
    selected: list[tuple[str, Behaviour]], impl: applicability.Profile
) -> list[tuple[str, Behaviour]]:
    return [(file, b) for file, b in selected if applicability.not_applicable(b, impl) is not None]


CORPUS_ITEMS = expected_ids(CORPUS, "sockets")


def test_impl_unknown_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--impl=nosuch")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "sockets" in known_names()
    result.stderr.fnmatch_lines(
        [f"ERROR: unknown impl 'nosuch'. Known impls: {', '.join(known_names())}; or module:Class*"]
    )
    assert "Traceback" not in output(result)


def test_impl_near_miss_suggests_the_name(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--impl=socket")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: unknown impl 'socket'. Did you mean 'sockets'? Known impls: *"])


def test_impl_module_without_the_class_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(userdrivers=DRIVERS)
    result = pytester.runpytest_subprocess("--impl=userdrivers:Missing")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*unknown impl 'userdrivers:Missing' (module 'userdrivers' has no attribute 'Missing')*"]
    )


def test_keyword_selects_matching_items_and_they_pass(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--impl=sockets", "-k", "recv and tcp4", "-v")
    selected = [(file, behaviour) for file, behaviour in CORPUS if "recv" in behaviour.id]
    expected = expected_ids(applying(selected, SOCKETS), "sockets", Family.TCP4)
    assert expected and not_applying(selected, SOCKETS), "the selection has items of both kinds"
    assert sorted(item_ids(result)) == sorted(expected)
    result.assert_outcomes(passed=len(expected), deselected=len(CORPUS_ITEMS) - len(expected))
    assert result.ret == pytest.ExitCode.OK


def test_collect_only_lists_the_items_that_apply(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--impl=sockets", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.OK
    expected = expected_ids(applying(CORPUS, SOCKETS), "sockets")
    assert item_ids(result) == expected
    assert "spec/blocking.yaml::blocking.recv.waits-for-peer[sockets-tcp4]" in expected
    left = len(CORPUS_ITEMS) - len(expected)
    scale = [(file, b) for file, b in CORPUS if b.scale is not None]
    opt_in = len(expected_ids(scale, "sockets"))
    result.stdout.fnmatch_lines(
        [
            "not applicable, so deselected (not run):",
            f"  sockets: readiness, completion ({left - opt_in} items): sockets does not declare these "
            "models (it declares: blocking, nonblocking)",
            f"opt-in, so deselected: {opt_in} scale item* ({', '.join(b.id for _f, b in scale)}): *"
            "run them with -m scale",
            f"{len(expected)}/{len(CORPUS_ITEMS)} tests collected ({left} deselected) in *",
        ]
    )


def test_marker_selects_one_model(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--impl=sockets", "--collect-only", "-q", "-m", "nonblocking")
    assert result.ret == pytest.ExitCode.OK
    selected = [(file, b) for file, b in CORPUS if b.model is Model.NONBLOCKING]
    assert selected
    assert item_ids(result) == expected_ids(selected, "sockets")
    assert all("::nonblocking." in node_id for node_id in item_ids(result))


def test_summary_counts_per_model(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--impl=sockets", "-k", "recv.zero-size and tcp4")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=2, deselected=len(CORPUS_ITEMS) - 2)
    result.stdout.re_match_lines(
        [
            r"^=+ sockspec conformance =+$",
            r"^pass  sockets  blocking +1 passed +0 failed +0 not applicable$",
            r"^pass  sockets  nonblocking +1 passed +0 failed +0 not applicable$",
            r"^timing: tolerance \d+\.\d ms on upper bounds, step limit 2\.000 s, item limit 15\.0 s$",
            r"^  tolerance measured at the start of the run: \d+ no-op socket calls on a worker thread, .*"
            r"tolerance = 4 x worst, within \[20\.0 ms, 40\.0 ms\]$",
        ]
    )


def test_malformed_spec_is_a_collection_error_without_traceback(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", bad=BAD_SPEC)
    result = pytester.runpytest_subprocess("--impl=sockets", "--spec", "bad.yaml", "--spec-only")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.re_match_lines(
        [
            r"^_+ ERROR collecting bad\.yaml _+$",
            r"^sockspec cannot load this spec file:$",
            re.escape(
                "bad.yaml:10: behaviours[0].steps[0].sise (behaviour blocking.bad.one): "
                "unknown field 'sise' (did you mean 'size'?); allowed here: "
            ),
            r"^!+ Interrupted: 1 error during collection !+$",
        ]
    )
    assert "Traceback" not in output(result)


def test_spec_path_missing_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--impl=sockets", "--spec", "nothere.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --spec nothere.yaml: no such file or folder"])
    assert "Traceback" not in output(result)


def test_user_driver_failure_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(userdrivers=DRIVERS)
    result = pytester.runpytest_subprocess("--impl=userdrivers:Broken", "-k", "recv.waits-for-peer and tcp4")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=1, deselected=len(CORPUS_ITEMS) - 1)
    result.stdout.fnmatch_lines(
        [
            "blocking.recv.waits-for-peer failed on * over tcp4 (blocking, MUST)",
            "  rule:    A blocking recv on an empty buffer does not return until the peer sends*",
            "  problem: expected data b'hello', observed EOF (b'')",
            "  problem: expected it to return not before 'send' *",
            "  where:   spec/blocking.yaml:*: step 3 (await r: recv(1024) from step 1)",
            "  source:  *",
            "  timeline (ms since the behaviour started; '>' marks the failing step):",
            "FAIL  userdrivers:Broken  blocking * 0 passed    1 failed    0 not applicable",
            "FAILED spec/blocking.yaml::blocking.recv.waits-for-peer[[]userdrivers:Broken-tcp4[]]*",
        ]
    )
    assert "Traceback" not in output(result)


def test_undeclared_model_is_deselected_and_said_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(userdrivers=DRIVERS)
    result = pytester.runpytest_subprocess("--impl=userdrivers:BlockingOnly", "-k", "recv.zero-size and tcp4")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, deselected=len(CORPUS_ITEMS) - 1)
    result.stdout.re_match_lines([r"^spec/blocking\.yaml \. +\[100%\]$"])  # one dot, no s
    result.stdout.re_match_lines(
        [
            r"^pass  userdrivers:BlockingOnly  blocking +1 passed +0 failed +0 not applicable$",
            r"^not applicable, so deselected \(not run\):$",
            r"^  userdrivers:BlockingOnly: nonblocking \(1 item\): userdrivers:BlockingOnly does not declare "
            r"these models \(it declares: blocking\)$",
        ]
    )
    assert "spec/nonblocking.yaml" not in result.stdout.str(), "a not applicable item was run"
    assert result.stdout.str().count("does not declare") == 1


def test_a_driver_gets_no_server_items_and_hears_why_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(userdrivers=DRIVERS)
    impl = user_driver("BlockingOnly")
    result = pytester.runpytest_subprocess("--impl=userdrivers:BlockingOnly", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.OK
    assert item_ids(result) == expected_ids(applying(CORPUS, impl), "userdrivers:BlockingOnly")
    assert all("::blocking." in node_id for node_id in item_ids(result))
    servers = len(expected_ids([(file, b) for file, b in CORPUS if b.model is Model.SERVER], "x"))
    others = len(
        expected_ids([(f, b) for f, b in not_applying(CORPUS, impl) if b.model is not Model.SERVER], "x")
    )
    result.stdout.fnmatch_lines(
        [
            "not applicable, so deselected (not run):",
            f"  userdrivers:BlockingOnly: nonblocking, readiness, completion ({others} items): "
            "userdrivers:BlockingOnly does not declare these models (it declares: blocking)",
            f"  userdrivers:BlockingOnly: server ({servers} items): "
            "userdrivers:BlockingOnly is a driver, not a server: *",
        ]
    )


def test_a_skip_found_while_running_is_at_the_behaviours_spec_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(userdrivers=DRIVERS)
    result = pytester.runpytest_subprocess(
        "--impl=userdrivers:Refused", "-k", "recv.zero-size and tcp4", "-rs", "--sockspec-json=run.json"
    )
    selected = [(file, b) for file, b in CORPUS if b.id.endswith(".recv.zero-size")]
    assert len(selected) == 2
    result.assert_outcomes(skipped=2, deselected=len(CORPUS_ITEMS) - 2)
    result.stdout.fnmatch_lines_random(
        [
            f"SKIPPED [[]1[]] {behaviour.origin}: userdrivers:Refused cannot run on this machine: "
            "the kernel refuses it here"
            for _file, behaviour in selected
        ]
    )
    assert "plugin" not in "\n".join(line for line in result.outlines if line.startswith("SKIPPED"))
    # Nothing was checked: that fails as pytest's "no tests ran".
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.stdout.fnmatch_lines(["sockspec: nothing was checked: * (see the reasons with -rs); *"])
    document = json.loads((pytester.path / "run.json").read_text(encoding="utf-8"))
    assert [(item["id"], item["outcome"]) for item in document["items"]] == [
        (behaviour.id, "n/a") for _file, behaviour in selected
    ]
    assert document["not_applicable"] == []


def test_nothing_applicable_fails_as_no_tests_ran_and_the_json_says_why(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(userdrivers=DRIVERS)
    result = pytester.runpytest_subprocess(
        "--impl=userdrivers:BlockingOnly", "-m", "nonblocking", "-k", "tcp4", "--sockspec-json=run.json"
    )
    selected = [(file, b) for file, b in CORPUS if b.model is Model.NONBLOCKING and Family.TCP4 in b.families]
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.assert_outcomes(deselected=len(CORPUS_ITEMS))
    result.stdout.fnmatch_lines(
        [
            f"  userdrivers:BlockingOnly: nonblocking ({len(selected)} items): *",
            "sockspec: nothing was checked: every behaviour selected was not applicable to the impls run "
            "(see the reasons above); the run fails as pytest's 'no tests ran'",
        ]
    )
    document = json.loads((pytester.path / "run.json").read_text(encoding="utf-8"))
    assert document["items"] == []
    assert document["gate"] == "fail"
    assert document["not_applicable"] == [
        {
            "impl": "userdrivers:BlockingOnly",
            "reason": "userdrivers:BlockingOnly does not declare these models (it declares: blocking)",
            "models": {"nonblocking": len(selected)},
            "behaviours": [behaviour.id for _file, behaviour in selected],
        }
    ]


def test_under_xdist_the_workers_say_what_was_not_applicable(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(userdrivers=DRIVERS)
    result = pytester.runpytest_subprocess(
        "-n",
        "2",
        "--impl=userdrivers:BlockingOnly",
        "-k",
        "recv.zero-size and tcp4",
        "--sockspec-json=run.json",
    )
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["  userdrivers:BlockingOnly: nonblocking (1 item): *"])
    document = json.loads((pytester.path / "run.json").read_text(encoding="utf-8"))
    assert [(left["impl"], left["models"]) for left in document["not_applicable"]] == [
        ("userdrivers:BlockingOnly", {"nonblocking": 1})
    ]


def test_applicability_names_the_contract_classes_the_plugin_checks() -> None:
    assert {model: kind.__name__ for model, kind in profiles.CONTRACTS.items()} == applicability.CONTRACTS


def test_without_impl_the_plugin_adds_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_ordinary="""
        def test_ordinary() -> None:
            assert 1 + 1 == 2
        """
    )
    result = pytester.runpytest_subprocess("-v")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["test_ordinary.py::test_ordinary PASSED*"])
    result.stdout.fnmatch_lines(["plugins: *sockspec*"])
    assert [line for line in result.outlines if "sockspec" in line and not line.startswith("plugins:")] == []


def test_ini_impls_run_the_corpus(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        sockspec_impls = ["sockets"]
        """
    )
    result = pytester.runpytest_subprocess("-k", "recv.zero-size and tcp4")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=2, deselected=len(CORPUS_ITEMS) - 2)
    result.stdout.fnmatch_lines(["sockspec impls: sockets (*", "*= sockspec conformance =*"])


def test_ini_tolerance_shows_in_the_header(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
        [pytest]
        sockspec_impls = sockets
        sockspec_tolerance = 300ms
        """
    )
    result = pytester.runpytest_subprocess("--collect-only", "-k", "recv.zero-size and tcp4")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["sockspec timing: tolerance 300.0 ms on upper bounds, *"])


def test_ini_bad_duration_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
        [pytest]
        sockspec_impls = sockets
        sockspec_tolerance = 300 ms
        """
    )
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --sockspec-tolerance / sockspec_tolerance: not a duration: '300 ms' "
            "(write e.g. 100ms, 1.5s, 250us)"
        ]
    )
    assert "Traceback" not in output(result)


def test_junitxml_carries_the_spec_id_model_level_and_rule(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(userdrivers=DRIVERS)
    report = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess(
        "--impl=userdrivers:Broken", "-k", "recv.waits-for-peer and tcp4", f"--junitxml={report}"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    case = ElementTree.parse(report).getroot().find(".//testcase")
    assert case is not None
    properties = {node.get("name"): node.get("value") for node in case.iter("property")}
    behaviour = next(b for _file, b in CORPUS if b.id == "blocking.recv.waits-for-peer")
    assert properties == {
        "spec_id": behaviour.id,
        "model": "blocking",
        "level": "must",
        "impl": "userdrivers:Broken",
        "family": "tcp4",
        "rule": behaviour.rule,
        "source": behaviour.source,
        "sockspec_outcome": "failed",
    }
    failure = case.find("failure")
    assert failure is not None
    assert behaviour.rule in (failure.get("message") or "")


def test_a_driver_module_in_the_current_folder_is_found_by_the_pytest_command(tmp_path: Path) -> None:
    """`pytest` (the console script) does not put the current folder on sys.path; sockspec looks there."""
    script = Path(sys.executable).with_name("pytest")
    if not script.exists():
        pytest.skip(f"no pytest command beside {sys.executable}")
    (tmp_path / "userdrivers.py").write_text(DRIVERS)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "PYTHON"))}
    done = subprocess.run(
        [
            str(script),
            "-p",
            "no:cacheprovider",
            "--impl=userdrivers:Broken",
            "-k",
            "recv.waits-for-peer and tcp4",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout + done.stderr
    assert "blocking.recv.waits-for-peer failed on userdrivers:Broken over tcp4" in done.stdout


USER_SPEC = """\
model: blocking
source: course notes
behaviours:
  - id: course.recv.gets-late-bytes
    level: must
    rule: A blocking recv returns the bytes the peer sends later, and not before it sends them.
    source: course notes; recv(2)
    steps:
      - call: recv
        size: 64
        as: r
      - peer: send
        data: late
        after: 50ms
        name: send
      - await: r
        expect: {data: late, not_before: send}
"""


def test_ini_spec_folders_run_beside_the_corpus_or_alone(pytester: pytest.Pytester) -> None:
    (pytester.path / "course").mkdir()
    (pytester.path / "course" / "recv.yaml").write_text(USER_SPEC)
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nsockspec_specs = ["course"]\n')
    beside = pytester.runpytest_subprocess("--impl=sockets", "-k", "gets-late-bytes or waits-for-peer", "-v")
    assert beside.ret == pytest.ExitCode.OK
    beside.stdout.fnmatch_lines(["*sockspec corpus: *; your spec files: course/recv.yaml"])
    beside.stdout.fnmatch_lines(["course/recv.yaml::course.recv.gets-late-bytes[[]sockets-tcp4[]] PASSED*"])
    beside.stdout.fnmatch_lines(["spec/blocking.yaml::*waits-for-peer[[]sockets-tcp4[]] PASSED*"])
    alone = pytester.runpytest_subprocess("--impl=sockets", "--spec-only", "-v")
    assert alone.ret == pytest.ExitCode.OK
    alone.stdout.fnmatch_lines(["sockspec corpus: not run (--spec-only); your spec files: course/recv.yaml"])
    assert "spec/blocking.yaml::" not in alone.stdout.str()
    available = [family for family in Family if unavailable(family) is None]
    assert alone.parseoutcomes()["passed"] == len(available)
