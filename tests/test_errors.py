"""The exception hierarchy: every library error is an AlpaServeError with a named value."""

from __future__ import annotations

import pytest

import alpaserve
from alpaserve import errors
from workloads.errors import AlpaServeError as RootError


def test_hierarchy() -> None:
    assert errors.AlpaServeError is RootError is alpaserve.AlpaServeError
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), RootError), name
    assert issubclass(errors.SpecError, ValueError)
    assert issubclass(errors.SimulationError, ValueError)
    assert issubclass(errors.ProfileError, KeyError)
    assert issubclass(errors.TraceFormatError, errors.WorkloadError)
    assert not issubclass(errors.InfeasibleError, ValueError)


def test_profile_error_message_is_not_quoted() -> None:
    assert str(errors.ProfileError("no profile for 'm'")) == "no profile for 'm'"
    assert str(errors.ProfileError()) == ""


def test_trace_format_error_names_location() -> None:
    exc = errors.TraceFormatError("bad value", path="t.csv", line=3, column="ts")
    assert str(exc) == "file t.csv, line 3, column 'ts': bad value"
    assert (exc.path, exc.line, exc.column) == ("t.csv", 3, "ts")
    assert str(errors.TraceFormatError("plain")) == "plain"


def test_catching_the_root_catches_spec_errors() -> None:
    with pytest.raises(alpaserve.AlpaServeError, match=r"'nope'"):
        alpaserve.model_preset("nope")
