"""The Markdown API reference (docs/api.md), rendered from the app's OpenAPI document.

Regenerate with `python -m memvault.api.reference > docs/api.md`. The output is deterministic:
routes keep the order the app declares them in and fields the order their model declares them
in (both chosen by the authors); responses are sorted by status code and the models section by
name.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from typing import Any

from memvault.api.routes_sync import SIGNED_PATHS
from memvault.api.security import WRITE_METHODS
from memvault.config import DEFAULT_PORT, MAX_BODY_BYTES

Schema = dict[str, Any]

REGENERATE = "python -m memvault.api.reference > docs/api.md"
_HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_REF = "#/components/schemas/"


def render_markdown(openapi: dict[str, Any]) -> str:
    """The whole reference for one OpenAPI document; ends with a single newline."""
    schemas: dict[str, Schema] = openapi.get("components", {}).get("schemas", {})
    linked: set[str] = set()
    groups: dict[str, list[tuple[str, str, Schema]]] = {}
    for path, operations in openapi.get("paths", {}).items():
        for method in (m for m in operations if m in _HTTP_METHODS):
            operation = operations[method]
            tag = (operation.get("tags") or ["other"])[0]
            groups.setdefault(tag, []).append((method, path, operation))

    lines = _intro(openapi, _type({"$ref": _REF + "ErrorOut"}, schemas, linked))
    lines += ["## Routes", "", "| route | summary |", "| --- | --- |"]
    for method, path, operation in (entry for group in groups.values() for entry in group):
        lines.append(f"| `{method.upper()} {path}` | {_cell(operation.get('summary', ''))} |")
    lines.append("")
    for tag, entries in groups.items():
        lines += [f"## {tag[:1].upper()}{tag[1:]}", ""]
        for method, path, operation in entries:
            lines += _operation(method, path, operation, schemas, linked)
    lines += _models(schemas, linked)
    return "\n".join(lines).rstrip("\n") + "\n"


def _intro(openapi: dict[str, Any], error_type: str) -> list[str]:
    info = openapi.get("info", {})
    signed = ", ".join(f"`POST {path}`" for path in sorted(SIGNED_PATHS))
    return [
        f"# {info.get('title', 'API')} HTTP API reference",
        "",
        f"<!-- Generated from the app's OpenAPI document by `{REGENERATE}`; "
        "do not edit by hand. -->",
        "",
        info.get("description", ""),
        "",
        f"- **Base URL**: `http://127.0.0.1:{DEFAULT_PORT}` (`memvault serve`; "
        "`MEMVAULT_HOST`, `MEMVAULT_PORT`). Routes live under `/api`; the OpenAPI document is "
        "at `/openapi.json` and the interactive docs at `/docs`.",
        "- **Auth**: reads are open. When `MEMVAULT_API_TOKEN` is set, every write "
        f"({', '.join(sorted(WRITE_METHODS))}) needs `Authorization: Bearer <token>`; "
        "without it, or with another token, the answer is 401.",
        f"- **Signed ingest**: {signed} is authenticated by `X-Webhook-Signature: "
        "sha256=<hex HMAC-SHA256 of the raw body>` keyed by `MEMORY_WEBHOOK_TOKEN` (compared "
        "in constant time) instead of the bearer token.",
        f"- **Limits and errors**: request bodies over {_size(MAX_BODY_BYTES)} are refused "
        "with 413; validation errors are 422 with one message per field; unknown ids are 404. "
        f"Every error has one shape, {error_type}: "
        '`{"error": code, "message": sentence, "details": [{"field", "message"}]}`.',
        "- **MCP**: the MCP tools over streamable HTTP at `/mcp` (the MCP protocol, not REST; "
        "writes need the bearer token like any other): see [agents.md](agents.md).",
        "",
    ]


def _operation(
    method: str, path: str, operation: Schema, schemas: dict[str, Schema], linked: set[str]
) -> list[str]:
    lines = [f"### `{method.upper()} {path}`", ""]
    if summary := operation.get("summary"):
        lines += [f"**{summary}**", ""]
    if description := operation.get("description"):
        lines += [description, ""]
    lines += [f"Auth: {_auth(method, path)}", ""]

    parameters = operation.get("parameters", [])
    if parameters:
        lines += [
            "Parameters:",
            "",
            "| name | in | type | required | default | constraints | description |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for parameter in parameters:
            schema = parameter.get("schema", {})
            description = parameter.get("description") or _description(schema, schemas)
            cells = [
                f"`{parameter['name']}`",
                parameter.get("in", ""),
                _type(schema, schemas, linked),
                "yes" if parameter.get("required") else "no",
                _default(schema),
                _constraints(schema, schemas),
                description,
            ]
            lines.append(_row(cells))
        lines.append("")

    responses = operation.get("responses", {})
    if body := operation.get("requestBody"):
        # Most routes refuse invalid input with 422; a route that validates the body itself
        # (the signed ingest) documents 400 instead.
        refused = "422" if "422" in responses or "400" not in responses else "400"
        lines += _request_body(body, schemas, linked, refused)

    lines += ["Responses:", "", "| status | description | body |", "| --- | --- | --- |"]
    for status in sorted(responses, key=lambda code: (not code.isdigit(), code)):
        response = responses[status]
        content = response.get("content", {})
        bodies = [
            _type(content[kind].get("schema", {}), schemas, linked) + _media(kind)
            for kind in sorted(content)
        ]
        cells = [status, response.get("description", ""), ", ".join(bodies) or "none"]
        lines.append(_row(cells))
    lines.append("")
    return lines


def _request_body(
    body: Schema, schemas: dict[str, Schema], linked: set[str], refused: str = "422"
) -> list[str]:
    lines: list[str] = []
    for kind in sorted(body.get("content", {})):
        schema = body["content"][kind].get("schema", {})
        nullable = _is_nullable(schema)
        schema = _non_null(schema)
        required = "required" if body.get("required") else "optional"
        if nullable:
            required = "optional: may be left out or `null`"
        target = _resolve(schema, schemas)
        name = _ref_name(schema)
        title = f" `{name}`" if name else ""
        lines += [f"Request body{title} (`{kind}`; {required}):", ""]
        if target.get("description"):
            lines += [target["description"], ""]
        if "properties" in target:
            lines += _fields(target, schemas, linked)
            if target.get("additionalProperties") is False:
                lines += [f"Fields not listed here are refused ({refused}).", ""]
        else:
            lines += [f"Type: {_type(schema, schemas, linked)}", ""]
    return lines


def _fields(schema: Schema, schemas: dict[str, Schema], linked: set[str]) -> list[str]:
    required = set(schema.get("required", []))
    lines = [
        "| field | type | required | default | constraints | description |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, field in schema.get("properties", {}).items():
        cells = [
            f"`{name}`",
            _type(field, schemas, linked),
            "yes" if name in required else "no",
            _default(field),
            _constraints(field, schemas),
            _description(field, schemas),
        ]
        lines.append(_row(cells))
    lines.append("")
    return lines


def _models(schemas: dict[str, Schema], linked: set[str]) -> list[str]:
    """Every object model a route or field links to, sorted by name; rendering one may link
    further models, so this walks until nothing new is linked."""
    if not linked:
        return []
    lines = ["## Models", ""]
    done: set[str] = set()
    sections: dict[str, list[str]] = {}
    while pending := sorted(linked - done):
        for name in pending:
            done.add(name)
            schema = schemas.get(name, {})
            section = [f"### {name}", ""]
            if schema.get("description"):
                section += [schema["description"], ""]
            section += _fields(schema, schemas, linked)
            sections[name] = section
    for name in sorted(sections):
        lines += sections[name]
    return lines


def _auth(method: str, path: str) -> str:
    # The middleware, not the OpenAPI `security` entries, decides who may write: follow its rule.
    if path in SIGNED_PATHS:
        return "`X-Webhook-Signature` (HMAC of the body with `MEMORY_WEBHOOK_TOKEN`)."
    if method.upper() in WRITE_METHODS:
        return "bearer token when `MEMVAULT_API_TOKEN` is set."
    return "none."


def _type(schema: Schema, schemas: dict[str, Schema], linked: set[str]) -> str:
    """A schema's type in words, linking object models (which the models section then lists)."""
    if "$ref" in schema:
        name = _ref_name(schema) or "?"
        target = schemas.get(name, {})
        if "properties" in target:
            linked.add(name)
            return f"[{name}](#{name.lower()})"
        if "enum" in target:
            return f"`{name}` ({target.get('type', 'string')})"
        return _type(target, schemas, linked)
    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf") or schema.get("oneOf") or []
        words = [_type(option, schemas, linked) for option in options]
        return " or ".join(dict.fromkeys(words))
    kind = schema.get("type")
    if kind == "array":
        items = _type(schema.get("items", {}), schemas, linked)
        return f"array of ({items})" if " or " in items else f"array of {items}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of string to {_type(schema['additionalProperties'], schemas, linked)}"
    if kind is None:
        return "any JSON"
    if isinstance(kind, list):
        return " or ".join(str(k) for k in kind)
    return f"{kind} ({schema['format']})" if "format" in schema else str(kind)


def _constraints(schema: Schema, schemas: dict[str, Schema]) -> str:
    """Length, range, pattern, item count and allowed values, over every non-null branch."""
    found: list[str] = []
    for branch in _branches(schema, schemas):
        integral = branch.get("type") == "integer"
        found += _bounds("length", branch.get("minLength"), branch.get("maxLength"), True)
        found += _bounds("", branch.get("minimum"), branch.get("maximum"), integral)
        if "exclusiveMinimum" in branch:
            found.append(f"> {_number(branch['exclusiveMinimum'], integral)}")
        if "exclusiveMaximum" in branch:
            found.append(f"< {_number(branch['exclusiveMaximum'], integral)}")
        found += _bounds("items", branch.get("minItems"), branch.get("maxItems"), True)
        if "pattern" in branch:
            found.append(f"pattern `{branch['pattern']}`")
        if "enum" in branch:
            found.append("one of " + ", ".join(f"`{value}`" for value in branch["enum"]))
        if "const" in branch:
            value = branch["const"]
            found.append(f"always `{value if isinstance(value, str) else json.dumps(value)}`")
        if branch.get("type") == "array" and (each := _constraints(branch["items"], schemas)):
            found.append(f"each: {each}")
    return "; ".join(dict.fromkeys(found))


def _bounds(what: str, low: Any, high: Any, integral: bool) -> list[str]:
    if low is None and high is None:
        return []
    prefix = f"{what} " if what else ""
    if low is not None and high is not None:
        return [f"{prefix}{_number(low, integral)} to {_number(high, integral)}"]
    if low is not None:
        return [f"{prefix}≥ {_number(low, integral)}"]
    return [f"{prefix}≤ {_number(high, integral)}"]


def _number(value: Any, integral: bool) -> str:
    # Pydantic writes integer bounds as floats (`minimum: 1.0`); an integer field means `1`.
    if integral and isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _branches(schema: Schema, schemas: dict[str, Schema]) -> Iterable[Schema]:
    options = schema.get("anyOf") or schema.get("oneOf") or [schema]
    for option in options:
        if option.get("type") == "null":
            continue
        if "$ref" in option:
            target = schemas.get(_ref_name(option) or "", {})
            if "properties" not in target:  # enums and aliases carry their own constraints
                yield target
            continue
        yield option


def _description(schema: Schema, schemas: dict[str, Schema]) -> str:
    if schema.get("description"):
        return str(schema["description"])
    for branch in _branches(schema, schemas):
        if branch.get("description"):
            return str(branch["description"])
    return ""


def _default(schema: Schema) -> str:
    if "default" not in schema:
        return ""
    return f"`{json.dumps(schema['default'], sort_keys=True)}`"


def _is_nullable(schema: Schema) -> bool:
    return any(option.get("type") == "null" for option in schema.get("anyOf", []))


def _non_null(schema: Schema) -> Schema:
    options = [o for o in schema.get("anyOf", []) if o.get("type") != "null"]
    return options[0] if len(options) == 1 else schema


def _resolve(schema: Schema, schemas: dict[str, Schema]) -> Schema:
    name = _ref_name(schema)
    return schemas.get(name, {}) if name else schema


def _ref_name(schema: Schema) -> str | None:
    ref = schema.get("$ref", "")
    return ref.removeprefix(_REF) if isinstance(ref, str) and ref.startswith(_REF) else None


def _media(kind: str) -> str:
    return "" if kind == "application/json" else f" (`{kind}`)"


def _size(n: int) -> str:
    mib = 1024 * 1024
    return f"{n // mib} MiB" if n % mib == 0 else f"{n} bytes"


def _cell(text: str) -> str:
    # A table cell is one line, and a bare `|` would end it (even inside a code span).
    return re.sub(r"\s*\n\s*", " ", str(text)).replace("|", "\\|")


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


def app_openapi() -> dict[str, Any]:
    """The OpenAPI document of the app as `memvault serve` builds it, over a throwaway home."""
    import tempfile
    from pathlib import Path

    from memvault.api.app import create_app
    from memvault.config import Settings

    with tempfile.TemporaryDirectory(prefix="memvault-api-docs-") as home:
        # Fixed settings, so the environment cannot change what gets opened to build the app.
        settings = Settings(
            _env_file=None,
            home=Path(home),
            project="api-reference",
            embeddings="none",
            neo4j_password=None,
        )
        app = create_app(settings)
        try:
            return app.openapi()
        finally:
            app.state.service.store.close()


def main() -> None:
    """Print the reference: `python -m memvault.api.reference > docs/api.md`."""
    sys.stdout.write(render_markdown(app_openapi()))


if __name__ == "__main__":
    main()
