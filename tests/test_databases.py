"""The test set-up itself: CI never skips the PostgreSQL or Redis tests for want of a server
address."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.databases import ci_problem

ROOT = Path(__file__).resolve().parents[1]
URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"
BOTH = {"TEST_DATABASE_URL": URL, "TEST_REDIS_URL": REDIS}


@pytest.mark.parametrize(
    ("env", "refused"),
    [({}, False), ({"TEST_DATABASE_URL": URL}, False), ({"CI": "true"}, True),
     ({"CI": "1", "TEST_DATABASE_URL": "", "TEST_REDIS_URL": REDIS}, True),
     ({"CI": "true", "TEST_DATABASE_URL": URL}, True), ({"CI": "true", **BOTH}, False),
     ({"CI": "true", **BOTH, "TEST_REDIS_URL": ""}, True), ({"CI": "false"}, False)],
)  # fmt: skip
def test_ci_without_a_test_database_is_refused(env, refused):
    assert (ci_problem(env) is not None) == refused


@pytest.mark.parametrize("missing", ["TEST_DATABASE_URL", "TEST_REDIS_URL"])
def test_pytest_stops_at_once_in_ci_without_a_test_database(missing):
    env = {k: v for k, v in os.environ.items() if k not in BOTH}
    env.update({k: v for k, v in BOTH.items() if k != missing})
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "0",
            "--collect-only",
            "-q",
            "tests/bot/core/test_render.py",
        ],
        cwd=ROOT,
        env={**env, "CI": "true"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert f"CI is set but {missing} is not" in result.stdout + result.stderr
