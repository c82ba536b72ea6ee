"""Docstring completeness and module naming of the four packages.

Every public function, method and class carries the NumPy sections its signature calls for
(``Parameters``, ``Returns`` / ``Yields``), so the API reference (``make docs``) documents
each argument and result. The rule, on the syntax tree of each module:

- public: no component of the module path starts with ``_`` (``__init__.py`` is public), the
  name does not start with ``_``, defined at module level or as a method of a public class;
- exempt: properties, ``@overload`` stubs, dunder methods other than ``__call__``, and
  exception classes (for ``Parameters`` only);
- a function or method with a parameter besides ``self`` / ``cls`` (or ``*args`` /
  ``**kwargs``) needs ``Parameters`` (or ``Other Parameters``); one whose return annotation
  is not ``None`` / ``NoReturn`` / ``Never`` needs ``Returns``, or ``Yields`` for an
  ``Iterator`` / ``Generator`` annotation;
- a class with dataclass fields, a ``NamedTuple`` with fields, or a class whose ``__init__``
  takes parameters needs ``Parameters`` (or ``Attributes``).

In the enforced folders a ``Parameters`` section must also match the signature (numpydoc's
PR01 and PR02 checks). The last test keeps each folder's modules from sharing a name prefix
three or more times: such siblings belong in a subpackage.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import itertools
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("workloads", "alpaserve", "simulator", "placement")

# Folders (relative to the repository root; each with its subfolders) whose docstrings are
# complete and kept so; a glob such as ``alpaserve/*.py`` names files of one folder only.
ENFORCED = (  # every folder of the four packages
    "workloads",
    "alpaserve/*.py",
    "alpaserve/cost",
    "alpaserve/parallel",
    "alpaserve/spot",
    "alpaserve/modelless",
    "alpaserve/llm",
    "alpaserve/sweep",
    "alpaserve/cli",
    "alpaserve/runtime",
    "simulator/*.py",
    "simulator/engine",
    "simulator/spot",
    "simulator/modelless",
    "simulator/llm",
    "placement/*.py",
    "placement/spot",
    "placement/modelless",
    "placement/llm",
)

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
_EXEMPT_DECORATORS = frozenset({"property", "cached_property", "setter", "getter", "overload"})
_NO_VALUE = frozenset({"None", "NoReturn", "Never", "'None'"})
_GENERATORS = frozenset({"Iterator", "Generator", "AsyncIterator"})
_SPECIAL_BASES = frozenset({"Protocol", "Enum", "IntEnum", "StrEnum", "NamedTuple"})


def has_section(doc: str, *names: str) -> bool:
    """Whether ``doc`` has a NumPy section headed by one of ``names`` (header, then dashes)."""
    lines = doc.splitlines()
    return any(line.strip() in names and set(nxt.strip()) == {"-"}
               for line, nxt in itertools.pairwise(lines))


def decorator_names(node: ast.AST) -> set[str]:
    """Last name of each decorator (``functools.cache`` -> ``cache``; calls unwrapped)."""
    names = set()
    for deco in getattr(node, "decorator_list", []):
        target = deco.func if isinstance(deco, ast.Call) else deco
        names.add(target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", ""))
    return names


def takes_parameters(fn: FunctionNode, *, method: bool) -> bool:
    """Whether ``fn`` has a parameter besides a method's ``self`` / ``cls``."""
    args = fn.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    if (method and names and names[0] in ("self", "cls")
            and "staticmethod" not in decorator_names(fn)):
        names = names[1:]
    return bool(names or args.vararg or args.kwarg)


def return_kind(fn: FunctionNode) -> str | None:
    """``None`` when ``fn`` returns nothing, else ``"Yields"`` for generators or ``"Returns"``."""
    if fn.returns is None:
        return None
    text = ast.unparse(fn.returns)
    if text in _NO_VALUE:
        return None
    return "Yields" if text.split("[")[0].split(".")[-1] in _GENERATORS else "Returns"


def function_problems(fn: FunctionNode, where: str, *, method: bool) -> list[str]:
    """The sections ``fn`` lacks, one message each."""
    if decorator_names(fn) & _EXEMPT_DECORATORS:
        return []
    if fn.name.startswith("__") and fn.name.endswith("__") and fn.name != "__call__":
        return []
    doc = ast.get_docstring(fn) or ""
    problems = []
    if takes_parameters(fn, method=method) and not has_section(doc, "Parameters",
                                                               "Other Parameters"):
        problems.append(f"{where}: no Parameters section")
    kind = return_kind(fn)
    if kind is not None and not has_section(doc, kind, "Returns", "Yields"):
        problems.append(f"{where}: no {kind} section")
    return problems


def is_exception(cls: ast.ClassDef) -> bool:
    """Whether a base's name ends like an exception's (exceptions need no Parameters)."""
    return any(ast.unparse(b).endswith(("Error", "Exception", "Warning")) for b in cls.bases)


def class_takes_parameters(cls: ast.ClassDef) -> bool:
    """Whether constructing ``cls`` takes arguments that its docstring must describe."""
    if is_exception(cls):
        return False
    if any(ast.unparse(b).split(".")[-1] in _SPECIAL_BASES for b in cls.bases):
        return (any(isinstance(n, ast.AnnAssign) for n in cls.body)
                and "NamedTuple" in ast.unparse(cls.bases[0]))
    if "dataclass" in decorator_names(cls) and any(
            isinstance(n, ast.AnnAssign) and "ClassVar" not in ast.unparse(n.annotation)
            for n in cls.body):
        return True
    return any(isinstance(n, ast.FunctionDef) and n.name == "__init__"
               and takes_parameters(n, method=True) for n in cls.body)


def file_problems(path: Path, root: Path = ROOT) -> list[str]:
    """Every missing section of the public definitions in one module."""
    rel = path.relative_to(root)
    if any(p.startswith("_") and p != "__init__.py" for p in rel.parts):
        return []
    tree = ast.parse(path.read_text(), filename=str(path))
    problems: list[str] = []
    for node in tree.body:
        if isinstance(node, FunctionNode) and not node.name.startswith("_"):
            problems += function_problems(node, f"{rel}:{node.lineno} {node.name}", method=False)
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            doc = ast.get_docstring(node) or ""
            if class_takes_parameters(node) and not has_section(doc, "Parameters", "Attributes"):
                problems.append(f"{rel}:{node.lineno} class {node.name}: no Parameters section")
            for sub in node.body:
                if isinstance(sub, FunctionNode) and (not sub.name.startswith("_")
                                                     or sub.name == "__call__"):
                    problems += function_problems(
                        sub, f"{rel}:{sub.lineno} {node.name}.{sub.name}", method=True)
    return problems


def python_files(target: str) -> list[Path]:
    """The modules ``target`` names: a folder (recursively), a file, or a glob of files."""
    if any(c in target for c in "*?["):
        return sorted(ROOT.glob(target))
    path = ROOT / target
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


@pytest.mark.parametrize("target", ENFORCED)
def test_public_definitions_have_their_sections(target: str) -> None:
    files = python_files(target)
    assert files, f"{target} names no Python file"
    assert all(f.is_file() for f in files), f"{target} names no Python file"
    problems = [p for f in files for p in file_problems(f)]
    assert problems == [], "missing docstring sections:\n" + "\n".join(problems)


def test_the_rule_finds_each_kind_of_gap(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text('''
from dataclasses import dataclass
from typing import Iterator, overload

def bare(x: int) -> int:
    """No sections."""

def documented(x: int) -> int:
    """Both.

    Parameters
    ----------
    x : int
        A value.

    Returns
    -------
    int
        The value.
    """

def gen() -> Iterator[int]:
    """Needs Yields."""

def nothing() -> None:
    """Nothing to document."""

@dataclass(frozen=True)
class Spec:
    """Fields but no Parameters."""
    size: int

    @property
    def double(self) -> int:
        return 2 * self.size

    def scaled(self, k: int) -> "Spec":
        """Needs both."""

    def __len__(self) -> int:
        return self.size

class BadInput(ValueError):
    """Exceptions need no Parameters."""
    def __init__(self, value: int) -> None:
        super().__init__(value)

def _private(x: int) -> int:
    return x
''')
    found = [p.split(" ", 1)[1] for p in file_problems(tmp_path / "mod.py", tmp_path)]
    assert found == ["bare: no Parameters section", "bare: no Returns section",
                     "gen: no Yields section", "class Spec: no Parameters section",
                     "Spec.scaled: no Parameters section", "Spec.scaled: no Returns section"]
    (tmp_path / "_private_mod.py").write_text("def f(x: int) -> int:\n    return x\n")
    assert file_problems(tmp_path / "_private_mod.py", tmp_path) == []


def name_prefix(module: str) -> str:
    """The part of a module's name before its first ``_`` (leading underscores ignored)."""
    return module.lstrip("_").split("_")[0]


def crowded_prefixes(folder: Path) -> dict[str, list[str]]:
    """Prefixes shared by three or more modules of ``folder`` (``__init__`` not counted)."""
    stems = sorted(p.stem for p in folder.glob("*.py") if p.stem != "__init__")
    counts = Counter(name_prefix(s) for s in stems)
    return {k: [s for s in stems if name_prefix(s) == k] for k, n in counts.items() if n >= 3}


def test_prefix_rule_counts_siblings(tmp_path: Path) -> None:
    for name in ("__init__", "fast_a", "fast_b", "_fast_c", "spot", "spot_x"):
        (tmp_path / f"{name}.py").write_text("")
    assert crowded_prefixes(tmp_path) == {"fast": ["_fast_c", "fast_a", "fast_b"]}


@pytest.mark.parametrize("package", PACKAGES)
def test_no_folder_holds_three_modules_sharing_a_prefix(package: str) -> None:
    folders = [ROOT / package] + [p for p in (ROOT / package).rglob("*")
                                  if p.is_dir() and (p / "__init__.py").is_file()]
    crowded = {str(f.relative_to(ROOT)): c for f in folders if (c := crowded_prefixes(f))}
    assert crowded == {}, f"a shared prefix is a folder waiting to be made: {crowded}"


def module_name(path: Path) -> str:
    """Dotted module name of a file of the repository."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def documented_objects(module: str) -> list[tuple[str, object]]:
    """Public functions, classes and methods defined in ``module``, by qualified name."""
    mod = importlib.import_module(module)
    found: list[tuple[str, object]] = []
    for name, obj in vars(mod).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module:
            continue
        if inspect.isfunction(obj):
            found.append((f"{module}.{name}", obj))
        elif inspect.isclass(obj):
            found.append((f"{module}.{name}", obj))
            for attr, member in vars(obj).items():
                if attr.startswith("_") and attr != "__call__":
                    continue
                if isinstance(member, classmethod | staticmethod):
                    member = member.__func__
                if inspect.isfunction(member):
                    found.append((f"{module}.{name}.{attr}", member))
    return found


def signature_problems(module: str) -> list[str]:
    """numpydoc's checks of ``module``'s definitions: PR02, a documented name the signature
    lacks; PR01, a parameter missing from a Parameters section that exists (a missing
    section is :func:`file_problems`'s)."""
    from numpydoc.validate import validate

    problems = []
    for qualname, obj in documented_objects(module):
        doc = inspect.getdoc(obj) or ""
        checks = {"PR02"} | ({"PR01"} if has_section(doc, "Parameters") else set())
        problems += [f"{qualname}: {code} {msg}" for code, msg in validate(qualname)["errors"]
                     if code in checks]
    return problems


@pytest.mark.parametrize("target", ENFORCED)
def test_parameters_sections_match_signatures(target: str) -> None:
    modules = [module_name(f) for f in python_files(target)
               if not any(p.startswith("_") and p != "__init__.py"
                          for p in f.relative_to(ROOT).parts)]
    problems = [p for m in modules for p in signature_problems(m)]
    assert problems == [], "\n".join(problems)


def test_signature_check_names_wrong_and_missing_parameters(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "docsig_probe.py").write_text('''
def renamed(rate: float, cv: float) -> None:
    """Documents a name the signature does not have, and misses one.

    Parameters
    ----------
    rates : float
        Old name.
    """


def unsectioned(rate: float) -> None:
    """No section: file_problems reports it, not this check."""
''')
    monkeypatch.syspath_prepend(str(tmp_path))
    found = sorted(p.split(" ", 2)[1] + " " + p.split(":")[0].rsplit(".", 1)[1]
                   for p in signature_problems("docsig_probe"))
    assert found == ["PR01 renamed", "PR02 renamed"]
