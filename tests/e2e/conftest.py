"""The end-to-end tests: the real bot, through the fake Discord and OpenAI servers of
``tests/fakes``. Marked ``e2e`` here, so ``-m "not e2e"`` runs the fast suite alone."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:  # a hook in a conftest sees every item: keep to ours
            item.add_marker(pytest.mark.e2e)
