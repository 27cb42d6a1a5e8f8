"""The test set-up itself: CI never skips the PostgreSQL tests for want of a server address."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.databases import ci_problem

ROOT = Path(__file__).resolve().parents[1]
URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.mark.parametrize(
    ("env", "refused"),
    [({}, False), ({"TEST_DATABASE_URL": URL}, False), ({"CI": "true"}, True),
     ({"CI": "1", "TEST_DATABASE_URL": ""}, True), ({"CI": "true", "TEST_DATABASE_URL": URL}, False),
     ({"CI": "false"}, False)],
)  # fmt: skip
def test_ci_without_a_test_database_is_refused(env, refused):
    assert (ci_problem(env) is not None) == refused


def test_pytest_stops_at_once_in_ci_without_a_test_database():
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "0",
            "--collect-only",
            "-q",
            "tests/bot/test_render.py",
        ],
        cwd=ROOT,
        env={**env, "CI": "true"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "CI is set but TEST_DATABASE_URL is not" in result.stdout + result.stderr
