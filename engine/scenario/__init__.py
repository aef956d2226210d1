"""Scenarios: TOML files and built-in presets that build a book, a leveraged population,
market makers, session limits and a shock, and run the cascade.

>>> from engine.scenario import run_scenario
>>> result = run_scenario("margin-crash", seed=7, scale=0.01)   # doctest: +SKIP
>>> print(result.text())                                         # doctest: +SKIP

- :func:`load` / :func:`loads` / :func:`validate`: read and check a scenario (errors
  name the file, the field and what was expected);
- :func:`preset`, :data:`PRESETS`: the canonical scenarios the engine supports;
- :func:`build`: book, accounts, providers, cascade and shock from a scenario and a seed;
- :func:`run_scenario`: build and run, returning a :class:`ScenarioResult`
  (``summary``, ``text()``, ``write(out)``).
"""
from engine.scenario.schema import (
    ScenarioError, load, loads, validate, to_toml, set_field, parse_value,
)
from engine.scenario.presets import (
    PRESETS, DEFAULT_PRESET, UNSUPPORTED, preset, preset_names, describe,
)
from engine.scenario.build import Setup, build, child_seed, draw
from engine.scenario.run import ScenarioResult, resolve, run_scenario, run_setup, jsonable

__all__ = [
    "ScenarioError", "load", "loads", "validate", "to_toml", "set_field", "parse_value",
    "PRESETS", "DEFAULT_PRESET", "UNSUPPORTED", "preset", "preset_names", "describe",
    "Setup", "build", "child_seed", "draw",
    "ScenarioResult", "resolve", "run_scenario", "run_setup", "jsonable",
]
