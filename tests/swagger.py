"""Check real HTTP traffic against a Swagger 2.0 document: the operation it hits, its parameters and its bodies.

Test-only utility. ``SwaggerDoc(doc).validate_request(request)`` finds the operation an ``httpx.Request`` calls
(method + path template, one raw path segment per ``{param}``, percent-decoded), checks its path and query
parameters (required, typed, no unknown ones) and validates its JSON body against the body parameter's schema
with a Draft 4 validator whose ``$ref``s resolve against the whole document. ``validate_response`` does the same
for a response body and the schema documented for its status. Every failure is a :class:`SwaggerError`, an
``AssertionError`` whose message says what is wrong and where.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import attrs
import httpx
from jsonschema import Draft4Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

__all__ = ["OperationMatch", "SwaggerDoc", "SwaggerError", "load_swagger"]

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_DOC_URI = "urn:botconnect-tests:swagger"
# RFC 3986 pchar: unreserved / pct-encoded / sub-delims / ":" / "@" -- anything else must be percent-encoded
_PCHAR = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})+")
_QUERY_CHARS = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*")
_INTEGER = re.compile(r"-?[0-9]+")
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


class SwaggerError(AssertionError):
    """Traffic that does not conform to the Swagger document."""


# -- the Draft 4 validator, Swagger flavoured -----------------------------------------------------------------

_formats = FormatChecker(formats=())


@_formats.checks("byte", raises=(binascii.Error, ValueError))
def _is_base64(value: object) -> bool:
    """Swagger ``format: byte``: a standard base64 string (padding required, no stray characters)."""
    if not isinstance(value, str):
        return True
    base64.b64decode(value, validate=True)
    return True


@_formats.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    """Swagger ``format: date-time``: RFC 3339 (a date, ``T``, a time and an offset or ``Z``)."""
    if not isinstance(value, str):
        return True
    if not _RFC3339.fullmatch(value):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time")
    # fromisoformat checks the ranges (month 13, hour 25, ...); it takes at most 6 fraction digits before 3.11
    datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    return True


def _swagger_type(validator: Any, types: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    """Draft 4 ``type``, except that ``x-nullable: true`` (Swagger 2.0 extension) also admits ``null``."""
    if instance is None and schema.get("x-nullable") is True:
        return
    yield from Draft4Validator.VALIDATORS["type"](validator, types, instance, schema)


_SwaggerValidator = validators.extend(Draft4Validator, {"type": _swagger_type})


def _anchor_refs(schema: Any) -> Any:
    """A copy of an inline schema whose local ``#/...`` refs point into the registered document."""
    if isinstance(schema, dict):
        out = {}
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#"):
                out[key] = _DOC_URI + value
            else:
                out[key] = _anchor_refs(value)
        return out
    if isinstance(schema, list):
        return [_anchor_refs(item) for item in schema]
    return schema


# -- matching ---------------------------------------------------------------------------------------------------


@attrs.frozen
class OperationMatch:
    """The operation a request calls, with its decoded path and query parameters."""

    operation_id: str
    method: str
    template: str
    path_params: dict[str, str]
    query_params: dict[str, str]
    body: Any = None


@attrs.frozen
class _Route:
    method: str
    template: str
    segments: tuple[str, ...]
    operation: Mapping[str, Any]
    parameters: tuple[Mapping[str, Any], ...]

    @property
    def operation_id(self) -> str:
        return str(self.operation.get("operationId", f"{self.method.upper()} {self.template}"))

    def literal_count(self) -> int:
        return sum(1 for s in self.segments if not _is_param(s))


def _is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def _describe(request: httpx.Request) -> str:
    return f"{request.method} {request.url.raw_path.decode('ascii', 'replace')}"


class SwaggerDoc:
    """One Swagger 2.0 document, indexed for matching and validating traffic."""

    def __init__(self, doc: Mapping[str, Any], *, name: str | None = None) -> None:
        if doc.get("swagger") != "2.0":
            raise ValueError("not a Swagger 2.0 document")
        self.doc = doc
        self.name = name or str(doc.get("info", {}).get("title", "swagger"))
        base_path = str(doc.get("basePath") or "").rstrip("/")
        self._registry: Registry = Registry().with_resource(_DOC_URI, Resource(contents=doc, specification=DRAFT4))
        self._routes: list[_Route] = []
        for template, item in doc.get("paths", {}).items():
            shared = tuple(self._deref(p) for p in item.get("parameters", ()))
            for method in _METHODS:
                operation = item.get(method)
                if operation is None:
                    continue
                own = tuple(self._deref(p) for p in operation.get("parameters", ()))
                names = {(p["name"], p["in"]) for p in own}
                params = own + tuple(p for p in shared if (p["name"], p["in"]) not in names)
                full = base_path + template
                self._routes.append(_Route(method.upper(), full, tuple(full.strip("/").split("/")), operation, params))

    # -- lookup ---------------------------------------------------------------------------------------------

    @property
    def operation_ids(self) -> frozenset[str]:
        return frozenset(route.operation_id for route in self._routes)

    def has_operation(self, operation_id: str) -> bool:
        return operation_id in self.operation_ids

    def _route(self, operation_id: str) -> _Route:
        for route in self._routes:
            if route.operation_id == operation_id:
                return route
        raise SwaggerError(f"[{self.name}] no operation {operation_id!r} in the document")

    def _deref(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/"):
                raise ValueError(f"unsupported $ref {ref!r}")
            target: Any = self.doc
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def match(self, method: str, raw_path: str | bytes, *, base_path: str = "") -> OperationMatch:
        """The operation ``method raw_path`` calls; ``base_path`` is a service URL prefix (e.g. ``/amer``)."""
        if isinstance(raw_path, bytes):
            raw_path = raw_path.decode("ascii")
        path, _, query = raw_path.partition("?")
        prefix = base_path.rstrip("/")
        if prefix:
            if not path.startswith(prefix + "/"):
                raise SwaggerError(f"[{self.name}] path {path!r} does not start with the base path {prefix!r}")
            path = path[len(prefix) :]
        if not path.startswith("/"):
            raise SwaggerError(f"[{self.name}] path {path!r} is not absolute")
        raw_segments = path[1:].split("/")
        candidates: list[tuple[_Route, dict[str, str]]] = []
        for route in self._routes:
            if len(route.segments) != len(raw_segments):
                continue
            params = self._match_segments(route, raw_segments)
            if params is not None:
                candidates.append((route, params))
        same_method = [(r, p) for r, p in candidates if r.method == method.upper()]
        if not same_method:
            others = sorted({f"{r.method} {r.template}" for r, _ in candidates})
            hint = f" (the path matches {', '.join(others)})" if others else ""
            raise SwaggerError(f"[{self.name}] no operation for {method.upper()} {path}{hint}")
        # concrete paths win over templated ones, as Swagger tooling routes them
        route, params = max(same_method, key=lambda c: c[0].literal_count())
        return OperationMatch(
            operation_id=route.operation_id,
            method=route.method,
            template=route.template,
            path_params=params,
            query_params=self._query_params(route, query),
        )

    def _match_segments(self, route: _Route, raw_segments: list[str]) -> dict[str, str] | None:
        params: dict[str, str] = {}
        for expected, raw in zip(route.segments, raw_segments, strict=True):
            if _is_param(expected):
                if not raw:
                    return None
                params[expected[1:-1]] = raw
            elif unquote(raw) != expected:
                return None
        # the route matches: now its parameter segments must be well-formed
        decoded: dict[str, str] = {}
        for name, raw in params.items():
            if not _PCHAR.fullmatch(raw):
                bad = sorted({c for c in raw if not _PCHAR.fullmatch(c)} - {"%"})
                raise SwaggerError(
                    f"[{self.name}] path parameter {name!r} segment {raw!r} is not percent-encoded properly "
                    f"(raw characters {bad!r} or a broken %XX escape) in {route.template}"
                )
            if raw in (".", ".."):
                raise SwaggerError(
                    f"[{self.name}] path parameter {name!r} is the dot segment {raw!r}: "
                    "URL normalisation would remove it"
                )
            try:
                decoded[name] = unquote(raw, errors="strict")
            except UnicodeDecodeError as exc:
                raise SwaggerError(f"[{self.name}] path parameter {name!r} is not UTF-8: {exc}") from None
        return decoded

    def _query_params(self, route: _Route, query: str) -> dict[str, str]:
        if not _QUERY_CHARS.fullmatch(query):
            raise SwaggerError(f"[{self.name}] query string {query!r} has characters that must be percent-encoded")
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query), errors="strict")
        except (ValueError, UnicodeDecodeError) as exc:
            raise SwaggerError(f"[{self.name}] malformed query string {query!r}: {exc}") from None
        declared = {p["name"]: p for p in route.parameters if p["in"] == "query"}
        values: dict[str, str] = {}
        for key, value in pairs:
            spec = declared.get(key)
            if spec is None:
                raise SwaggerError(
                    f"[{self.name}] unknown query parameter {key!r} for {route.operation_id} "
                    f"(declared: {sorted(declared)})"
                )
            if key in values and spec.get("collectionFormat") != "multi":
                raise SwaggerError(f"[{self.name}] query parameter {key!r} repeated")
            _check_simple_value(self.name, f"query parameter {key!r}", spec, value)
            values[key] = value
        for key, spec in declared.items():
            if spec.get("required") and key not in values:
                raise SwaggerError(f"[{self.name}] required query parameter {key!r} missing for {route.operation_id}")
        return values

    # -- validation -----------------------------------------------------------------------------------------

    def validate_request(self, request: httpx.Request, *, base_path: str = "") -> OperationMatch:
        """Match ``request`` to its operation and check everything the document says about it."""
        try:
            match = self.match(request.method, request.url.raw_path, base_path=base_path)
        except SwaggerError as exc:
            raise SwaggerError(f"{exc}\n  request: {_describe(request)}") from None
        route = self._route_of(match)
        for param in route.parameters:
            if param["in"] == "path":
                value = match.path_params.get(param["name"])
                if value is None:
                    raise SwaggerError(f"[{self.name}] path parameter {param['name']!r} not in {route.template}")
                _check_simple_value(self.name, f"path parameter {param['name']!r}", param, value)
            elif param["in"] == "header" and param.get("required") and param["name"] not in request.headers:
                raise SwaggerError(f"[{self.name}] required header {param['name']!r} missing")
            elif param["in"] == "formData":
                raise SwaggerError(f"[{self.name}] formData parameters are not supported by this checker")
        content = request.content
        body_params = [p for p in route.parameters if p["in"] == "body"]
        if not body_params:
            if content:
                raise SwaggerError(
                    f"[{self.name}] {match.operation_id} takes no body, but {len(content)} bytes were sent"
                )
            return match
        param = body_params[0]
        if not content:
            if param.get("required"):
                raise SwaggerError(f"[{self.name}] {match.operation_id} requires a body ({param['name']!r})")
            return match
        consumes = route.operation.get("consumes") or self.doc.get("consumes") or ["application/json"]
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type not in [c.lower() for c in consumes]:
            raise SwaggerError(
                f"[{self.name}] Content-Type {request.headers.get('content-type')!r} is not one of {consumes}"
            )
        if "json" not in media_type:
            raise SwaggerError(f"[{self.name}] this checker validates JSON bodies only, got {media_type!r}")
        body = _load_json(self.name, content, f"{match.operation_id} request body")
        self.validate_schema(param["schema"], body, what=f"{match.operation_id} request body {param['name']!r}")
        return attrs.evolve(match, body=body)

    def _route_of(self, match: OperationMatch) -> _Route:
        for route in self._routes:
            if route.method == match.method and route.template == match.template:
                return route
        raise SwaggerError(f"[{self.name}] no route {match.method} {match.template}")  # pragma: no cover

    def response_schema(self, operation_id: str, status: int) -> Mapping[str, Any] | None:
        """The schema documented for ``status`` (or ``default``); None when the response has no body schema."""
        route = self._route(operation_id)
        responses = route.operation.get("responses", {})
        spec = responses.get(str(status))
        if spec is None:
            spec = responses.get("default")
        if spec is None:
            raise SwaggerError(
                f"[{self.name}] {operation_id} documents no {status} response (documented: {sorted(responses)})"
            )
        schema: Mapping[str, Any] | None = self._deref(spec).get("schema")
        return schema

    def validate_response(
        self, operation_id: str, status: int, content: bytes | str, *, content_type: str | None = None
    ) -> Any:
        """Validate a response body for ``operation_id``; returns the parsed JSON (or the raw bytes for files)."""
        if isinstance(content, str):
            content = content.encode("utf-8")
        schema = self.response_schema(operation_id, status)
        if schema is None:
            return None
        if schema.get("type") == "file":
            return content
        if content_type is not None and "json" not in content_type.lower():
            raise SwaggerError(f"[{self.name}] {operation_id} {status} response is {content_type!r}, not JSON")
        if not content.strip():
            raise SwaggerError(
                f"[{self.name}] {operation_id} {status} response has an empty body; a schema is documented"
            )
        body = _load_json(self.name, content, f"{operation_id} {status} response body")
        self.validate_schema(schema, body, what=f"{operation_id} {status} response body")
        return body

    def validate_schema(self, schema: Mapping[str, Any], instance: Any, *, what: str = "instance") -> None:
        """Validate ``instance`` against a schema from this document (its ``#/definitions`` refs resolved)."""
        validator = _SwaggerValidator(_anchor_refs(schema), registry=self._registry, format_checker=_formats)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        if errors:
            lines = [f"  at {'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in errors[:10]]
            more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
            raise SwaggerError(f"[{self.name}] {what} does not match the schema:\n" + "\n".join(lines) + more)


def _check_simple_value(doc_name: str, what: str, spec: Mapping[str, Any], value: str) -> None:
    kind = spec.get("type", "string")
    if kind == "integer":
        if not _INTEGER.fullmatch(value):
            raise SwaggerError(f"[{doc_name}] {what} must be an integer, got {value!r}")
        number = int(value)
        if "minimum" in spec and number < spec["minimum"]:
            raise SwaggerError(f"[{doc_name}] {what} is below its minimum {spec['minimum']}: {value!r}")
        if "maximum" in spec and number > spec["maximum"]:
            raise SwaggerError(f"[{doc_name}] {what} is above its maximum {spec['maximum']}: {value!r}")
    elif kind == "number":
        try:
            float(value)
        except ValueError:
            raise SwaggerError(f"[{doc_name}] {what} must be a number, got {value!r}") from None
    elif kind == "boolean":
        if value not in ("true", "false"):
            raise SwaggerError(f"[{doc_name}] {what} must be true or false, got {value!r}")
    elif kind != "string":
        raise SwaggerError(f"[{doc_name}] {what} has unsupported type {kind!r}")
    if "enum" in spec and value not in [str(v) for v in spec["enum"]]:
        raise SwaggerError(f"[{doc_name}] {what} must be one of {spec['enum']}, got {value!r}")
    if spec.get("required") and value == "":
        raise SwaggerError(f"[{doc_name}] required {what} is empty")


def _load_json(doc_name: str, content: bytes, what: str) -> Any:
    try:
        return json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SwaggerError(f"[{doc_name}] {what} is not UTF-8 JSON: {exc}") from None


@functools.cache
def load_swagger(path: str | Path) -> SwaggerDoc:
    """Load (once per path) a Swagger 2.0 JSON file."""
    path = Path(path)
    with path.open(encoding="utf-8-sig") as f:
        doc = json.load(f)
    return SwaggerDoc(copy.deepcopy(doc), name=path.name)
