"""``{{ ... }}`` templates: checking their references and rendering them.

Templates come from user files and are rendered by the orchestrator, so they run in
Jinja2's sandbox with strict undefined variables: a name that does not exist is an error
naming it, never an empty string in a command line.

Values are written the way Polyaxon writes them: numbers, booleans, lists and mappings
as JSON (``true``, ``[1,2]``), ``None`` as an empty string.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from polyaxon_core.spec.errors import one_of
from polyaxon_core.spec.loader import PathKey

if TYPE_CHECKING:
    from jinja2 import nodes
    from jinja2.sandbox import SandboxedEnvironment

#: The ``globals.*`` a run's templates can use (Polyaxon's names).
GLOBALS = (
    "owner_name",
    "project_name",
    "project_unique_name",
    "project_uuid",
    "username",
    "user_email",
    "run_info",
    "name",
    "uuid",
    "status",
    "namespace",
    "iteration",
    "context_path",
    "artifacts_path",
    "run_artifacts_path",
    "run_outputs_path",
    "run_relative_outputs_path",
    "store_path",
    "created_at",
    "compiled_at",
    "schedule_at",
    "started_at",
    "finished_at",
    "duration",
    "cloning_kind",
    "original_uuid",
    "is_independent",
    "ports",
    "base_url",
    "base_urls",
    # ours: the address a service listens on (127.0.0.1 on this machine, 0.0.0.0 in a pod)
    "bind_address",
)
#: Names every template can use besides the inputs and outputs.
CONTEXT_SECTIONS = ("globals", "params", "connections", "init")


def format_value(value: Any) -> str:
    """How a value appears once rendered into a string."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float | list | tuple | dict):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    """Jinja2's sandbox, loaded on the first template: a polyaxonfile without one (most
    of them) never imports Jinja2."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(
        undefined=StrictUndefined,
        finalize=format_value,
        autoescape=False,
        keep_trailing_newline=True,
    )


def has_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def iter_strings(value: Any, path: PathKey = ()) -> Iterator[tuple[PathKey, str]]:
    """Every string in ``value`` with its path (mapping keys are not templated)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from iter_strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from iter_strings(item, (*path, index))


def reference_problems(
    text: str,
    names: set[str],
    param_names: set[str],
    sections: tuple[str, ...] = CONTEXT_SECTIONS,
) -> list[tuple[str, str | None]]:
    """The unknown names a template uses, as ``(message, valid)`` pairs.

    ``names`` are the top-level names it may use (inputs, outputs, context params) besides
    ``sections``; ``param_names`` those it may read as ``params.<name>``.
    """
    from jinja2 import TemplateSyntaxError, meta

    try:
        tree = environment().parse(text)
    except TemplateSyntaxError as exc:
        return [(f"template syntax error: {exc.message}", "Jinja2 syntax such as {{ name }}")]
    allowed = names | set(sections)
    problems: list[tuple[str, str | None]] = []
    for name in sorted(meta.find_undeclared_variables(tree)):
        if name not in allowed:
            message = (
                f"the template refers to `{name}`, which is not an input or output"
                if names
                else f"the template refers to `{name}`, but here only {', '.join(sections)} can be used"
            )
            problems.append(
                (message, one_of(name, sorted(names) + [f"{section}.*" for section in sections], "names"))
            )
    for section, key in _section_keys(tree):
        if section == "globals" and key not in GLOBALS:
            problems.append((f"`globals.{key}` is not a Polyaxon global", one_of(key, GLOBALS)))
        if section == "params" and key not in param_names:
            problems.append(
                (f"`params.{key}` is not an input, output or param", one_of(key, sorted(param_names)))
            )
    return problems


def _section_keys(tree: nodes.Template) -> Iterator[tuple[str, str]]:
    from jinja2 import nodes

    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        target = getattr(node, "node", None)
        if not isinstance(target, nodes.Name) or target.name not in ("globals", "params"):
            continue
        if isinstance(node, nodes.Getattr):
            yield target.name, node.attr
        elif isinstance(node, nodes.Getitem):
            key = node.arg
            if isinstance(key, nodes.Const) and isinstance(key.value, str):
                yield target.name, key.value


def render_errors() -> tuple[type[Exception], ...]:
    """What rendering a user's template can raise: Jinja2's own errors, and whatever a
    filter or an operation on a value raises (``join`` on a missing list, ``1 / 0``). For
    ``except render_errors()``, evaluated only once something was raised: Jinja2 is not
    imported for it."""
    from jinja2 import TemplateError

    return (TemplateError, TypeError, ValueError, ArithmeticError, LookupError, AttributeError)


def render(text: str, context: Mapping[str, Any]) -> str:
    """Render one template string; raises jinja2.TemplateError (undefined names included)."""
    if not has_template(text):
        return text
    return _template(text).render(context)


@lru_cache(maxsize=1024)
def _template(text: str) -> Any:
    """``text`` compiled once: a sweep renders the same templates for every trial."""
    return environment().from_string(text)


_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0", "", "none"})


def conditions_hold(conditions: str, context: Mapping[str, Any]) -> bool:
    """Whether the Jinja expression ``conditions`` (``"{{ loss < 0.5 }}"``, braces optional)
    is true over ``context``; ValueError naming the problem when it cannot be told."""
    template = conditions if has_template(conditions) else "{{ " + conditions + " }}"
    try:
        rendered = render(template, context).strip()
    except render_errors() as exc:
        raise ValueError(f"cannot evaluate conditions `{conditions}`: {exc}") from None
    if rendered.lower() in _TRUE:
        return True
    if rendered.lower() in _FALSE:
        return False
    raise ValueError(f"conditions `{conditions}` rendered `{rendered}`, which is neither true nor false")
