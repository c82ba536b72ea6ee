"""Safe output files: alpaserve replaces only files it wrote, atomically, never via a symlink.

Every file a command writes (``--out``, ``--plot``, ``--per-request``, the demo's outputs)
goes through :func:`write_bytes` / :func:`atomic_open`:

* **Ownership.** An existing target is replaced only if alpaserve wrote it: its digest is in
  the directory's manifest ``.alpaserve-outputs.json`` (kept next to the outputs, updated under
  a lock), or it carries alpaserve's own header (sweep files check theirs in
  :mod:`alpaserve.sweep.storage`). Anything else, a symlink included, is refused with an
  :class:`OutputFileError` naming the file, unless ``force=True`` (the CLI's ``--force``).
  A refused file is left byte-identical.
* **Atomicity.** Data goes to a fresh file from :func:`tempfile.mkstemp` in the target's
  directory (``O_EXCL``: an unpredictable name, never a planted link), is flushed with
  ``fsync`` and then renamed over the target with :func:`os.replace`, which replaces a
  symlink itself rather than the file it points to.
* **Exclusion.** :func:`exclusive` takes an ``fcntl.flock`` on a sidecar lock file
  ``.<name>.lock`` so that two processes never write one output at once.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from alpaserve.errors import AlpaServeError

MANIFEST = ".alpaserve-outputs.json"
_CHUNK = 1 << 20


class OutputFileError(AlpaServeError):
    """An output file alpaserve will not write: foreign, a symlink, locked, or unwritable."""


def _digest(path: Path) -> str | None:
    h = hashlib.sha256()
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def _manifest(directory: Path) -> Iterator[dict[str, str]]:
    """The directory's manifest (name -> sha256), read and rewritten under its own flock."""
    path = directory / MANIFEST
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise OutputFileError(f"cannot open the output manifest {str(path)!r}: "
                              f"{exc.strerror}") from exc
    with os.fdopen(fd, "r+", encoding="utf-8") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            data = json.loads(fh.read() or "{}")
        except json.JSONDecodeError:
            data = {}  # a damaged manifest only makes alpaserve more cautious
        entries = {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
        before = dict(entries)
        yield entries
        if entries != before:
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps(entries, indent=1, sort_keys=True))
            fh.flush()


def is_ours(path: str | Path) -> bool:
    """Whether ``path`` is a regular file whose current bytes alpaserve wrote.

    Parameters
    ----------
    path
        The file to check.

    Returns
    -------
    bool
        True when the file's sha256 matches the one recorded in its directory's manifest.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = write_bytes(d / "a.txt", b"hi")
    >>> is_ours(d / "a.txt"), is_ours(d / "b.txt")
    (True, False)
    """
    target = Path(path)
    if not target.is_file() or target.is_symlink() or not (target.parent / MANIFEST).exists():
        return False
    with _manifest(target.parent) as entries:
        recorded = entries.get(target.name)
    return recorded is not None and recorded == _digest(target)


def check_target(path: str | Path, *, force: bool = False, owned: bool = False) -> Path:
    """Refuse an output path before any work starts: a missing directory, a symlink, or a
    file alpaserve did not write (unless ``force``).

    Parameters
    ----------
    path
        The output file.
    force
        Replace a foreign file (or symlink) anyway.
    owned
        The caller has already recognised the file as its own (e.g. by a sweep header).

    Returns
    -------
    Path
        ``path`` as a :class:`~pathlib.Path`.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "mine.csv").write_text("a,b\\n")
    >>> check_target(d / "new.csv").name
    'new.csv'
    >>> check_target(d / "mine.csv")
    Traceback (most recent call last):
    ...
    alpaserve.safe_files.OutputFileError: ... was not written by alpaserve; ...
    """
    target = Path(path)
    parent = target.parent
    if not parent.is_dir():
        raise OutputFileError(f"cannot write {str(target)!r}: directory {str(parent)!r} "
                              "does not exist")
    if force:
        return target
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return target
    if stat.S_ISLNK(mode):
        raise OutputFileError(f"{str(target)!r} is a symbolic link; alpaserve does not write "
                              "through links (pass --force to replace the link itself)")
    if not stat.S_ISREG(mode):
        raise OutputFileError(f"{str(target)!r} exists and is not a regular file")
    if not owned and not is_ours(target):
        raise OutputFileError(f"{str(target)!r} exists and was not written by alpaserve; "
                              "choose another path or pass --force to replace it")
    return target


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", *, force: bool = False,
                owned: bool = False, **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a fresh temporary file next to ``path``; on success it replaces ``path``.

    The target is checked first (:func:`check_target`). If the block raises, the temporary
    file is removed and ``path`` is untouched.

    Parameters
    ----------
    path
        The final file.
    mode
        ``"w"`` (text, ``kwargs`` as for :func:`open`) or ``"wb"``.
    force, owned
        As for :func:`check_target`.
    **kwargs
        Passed to :func:`open` (``newline``, ``encoding``).

    Returns
    -------
    Iterator[IO]
        A context manager yielding the open temporary file.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> with atomic_open(d / "rows.csv", newline="") as fh:
    ...     _ = fh.write("a,b\\n1,2\\n")
    >>> (d / "rows.csv").read_text()
    'a,b\\n1,2\\n'
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open mode must be 'w' or 'wb', got {mode!r}")
    target = check_target(path, force=force, owned=owned)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        if mode == "w":
            kwargs.setdefault("encoding", "utf-8")
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide results from the user's group
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    record_ours(target)


def record_ours(path: str | Path) -> None:
    """Record ``path``'s current content in its directory's manifest as alpaserve's.

    Parameters
    ----------
    path
        A file alpaserve has just written.

    Returns
    -------
    None

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "x.txt").write_text("made here")
    >>> record_ours(d / "x.txt"); is_ours(d / "x.txt")
    True
    """
    target = Path(path)
    digest = _digest(target)
    if digest is None:
        return
    with _manifest(target.parent) as entries:
        entries[target.name] = digest


def write_bytes(path: str | Path, data: bytes, *, force: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically, refusing a file alpaserve did not write.

    Parameters
    ----------
    path
        The output file.
    data
        Its complete content.
    force
        Replace a foreign file or symlink anyway.

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> write_bytes(d / "a.bin", b"1").read_bytes(), write_bytes(d / "a.bin", b"2").read_bytes()
    (b'1', b'2')
    """
    with atomic_open(path, "wb", force=force) as fh:
        fh.write(data)
    return Path(path)


def write_text(path: str | Path, text: str, *, force: bool = False) -> Path:
    """:func:`write_bytes` for UTF-8 text.

    Parameters
    ----------
    path, force
        As for :func:`write_bytes`.
    text
        The complete content.

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> import tempfile
    >>> write_text(Path(tempfile.mkdtemp()) / "a.json", "{}").read_text()
    '{}'
    """
    return write_bytes(path, text.encode("utf-8"), force=force)


def save_figure(fig: Any, path: str | Path, *, force: bool = False, **savefig: Any) -> Path:
    """Render a matplotlib figure in memory, then write it with :func:`write_bytes`.

    Parameters
    ----------
    fig
        A ``matplotlib.figure.Figure``.
    path
        The image file; its suffix picks the format (``.png``, ``.pdf``, ``.svg``, ...).
    force
        As for :func:`write_bytes`.
    **savefig
        Passed to ``fig.savefig`` (e.g. ``dpi``).

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> import tempfile
    >>> from matplotlib.figure import Figure
    >>> save_figure(Figure(), Path(tempfile.mkdtemp()) / "f.png").suffix
    '.png'
    """
    target = Path(path)
    fmt = target.suffix.lower().lstrip(".")
    supported = fig.canvas.get_supported_filetypes()
    if fmt not in supported:
        raise OutputFileError(f"cannot write figure {str(target)!r}: unknown image format "
                              f"{target.suffix!r}; known: {', '.join(sorted(supported))}")
    check_target(target, force=force)  # before rendering, which can be slow
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, **savefig)
    return write_bytes(target, buffer.getvalue(), force=force)


def lock_path(path: str | Path) -> Path:
    """The sidecar lock file of an output (``dir/.<name>.lock``).

    Parameters
    ----------
    path
        The output file.

    Returns
    -------
    Path
        Its lock file.

    Examples
    --------
    >>> lock_path("out/results.csv").as_posix()
    'out/.results.csv.lock'
    """
    target = Path(path)
    return target.parent / f".{target.name}.lock"


@contextlib.contextmanager
def exclusive(path: str | Path, *, wait: bool = False,
              poll_s: float = 0.2) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (through its sidecar lock file) for the block.

    Parameters
    ----------
    path
        The output file to protect.
    wait
        Block until the other holder finishes instead of failing at once.
    poll_s
        Seconds between attempts while waiting.

    Returns
    -------
    Iterator[None]
        A context manager; raises :class:`OutputFileError` when the lock is held elsewhere
        and ``wait`` is false.

    Examples
    --------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "r.csv"
    >>> with exclusive(out):
    ...     with exclusive(out):
    ...         pass
    Traceback (most recent call last):
    ...
    alpaserve.safe_files.OutputFileError: ... is being written by another alpaserve process ...
    """
    target = Path(path)
    lock = lock_path(target)
    if not lock.parent.is_dir():
        raise OutputFileError(f"cannot write {str(target)!r}: directory "
                              f"{str(lock.parent)!r} does not exist")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise OutputFileError(f"cannot create the lock file {str(lock)!r}: "
                              f"{exc.strerror}") from exc
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                if not wait:
                    raise OutputFileError(
                        f"{str(target)!r} is being written by another alpaserve process "
                        f"(lock {str(lock)!r}); wait for it or pass --wait") from None
                time.sleep(poll_s)
        yield
    finally:
        os.close(fd)  # closing releases the flock; the lock file stays (removing it races)

