"""The spec corpus, installed as the package data of `sockspec.corpus_files`.

pyproject.toml maps that package to this folder, so a wheel carries these files
and an editable install reads them here; `sockspec.language.corpus` finds them.
"""
