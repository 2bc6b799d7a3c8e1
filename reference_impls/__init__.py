"""Reference implementations: faithful, thin uses of real stacks, readable as teaching material.

Each module is one stack. A reference driver passes every behaviour of the models
it declares; that is checked by the project's own tests (tests/test_matrix.py).
"""
