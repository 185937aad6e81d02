"""Read topology files (spec/topology.md): YAML or JSON, several merged, located errors.

A 100,000-GPU fleet has over 200,000 entities and half a million relations, so loading takes a
fast path first: columns pulled out with C-level operations and checked in bulk. Only when a
bulk check fails does the careful path walk every item to say what is wrong, where. Line
numbers are found the same lazy way, by composing the file once more with marks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import yaml

from foreshock.collector import paused
from foreshock.model import DEFAULT_RELATION_TYPES, Entity, Relation, RelationType
from foreshock.topology.errors import Problem, TopologyError
from foreshock.topology.graph import Topology

API_VERSION = "foreshock/v1"
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_WHITESPACE = re.compile(r"\s")
_EMPTY: Mapping[str, str] = {}


def load_topology(
    paths: str | Path | Iterable[str | Path],
    relation_types: Mapping[str, RelationType] | None = None,
) -> Topology:
    """Load, validate and merge topology files into one `Topology`.

    Raises `TopologyError` listing every problem, each naming its file, line and id.
    `relation_types` adds to (or overrides) the relation types of the spec.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    sources: list[_Source] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            sources.append(_read(Path(path)))
        except TopologyError as exc:
            problems.extend(exc.problems)
    if problems:
        raise TopologyError(problems)
    return _build(sources, relation_types)


def load_documents(
    documents: Iterable[tuple[str, Any]],
    relation_types: Mapping[str, RelationType] | None = None,
) -> Topology:
    """Same as `load_topology`, from parsed documents named for error messages."""
    return _build([_Source(name, None, doc) for name, doc in documents], relation_types)


@dataclass
class _Source:
    name: str
    text: str | None
    doc: Any
    _root: Any = field(default=None, repr=False)
    _composed: bool = field(default=False, repr=False)

    def line_of(self, section: str, index: int, key: str | None = None) -> int | None:
        """1-based line of `section[index]` (or of its `key`), or None if unknown."""
        seq = _mapping_value(self._nodes(), section)
        if not isinstance(seq, yaml.SequenceNode) or index >= len(seq.value):
            return None
        node = seq.value[index]
        if key is not None:
            node = _mapping_value(node, key) or node
        return int(node.start_mark.line) + 1

    def _nodes(self) -> Any:
        if not self._composed:
            self._composed = True
            if self.text is not None:
                try:
                    self._root = yaml.compose(self.text, Loader=_SafeLoader)
                except yaml.YAMLError:
                    self._root = None  # JSON that YAML 1.1 rejects: no line numbers
        return self._root

    def section(self, name: str) -> list[Any]:
        value = self.doc.get(name) if isinstance(self.doc, Mapping) else None
        return value if isinstance(value, list) else []


def _mapping_value(node: Any, key: str) -> Any:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def _read(path: Path) -> _Source:
    name = str(path)
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TopologyError([Problem(f"cannot read file: {exc}", file=name)]) from exc
    try:
        if path.suffix.lower() == ".json":
            with paused():
                doc = orjson.loads(raw)
        else:
            doc = yaml.load(text, Loader=_SafeLoader)
    except orjson.JSONDecodeError as exc:
        raise TopologyError([Problem(f"not valid JSON: {exc.msg}", name, exc.lineno)]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = int(mark.line) + 1 if mark is not None else None
        what = getattr(exc, "problem", None) or str(exc)
        raise TopologyError([Problem(f"not valid YAML: {what}", name, line)]) from exc
    return _Source(name, text, doc)


class _Columns:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self.kinds: list[str] = []
        self.labels: list[Mapping[str, str]] = []
        self.sources: list[str] = []
        self.targets: list[str] = []
        self.types: list[str] = []


class _NeedsCareful(Exception):
    """A bulk check failed: walk the items one by one to say what and where."""


def _build(sources: Sequence[_Source], extra: Mapping[str, RelationType] | None) -> Topology:
    types = {**DEFAULT_RELATION_TYPES, **(extra or {})}
    with paused():
        try:
            cols = _fast(sources, types)
        except _NeedsCareful:
            cols = _Careful(sources, types).columns()
        index = dict(zip(cols.ids, range(len(cols.ids)), strict=True))
        code = {t: c for c, t in enumerate(types)}
        src = np.fromiter(map(index.__getitem__, cols.sources), np.int64, len(cols.sources))
        dst = np.fromiter(map(index.__getitem__, cols.targets), np.int64, len(cols.targets))
        rtype = np.fromiter(map(code.__getitem__, cols.types), np.int64, len(cols.types))
        # Identical relations repeated across merged files are one relation.
        key = (src * len(index) + dst) * len(code) + rtype
        first = np.sort(np.unique(key, return_index=True)[1])
        try:
            return Topology.from_columns(
                cols.ids, cols.kinds, cols.labels, src[first], dst[first], rtype[first], types
            )
        except TopologyError as exc:
            raise TopologyError([_locate(sources, p) for p in exc.problems]) from None


def _fast(sources: Sequence[_Source], types: Mapping[str, RelationType]) -> _Columns:
    cols = _Columns()
    triple = itemgetter("from", "to", "type")
    for src in sources:
        doc = src.doc
        if not isinstance(doc, Mapping) or doc.get("apiVersion") != API_VERSION:
            raise _NeedsCareful
        if doc.get("kind") != "Topology":
            raise _NeedsCareful
        entities, relations = doc.get("entities") or [], doc.get("relations") or []
        if not isinstance(entities, list) or not isinstance(relations, list):
            raise _NeedsCareful
        try:
            cols.ids += [e["id"] for e in entities]
            cols.kinds += [e["kind"] for e in entities]
            cols.labels += [e.get("labels") or _EMPTY for e in entities]
            if relations:
                a, b, t = zip(*map(triple, relations), strict=True)
                cols.sources += a
                cols.targets += b
                cols.types += t
        except (KeyError, TypeError, AttributeError):
            raise _NeedsCareful from None
    if not set(map(type, chain(cols.ids, cols.kinds, cols.sources, cols.targets))) <= {str}:
        raise _NeedsCareful
    if _WHITESPACE.search("".join(cols.ids)) or not all(cols.ids) or not all(cols.kinds):
        raise _NeedsCareful
    if not set(map(type, cols.labels)) <= {dict, type(_EMPTY)}:
        raise _NeedsCareful
    values = chain.from_iterable(ls.values() for ls in cols.labels)
    if not set(map(type, values)) <= {str}:
        raise _NeedsCareful
    ids = set(cols.ids)
    if len(ids) != len(cols.ids) or not ids.issuperset(cols.sources):
        raise _NeedsCareful
    if not ids.issuperset(cols.targets) or not set(cols.types) <= types.keys():
        raise _NeedsCareful
    return cols


def _label_value(value: Any) -> str | None:
    if isinstance(value, bool):  # YAML reads `sync: true` as a boolean; the spec means "true"
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _as_id(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # YAML reads `id: 7` as a number
    return None


class _Careful:
    """Checks every item of every file, coercing what the spec allows, naming what it refuses."""

    def __init__(self, sources: Sequence[_Source], types: Mapping[str, RelationType]) -> None:
        self.sources, self.types = sources, types
        self.cols = _Columns()
        self.where: dict[str, tuple[_Source, int]] = {}
        self.pending: list[tuple[_Source, int, str, str, str]] = []
        self.problems: list[Problem] = []
        # Ids of entities already reported: relations to them would only repeat the problem.
        self.refused: set[str] = set()

    def problem(self, src: _Source, msg: str, section: str, i: int, **kw: Any) -> None:
        key = kw.pop("key", None)
        if section == "entities" and kw.get("id"):
            self.refused.add(kw["id"])
        self.problems.append(Problem(msg, src.name, src.line_of(section, i, key), **kw))

    def columns(self) -> _Columns:
        for src in self.sources:
            self._header(src)
            for i, raw in enumerate(src.section("entities")):
                self._entity(src, i, raw)
        for src in self.sources:
            for i, raw in enumerate(src.section("relations")):
                self._relation(src, i, raw)
        for src, i, a, b, rtype in self.pending:
            for end, key in ((a, "from"), (b, "to")):
                if end not in self.where and end not in self.refused:
                    msg = f"relation {a!r} -> {b!r} ({rtype}) refers to unknown id {end!r}"
                    self.problem(src, msg, "relations", i, id=end, key=key)
            self.cols.sources.append(a)
            self.cols.targets.append(b)
            self.cols.types.append(rtype)
        if self.problems:
            raise TopologyError(self.problems)
        return self.cols

    def _header(self, src: _Source) -> None:
        doc = src.doc
        if not isinstance(doc, Mapping):
            self.problems.append(Problem("not a topology document (expected a mapping)", src.name))
            return
        if doc.get("apiVersion") != API_VERSION:
            msg = f"apiVersion must be {API_VERSION!r}, got {doc.get('apiVersion')!r}"
            self.problems.append(Problem(msg, src.name, 1))
        if doc.get("kind") != "Topology":
            msg = f"kind must be 'Topology', got {doc.get('kind')!r}"
            self.problems.append(Problem(msg, src.name, 1))
        for name in ("entities", "relations"):
            if doc.get(name) is not None and not isinstance(doc.get(name), list):
                self.problems.append(Problem(f"{name!r} must be a list", src.name))

    def _entity(self, src: _Source, i: int, raw: Any) -> None:
        if not isinstance(raw, Mapping):
            self.problem(src, f"entity #{i + 1} is not a mapping", "entities", i)
            return
        eid = _as_id(raw.get("id"))
        if not eid or _WHITESPACE.search(eid):
            what = "has no id" if not eid else f"has an id with whitespace: {eid!r}"
            self.problem(src, f"entity #{i + 1} {what}", "entities", i, id=eid or None)
            return
        kind = raw.get("kind")
        if not isinstance(kind, str) or not kind:
            self.problem(src, f"entity {eid!r} has no kind", "entities", i, id=eid)
            return
        labels = raw.get("labels") or {}
        if not isinstance(labels, Mapping):
            self.problem(src, f"labels of entity {eid!r} must be a mapping", "entities", i, id=eid)
            return
        clean: dict[str, str] = {}
        for k, v in labels.items():
            text = _label_value(v)
            if text is None:
                msg = f"label {k!r} of entity {eid!r} must be a string, got {v!r}"
                self.problem(src, msg, "entities", i, id=eid)
                return
            clean[str(k)] = text
        first = self.where.get(eid)
        if first is not None:
            at = _at(*first)
            self.problem(
                src, f"duplicate id {eid!r} (first defined at {at})", "entities", i, id=eid
            )
            return
        self.where[eid] = (src, i)
        self.cols.ids.append(eid)
        self.cols.kinds.append(kind)
        self.cols.labels.append(clean)

    def _relation(self, src: _Source, i: int, raw: Any) -> None:
        if not isinstance(raw, Mapping):
            self.problem(src, f"relation #{i + 1} is not a mapping", "relations", i)
            return
        a, b, rtype = _as_id(raw.get("from")), _as_id(raw.get("to")), raw.get("type")
        if not a or not b or not isinstance(rtype, str) or not rtype:
            missing = [k for k, v in (("from", a), ("to", b), ("type", rtype)) if not v]
            msg = f"relation #{i + 1} lacks {', '.join(missing)}"
            self.problem(src, msg, "relations", i, id=a or b or None)
            return
        if rtype not in self.types:
            known = ", ".join(self.types)
            msg = (
                f"relation {a!r} -> {b!r} has unknown type {rtype!r} (known: {known}; "
                "declare its propagation in the configuration to use it)"
            )
            self.problem(src, msg, "relations", i, id=a, key="type")
            return
        self.pending.append((src, i, a, b, rtype))


def _at(src: _Source, i: int) -> str:
    line = src.line_of("entities", i)
    return f"{src.name}:{line}" if line else src.name


def _locate(sources: Sequence[_Source], p: Problem) -> Problem:
    """Give a problem the Topology found (it knows ids, not files) its file and line."""
    if p.file is not None or p.id is None:
        return p
    for src in sources:
        for i, raw in enumerate(src.section("entities")):
            if isinstance(raw, Mapping) and _as_id(raw.get("id")) == p.id:
                return Problem(p.message, src.name, src.line_of("entities", i), p.id)
    return p


def dump_document(entities: Sequence[Entity], relations: Sequence[Relation]) -> dict[str, Any]:
    """The topology file document for these entities and relations."""
    return {
        "apiVersion": API_VERSION,
        "kind": "Topology",
        "entities": [
            {"id": e.id, "kind": e.kind, **({"labels": dict(e.labels)} if e.labels else {})}
            for e in entities
        ],
        "relations": [{"from": r.source, "to": r.target, "type": r.type} for r in relations],
    }
