"""Checked argparse types for paths: files to read, files to write, cache directories.

An input must be an existing, readable regular file; an output must have a known suffix and
a parent directory that exists and is writable (it is not created); a cache directory must
be, or be creatable inside, a writable directory. Every error is one line that names the
path. Kept apart from :mod:`alpaserve.cli._checks` (numbers and their caps, which re-exports
these) because these ask the file system, not the text of the flag.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

TABLE_SUFFIXES = (".csv", ".parquet", ".pq", ".json")
PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".eps", ".ps", ".tif", ".tiff",
                 ".webp")


def input_file(text: str) -> Path:
    """An argparse type: an existing, readable regular file.

    Examples
    --------
    >>> try:
    ...     input_file("/no/such/file.json")
    ... except argparse.ArgumentTypeError as exc:
    ...     print(exc)
    file '/no/such/file.json' does not exist
    """
    path = Path(text)
    try:
        if not path.exists():
            raise argparse.ArgumentTypeError(f"file {text!r} does not exist")
        if path.is_dir():
            raise argparse.ArgumentTypeError(f"{text!r} is a directory, not a file")
        if not path.is_file():
            raise argparse.ArgumentTypeError(f"{text!r} is not a regular file")
    except OSError as exc:  # e.g. a name too long for the file system
        raise argparse.ArgumentTypeError(f"cannot use {text!r}: {exc.strerror}") from None
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"file {text!r} is not readable")
    return path


def trace_or_synthetic(text: str) -> str:
    """An argparse type: ``"synthetic"`` or an existing, readable file (as given).

    Examples
    --------
    >>> trace_or_synthetic("synthetic")
    'synthetic'
    """
    if text != "synthetic":
        input_file(text)
    return text


def _writable_dir(directory: Path, text: str) -> None:
    if not directory.exists():
        raise argparse.ArgumentTypeError(f"the directory of {text!r} ({str(directory)!r}) "
                                         "does not exist")
    if not directory.is_dir():
        raise argparse.ArgumentTypeError(f"{str(directory)!r} in {text!r} is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"the directory of {text!r} ({str(directory)!r}) "
                                         "is not writable")


def output_file(*suffixes: str) -> Callable[[str], Path]:
    """An argparse type: a file to write, with one of ``suffixes`` (any, when none are
    given), in an existing writable directory, and not itself a directory.

    Parameters
    ----------
    suffixes
        Allowed suffixes, lower case with the dot (matched case-insensitively).

    Returns
    -------
    Callable[[str], Path]
        The parser, raising ``argparse.ArgumentTypeError`` with a one-line message.

    Examples
    --------
    >>> output_file(".csv", ".json")("rows.csv").name
    'rows.csv'
    >>> try:
    ...     output_file(".png")("plot.bmp")
    ... except argparse.ArgumentTypeError as exc:
    ...     print(exc)
    'plot.bmp' must end in .png
    """

    def parse(text: str) -> Path:
        path = Path(text)
        if not text or text.endswith(("/", os.sep)):
            raise argparse.ArgumentTypeError(f"{text!r} is not a file name")
        if suffixes and path.suffix.lower() not in suffixes:
            raise argparse.ArgumentTypeError(f"{text!r} must end in {', '.join(suffixes)}")
        try:
            _writable_dir(path.parent, text)
            if path.is_dir():
                raise argparse.ArgumentTypeError(f"{text!r} is a directory, not a file")
        except OSError as exc:
            raise argparse.ArgumentTypeError(f"cannot use {text!r}: {exc.strerror}") from None
        return path

    parse.__name__ = "output file"
    return parse


table_file = output_file(*TABLE_SUFFIXES)
plot_file = output_file(*PLOT_SUFFIXES)
json_file = output_file(".json")


def cache_dir(text: str) -> Path:
    """An argparse type: a writable directory, or one that can be created in a writable
    directory.

    Examples
    --------
    >>> cache_dir(".").is_dir()
    True
    """
    path = Path(text)
    if not text:
        raise argparse.ArgumentTypeError("the cache directory name is empty")
    try:
        if path.exists():
            if not path.is_dir():
                raise argparse.ArgumentTypeError(f"{text!r} exists and is not a directory")
            _writable_dir(path, text)
            return path
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise argparse.ArgumentTypeError(f"{str(parent)!r} in {text!r} is not a directory")
        _writable_dir(parent, text)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot use {text!r}: {exc.strerror}") from None
    return path
