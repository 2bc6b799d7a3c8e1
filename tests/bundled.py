"""The bundled corpus as the tests count it: every spec file of `sockspec.language.corpus.CORPUS`,
loaded with `sockspec.language.loader.load_file` under the name its items carry (spec/<file>.yaml).

Rules of this module:
- a number of behaviours or items that a test expects is computed from these, never
  written into the test, so a behaviour added to the corpus needs no test edited;
- the corpus is found the way sockspec finds it (an editable install reads the
  clone's spec/ folder); a file that does not load fails the import, with its
  SpecError (tests/test_corpus_lint.py reports it per file);
- no pytest: plain data, imported by test modules at collection.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from sockspec.language.corpus import CORPUS
from sockspec.language.loader import load_file
from sockspec.language.model import Behaviour, Family, Model

SPEC_FILES = sorted(CORPUS.glob("*.yaml"))
BEHAVIOURS: tuple[Behaviour, ...] = tuple(
    behaviour for path in SPEC_FILES for behaviour in load_file(path, f"spec/{path.name}").behaviours
)


def of_models(*models: Model) -> list[Behaviour]:
    """The behaviours of these models, in corpus order."""
    return [behaviour for behaviour in BEHAVIOURS if behaviour.model in models]


def by_id(behaviour_id: str) -> Behaviour:
    (found,) = (behaviour for behaviour in BEHAVIOURS if behaviour.id == behaviour_id)
    return found


def item_count(behaviours: Iterable[Behaviour], families: Collection[Family] | None = None) -> int:
    """How many items these behaviours make for one impl: one per family each lists (of `families`)."""
    return sum(
        len([family for family in behaviour.families if families is None or family in families])
        for behaviour in behaviours
    )
