"""docs/api.md is the app's OpenAPI document rendered, and stays so when a route changes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from memvault.api.reference import REGENERATE, app_openapi, render_markdown

REPO = Path(__file__).resolve().parents[2]
API_DOC = REPO / "docs" / "api.md"


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return app_openapi()


@pytest.fixture(scope="module")
def rendered(openapi: dict[str, Any]) -> str:
    return render_markdown(openapi)


def _section(markdown: str, heading: str) -> str:
    """The text under one `### ` heading, up to the next heading of any level."""
    start = markdown.index(f"### {heading}\n")
    following = re.search(r"^#{1,3} ", markdown[start + 4 :], re.MULTILINE)
    return markdown[start : start + 4 + following.start()] if following else markdown[start:]


def test_docs_api_md_is_the_current_render(rendered: str) -> None:
    assert API_DOC.exists(), f"docs/api.md is missing; generate it with `{REGENERATE}`"
    assert API_DOC.read_text(encoding="utf-8") == rendered, (
        f"docs/api.md is stale: the API changed; regenerate it with `{REGENERATE}`"
    )


def test_every_route_has_a_section(openapi: dict[str, Any], rendered: str) -> None:
    operations = [(m, p) for p, ops in openapi["paths"].items() for m in ops]
    assert ("post", "/api/memories") in operations
    for method, path in operations:
        heading = f"`{method.upper()} {path}`"
        assert f"### {heading}\n" in rendered, f"{method.upper()} {path} has no section"
        assert f"| {heading} |" in rendered, f"{method.upper()} {path} missing from the overview"
        summary = openapi["paths"][path][method].get("summary")
        if summary:
            assert summary in _section(rendered, heading)


def test_a_request_body_field_shows_its_type_and_constraints(
    openapi: dict[str, Any], rendered: str
) -> None:
    content = openapi["components"]["schemas"]["MemoryCreate"]["properties"]["content"]
    low, high = content["minLength"], content["maxLength"]
    section = _section(rendered, "`POST /api/memories`")
    assert f"| `content` | string | yes |  | length {low} to {high} |" in section
    # An enum reached through $ref is resolved to its values, with the field's default.
    assert (
        '| `memory_type` | `MemoryType` (string) | no | `"semantic"` | '
        "one of `episodic`, `semantic`, `procedural`, `strategic` |" in section
    )
    assert "| 201 | Successful Response | [MemoryOut](#memoryout) |" in section
    assert "| 413 | Request body over 1 MiB | [ErrorOut](#errorout) |" in section


def test_parameters_show_where_they_go_their_default_and_range(rendered: str) -> None:
    section = _section(rendered, "`GET /api/memories`")
    assert "| `limit` | query | integer | no | `20` | 1 to 1000 |" in section
    section = _section(rendered, "`GET /api/memories/{memory_id}`")
    assert "| `memory_id` | path | string | yes |  |  | The memory's UUID |" in section


def test_every_linked_model_is_described(rendered: str) -> None:
    links = set(re.findall(r"\]\(#([a-z0-9-]+)\)", rendered))
    assert {"memoryout", "errorout", "session"} <= links
    headings = {name.lower() for name in re.findall(r"^### (\w+)$", rendered, re.MULTILINE)}
    assert links <= headings, f"links to models that are not described: {links - headings}"
    assert "| `content_hash` | string | yes |" in _section(rendered, "MemoryOut")


def test_the_intro_states_the_contract(rendered: str) -> None:
    intro = rendered[: rendered.index("## Routes")]
    for fact in (
        "`http://127.0.0.1:8765`",
        "`MEMVAULT_API_TOKEN`",
        "`Authorization: Bearer <token>`",
        "`X-Webhook-Signature: sha256=",
        "`MEMORY_WEBHOOK_TOKEN`",
        "over 1 MiB are refused with 413",
        "422",
        "404",
        "the MCP tools over streamable HTTP at `/mcp`",
        "see [agents.md](agents.md)",
    ):
        assert fact in intro


def test_rendering_resolves_refs_and_keeps_tables_intact() -> None:
    document = {
        "info": {"title": "t", "description": "d"},
        "paths": {
            "/x": {
                "post": {
                    "tags": ["x"],
                    "summary": "Make an x",
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "anyOf": [{"$ref": "#/components/schemas/X"}, {"type": "null"}]
                                }
                            }
                        }
                    },
                    "responses": {"200": {"description": "ok", "content": {}}},
                }
            }
        },
        "components": {
            "schemas": {
                "X": {
                    "type": "object",
                    "required": ["a"],
                    "properties": {
                        "a": {"type": "string", "pattern": "^(a|b)$", "description": "one\nline"},
                        "n": {"type": "integer", "exclusiveMinimum": 0, "default": 3},
                    },
                }
            }
        },
    }
    out = render_markdown(document)
    assert "Request body `X` (`application/json`; optional: may be left out or `null`):" in out
    assert "| `a` | string | yes |  | pattern `^(a\\|b)$` | one line |" in out
    assert "| `n` | integer | no | `3` | > 0 |  |" in out
    assert "| 200 | ok | none |" in out
    assert "## Models" not in out  # nothing links to a model
    assert out.endswith("| 200 | ok | none |\n")
