"""Luma's published OpenAPI spec, as the contract tests use it.

`luma-openapi.json` beside this file is a copy of `shared/luma-openapi.json` (tests must not
depend on a folder outside the repository). Its schemas are inline, so `jsonschema`'s
Draft 2020-12 validator checks answers, bodies and query parameters against them directly.
`KeyReads` records every key a parser looks up, and `undefined_reads` says which of them the
spec does not define at that place of the answer.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

SPEC_PATH = Path(__file__).with_name("luma-openapi.json")
Schema = dict[str, Any]
Path_ = tuple[str | int, ...]

# jsonschema checks `date-time` only with an optional package; the spec's own check is this.
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if isinstance(value, str):
        datetime.fromisoformat(value)
    return True


@functools.cache
def spec() -> Schema:
    result: Schema = json.loads(SPEC_PATH.read_text())
    return result


def operation(method: str, path: str) -> Schema:
    op: Schema = spec()["paths"][path][method.lower()]
    return op


def response_schema(method: str, path: str) -> Schema:
    schema: Schema = operation(method, path)["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    return schema


def body_schema(method: str, path: str) -> Schema | None:
    body = operation(method, path).get("requestBody")
    return None if body is None else body["content"]["application/json"]["schema"]


def problems(schema: Schema, instance: Any) -> list[str]:
    """What makes `instance` invalid against `schema`, one line each ([] when valid)."""
    validator = Draft202012Validator(schema, format_checker=FORMATS)
    return [
        f"{'/'.join(str(part) for part in error.absolute_path) or '(root)'}: {error.message}"
        for error in validator.iter_errors(instance)
    ]


def is_valid(schema: Schema, instance: Any) -> bool:
    return Draft202012Validator(schema, format_checker=FORMATS).is_valid(instance)


def query_problems(method: str, path: str, query: Iterable[tuple[str, str]]) -> list[str]:
    """A query string held to the operation's declared parameters: no undeclared name, each
    required one present, each value valid (arrays as repeated names, numbers parsed)."""
    declared = {p["name"]: p for p in operation(method, path).get("parameters", [])}
    given: dict[str, list[str]] = defaultdict(list)
    for name, value in query:
        given[name].append(value)
    found = [f"undeclared query parameter {name!r}" for name in given if name not in declared]
    for name, param in declared.items():
        values = given.get(name)
        if not values:
            if param.get("required"):
                found.append(f"required query parameter {name!r} is missing")
            continue
        schema = param["schema"]
        if "array" in _types(schema):
            instance: Any = [_typed(value, schema.get("items", {})) for value in values]
        elif len(values) > 1:
            found.append(f"query parameter {name!r} given {len(values)} times")
            continue
        else:
            instance = _typed(values[0], schema)
        found += [f"{name}: {problem}" for problem in problems(schema, instance)]
    return found


def _types(schema: Schema) -> set[str]:
    kinds = {schema["type"]} if isinstance(schema.get("type"), str) else set()
    for alternative in schema.get("anyOf", []) + schema.get("oneOf", []):
        kinds |= _types(alternative)
    return kinds


def _typed(value: str, schema: Schema) -> Any:
    """A query string's text as the JSON value the schema expects (left as text if it is not
    one, so the validator reports it)."""
    kinds = _types(schema)
    if kinds & {"number", "integer"}:
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() and "integer" in kinds else number
    if "boolean" in kinds and value in ("true", "false"):
        return value == "true"
    return value


# --- which keys the spec defines where -----------------------------------------------------


def _matching(schema: Schema, instance: Any) -> Iterator[Schema]:
    """The plain schemas `instance` is held to: `allOf` parts all, `anyOf`/`oneOf`
    alternatives only those the instance matches (a text answer is not a company answer)."""
    if "type" in schema or "properties" in schema or "items" in schema:
        yield schema
    for part in schema.get("allOf", []):
        yield from _matching(part, instance)
    for alternative in schema.get("anyOf", []) + schema.get("oneOf", []):
        if is_valid(alternative, instance):
            yield from _matching(alternative, instance)


def schemas_at(schema: Schema, document: Any, path: Path_) -> list[tuple[Schema, Any]]:
    """The schemas (with their instance) that apply at `path` inside `document`."""
    found = [(schema, document)]
    for step in path:
        deeper = []
        for current, instance in found:
            for plain in _matching(current, instance):
                if isinstance(step, int) and isinstance(instance, list) and "items" in plain:
                    deeper.append((plain["items"], instance[step]))
                elif isinstance(step, str) and isinstance(instance, dict):
                    child = plain.get("properties", {}).get(step)
                    if child is not None and step in instance:
                        deeper.append((child, instance[step]))
        found = deeper
    return found


def defined_keys(schema: Schema, document: Any, path: Path_) -> set[str]:
    """The property names the spec defines for the object at `path`."""
    keys: set[str] = set()
    for current, instance in schemas_at(schema, document, path):
        for plain in _matching(current, instance):
            keys |= set(plain.get("properties", {}))
    return keys


def optional_dropped(schema: Schema, instance: Any) -> Any:
    """`instance` with every property the spec does not require removed, at every depth."""
    if isinstance(instance, list):
        items = [plain["items"] for plain in _matching(schema, instance) if "items" in plain]
        return [optional_dropped({"allOf": items}, item) for item in instance]
    if not isinstance(instance, dict):
        return instance
    plains = list(_matching(schema, instance))
    required = {name for plain in plains for name in plain.get("required", [])}
    kept = {}
    for name in required & set(instance):
        children = [p["properties"][name] for p in plains if name in p.get("properties", {})]
        kept[name] = optional_dropped({"allOf": children}, instance[name])
    return kept


# --- recording what a parser looks up --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lookup:
    path: Path_  # where the object is in the answer
    key: str
    present: bool


@dataclass
class KeyReads:
    """Every key looked up in a tracked answer, in order (`in`, `[]` and `.get` alike)."""

    lookups: list[Lookup] = field(default_factory=list)

    def track(self, value: Any, path: Path_ = ()) -> Any:
        """`value` with each object replaced by a `Tracked` dict that reports here."""
        if isinstance(value, dict):
            return Tracked({k: self.track(v, (*path, k)) for k, v in value.items()}, path, self)
        if isinstance(value, list):
            return [self.track(item, (*path, index)) for index, item in enumerate(value)]
        return value

    def keys_at(self) -> dict[Path_, set[str]]:
        by_path: dict[Path_, set[str]] = defaultdict(set)
        for lookup in self.lookups:
            by_path[lookup.path].add(lookup.key)
        return by_path


class Tracked(dict[str, Any]):
    """A JSON object that records each key looked up in it; copying it wholesale (the cached
    event's `raw`) is not a lookup and is not recorded."""

    def __init__(self, data: dict[str, Any], path: Path_, reads: KeyReads) -> None:
        super().__init__(data)
        self._path = path
        self._reads = reads

    def _note(self, key: object) -> None:
        if isinstance(key, str):
            self._reads.lookups.append(Lookup(self._path, key, dict.__contains__(self, key)))

    def __getitem__(self, key: str) -> Any:
        self._note(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self._note(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._note(key)
        return super().__contains__(key)


def undefined_reads(schema: Schema, document: Any, reads: KeyReads) -> list[str]:
    """Each key a parser looked up (present or not) that the spec does not define there."""
    found = []
    for path, keys in sorted(reads.keys_at().items(), key=lambda item: str(item[0])):
        defined = defined_keys(schema, document, path)
        for key in sorted(keys - defined):
            found.append(f"{'/'.join(str(p) for p in path) or '(root)'}: {key!r}")
    return found
