"""Root of the library's exception hierarchy.

The root lives here, in the bottom layer, because ``workloads`` may import nothing else from
the project while every other package must be able to raise subclasses of the same base.
``alpaserve.errors`` re-exports these classes next to the rest of the hierarchy, so user code
should import from there.
"""

from __future__ import annotations


class AlpaServeError(Exception):
    """Base class of every error the library raises on purpose."""


class WorkloadError(AlpaServeError, ValueError):
    """An invalid workload, arrival-process parameter or request column."""


class TraceFormatError(WorkloadError):
    """A trace file that does not follow its format.

    The message names the file, the line and the column whenever they are known.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.column = column
        where = []
        if path is not None:
            where.append(f"file {path!s}")
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
