"""Words for people about servers: a failed server behaviour, a server that is not there, the summary.

Rules of this module:
- text only: functions take verdicts and strings and return strings; no I/O, no pytest;
- a server failure reads like any failure (sockspec.reports.terminal: rule, problems,
  where, source, timeline), then says what the server is doing, where it was stuck
  when a client's wait ran out (`stuck:`, its first sentence, then its stacks
  folded and indented below), and shows its last stderr (and stdout) lines;
- a behaviour that could not run because the server is not there was not
  reached: its text says so, with the problem;
- the summary names, per server, the model observed with its evidence, the
  model declared, how the server was stopped, and how often it was restarted
  between behaviours and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sockspec.judging.events import What, describe
from sockspec.judging.verdict import Verdict
from sockspec.language.model import Behaviour, Family
from sockspec.reports.record import ServerRecord
from sockspec.reports.results import observed_model
from sockspec.reports.terminal import render_failure, render_server
from sockspec.servers.config import DeclaredModel
from sockspec.servers.infer import Inference, check_declared


def render_server_failure(verdict: Verdict, impl: str, server: str, output: Sequence[str]) -> str:
    lines = [render_failure(verdict, impl), f"  server:  {server}"]
    if verdict.failure is not None and verdict.failure.stuck:
        lines.extend(stuck_lines(verdict.failure.stuck))
    lines.extend(f"  {line}" for line in output)
    return "\n".join(lines)


def stuck_lines(stuck: str) -> list[str]:
    """Where the server was stuck: the sentence on the `stuck:` line, the stacks below it."""
    first, *rest = stuck.splitlines() or [""]
    return [f"  stuck:   {first}", *(f"           {line}" for line in rest)]


def render_unavailable(behaviour: Behaviour, impl: str, family: Family, problem: str) -> str:
    """The failure of a behaviour that could not run because the server is not there: its rule
    was not reached."""
    return "\n".join(
        [
            f"{behaviour.id} not reached on {impl} over {family.value} "
            f"({behaviour.model.value}, {behaviour.level.value.upper()}): the server is not available",
            f"  rule:    {behaviour.rule}",
            *(
                f"  problem: {line}" if number == 0 else f"  {line}"
                for number, line in enumerate(problem.splitlines())
            ),
            f"  source:  {behaviour.source}",
        ]
    )


def model_lines(
    impl: str, inference: Inference | None, declared: DeclaredModel | None, observable: bool
) -> list[str]:
    """What model the checker saw for a server, against what it declares, and the evidence."""
    said = f"declared {declared.value}" if declared is not None else "no model declared"
    if not observable:
        return [f"{impl}: observed model: not observable (sockspec did not start this server); {said}"]
    matches = None if declared is None or inference is None else not check_declared(declared, inference)
    observed = observed_model(inference) if inference is not None else None
    return render_server(ServerRecord(impl, declared.value if declared else None, observed, matches))


#: A restart's cause (sockspec.servers.live.Cause's value) -> why, in the summary.
RESTART_WORDS: dict[str, str] = {
    "failed": "after a behaviour failed",
    "errored": "after a behaviour errored",
    "exited": "after it exited",
    "unsettled": "when it did not settle after a behaviour",
    "each": 'before each behaviour (restart = "each")',
}


def restart_lines(impl: str, causes: Mapping[str, int], refused: What | None = None) -> list[str]:
    """How often a server was restarted between behaviours, and why (`causes`: cause -> count);
    `refused`: the first restart called for that could not be done (a server given by address)."""
    lines = []
    total = sum(causes.values())
    if total:
        why = ", ".join(
            f"{count} {RESTART_WORDS.get(cause, cause)}" for cause, count in sorted(causes.items(), key=_most)
        )
        lines.append(
            f"{impl}: restarted {total} time{'' if total == 1 else 's'}: {why} "
            "(the next behaviour's timeline starts with the reason)"
        )
    if refused is not None:
        lines.append(f"{impl}: {describe(refused)}")
    return lines


def _most(pair: tuple[str, int]) -> tuple[int, str]:
    return -pair[1], pair[0]
