"""YAML loading that remembers where every value came from (line and column per JSON path).

The resolver follows YAML 1.2 for booleans (only true/false), so `NO` stays Norway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from app.core.policy.codes import PolicyErrorCode
from app.core.policy.errors import PolicyError

#: Documents larger than this are refused before parsing (a policy file is a few KB).
MAX_SOURCE_BYTES = 1_000_000


_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: Alias expansion is bounded: a "billion laughs" document stops here instead of growing.
MAX_NODES = 200_000
#: Policy files nest about eight levels; far deeper documents are refused before recursion fails.
MAX_DEPTH = 64


class _Loader(_Base):  # type: ignore[valid-type,misc]
    """The fastest safe loader available, with YAML 1.2 booleans."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclass(slots=True)
class Located:
    """A parsed document plus the position of each JSON path in it."""

    file: str
    value: Any
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)

    def error(self, path: str, code: PolicyErrorCode, message: str) -> PolicyError:
        """An error at `path`, or at its nearest located parent."""
        probe = path
        while probe not in self.positions and probe not in ("$", ""):
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else "$"
        line, column = self.positions.get(probe, (0, 0))
        return PolicyError(self.file, line, column, path, code, message)


def load_located(file: str, text: str) -> tuple[Located | None, list[PolicyError]]:
    """Parse one YAML document. Returns the located value, or None and the syntax errors."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SOURCE_BYTES:
        return None, [
            PolicyError(file, 1, 1, "$", PolicyErrorCode.YAML_TOO_LARGE, "file is larger than 1 MB")
        ]
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, [PolicyError(file, 1, 1, "$", PolicyErrorCode.YAML_EMPTY, "file is empty")]
        located = Located(file, None)
        errors: list[PolicyError] = []
        located.value = _convert(loader, node, "$", located, errors)
        return located, errors
    except _TooComplexError as exc:
        return None, [PolicyError(file, 1, 1, "$", PolicyErrorCode.YAML_TOO_COMPLEX, str(exc))]
    except RecursionError:  # the pure-Python composer (no libyaml) recurses on its own
        return None, [
            PolicyError(
                file, 1, 1, "$", PolicyErrorCode.YAML_TOO_COMPLEX, "the document nests too deeply"
            )
        ]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = exc.problem or exc.context or "invalid YAML"
        return None, [
            PolicyError(
                file, line, column, "$", PolicyErrorCode.YAML_SYNTAX, f"YAML syntax: {problem}"
            )
        ]
    except yaml.YAMLError as exc:  # reader errors (bad characters) carry no mark
        return None, [
            PolicyError(file, 1, 1, "$", PolicyErrorCode.YAML_SYNTAX, f"YAML syntax: {exc}")
        ]
    finally:
        loader.dispose()


class _TooComplexError(Exception):
    """Too many nodes once aliases are expanded, or nesting too deep; the message says which."""


def _convert(  # noqa: PLR0917  (private recursive helper)
    loader: _Loader,
    node: yaml.Node,
    path: str,
    located: Located,
    errors: list[PolicyError],
    depth: int = 0,
) -> Any:
    if len(located.positions) > MAX_NODES:
        raise _TooComplexError("too many nodes (aliases expand too far)")
    if depth > MAX_DEPTH:
        raise _TooComplexError(f"the document nests deeper than {MAX_DEPTH} levels")
    located.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            # a list or mapping key is never valid, and building one may expand an alias bomb
            key = (
                loader.construct_object(key_node, deep=True)
                if isinstance(key_node, yaml.ScalarNode)
                else None
            )
            if not isinstance(key, str):
                got = f"'{key}'" if isinstance(key_node, yaml.ScalarNode) else "a list or mapping"
                errors.append(
                    PolicyError(
                        located.file,
                        key_node.start_mark.line + 1,
                        key_node.start_mark.column + 1,
                        path,
                        PolicyErrorCode.YAML_BAD_KEY,
                        f"keys must be strings, got {got}",
                    )
                )
                continue
            child = f"{path}.{key}"
            if key in out:
                errors.append(
                    PolicyError(
                        located.file,
                        key_node.start_mark.line + 1,
                        key_node.start_mark.column + 1,
                        child,
                        PolicyErrorCode.YAML_DUPLICATE_KEY,
                        f"key '{key}' appears twice",
                    )
                )
                continue
            out[key] = _convert(loader, value_node, child, located, errors, depth + 1)
            # point errors about a key at the key itself, values at the value
            located.positions[child] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(loader, item, f"{path}[{i}]", located, errors, depth + 1)
            for i, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)
