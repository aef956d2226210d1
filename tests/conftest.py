"""Hypothesis profiles and the debug-build check for the whole test suite.

HYPOTHESIS_PROFILE picks the profile (default ``dev``):

- ``dev``: quick, for the edit-test loop;
- ``ci``: what ``make test`` runs; thorough, and the whole suite stays within a few
  minutes on two cores (twice: release and debug builds);
- ``nightly``: long, thousands of examples and longer state-machine runs.

ENGINE_EXPECT_DEBUG=1 (set by ``make test-debug``) makes the session fail at once
unless the engine being imported is the debug build, so the debug run can't silently
test the release extension.
"""
import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev", max_examples=50, stateful_step_count=30, deadline=None,
)
settings.register_profile(
    "ci", max_examples=200, stateful_step_count=50, deadline=None, derandomize=False,
    print_blob=True, suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "nightly", max_examples=5000, stateful_step_count=200, deadline=None,
    print_blob=True, suppress_health_check=[HealthCheck.too_slow],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")
settings.load_profile(PROFILE)


def _expect_debug():
    return os.environ.get("ENGINE_EXPECT_DEBUG", "") not in ("", "0")


def pytest_report_header(config):
    import engine._book
    build = "debug (bounds checks and ENGINE_CHECK on)" if engine._book.DEBUG_BUILD else "release"
    return [f"engine build: {build}, {engine._book.__file__}",
            f"hypothesis profile: {PROFILE}"]


def pytest_sessionstart(session):
    if _expect_debug():
        import engine._book
        if not engine._book.DEBUG_BUILD:
            raise pytest.UsageError(
                f"ENGINE_EXPECT_DEBUG=1 but {engine._book.__file__} is a release build: "
                "build with ENGINE_DEBUG=1 and put it first on PYTHONPATH")
