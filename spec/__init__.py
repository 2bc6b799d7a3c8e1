"""The spec corpus, installed as the package data of `checks.corpus_files`.

pyproject.toml maps that package to this folder, so a wheel carries these files
and an editable install reads them here; `checks.corpus` finds them.
"""
