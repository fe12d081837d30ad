"""Shared test setup."""

import sys
from pathlib import Path

# CPython 3.11.7's AST recursion-depth bookkeeping can trip when a module is first compiled late
# in a session that ran Pulumi's deep async stacks (gh-106905); compile hypothesis up front.
import hypothesis  # noqa: F401

sys.path.insert(0, str(Path(__file__).parent))
