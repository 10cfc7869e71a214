"""From a loaded document to an :class:`OperationSpec`, collecting every problem on the way.

Two passes. The schemas check the shape of each document (the root file and every
component it references); then the compiler resolves references (``pathRef``,
``urlRef``, ``dagRef``) and checks what needs several sections at once: params and
``-P`` values against the inputs, required inputs, the matrix against the inputs, DAG
operations and their references, ``runPatch``, and the names used in templates. A check
whose sections already failed the schemas is skipped, so each mistake is reported once.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import TYPE_CHECKING, Any

from marshmallow import Schema, ValidationError

from polyaxon_core.entities import MatrixConfig, ParamDistribution
from polyaxon_core.spec import url_refs
from polyaxon_core.spec.errors import PolyaxonfileError, Problem, one_of
from polyaxon_core.spec.fields import loader
from polyaxon_core.spec.loader import PathKey, Source, parse_text, read_source
from polyaxon_core.spec.matrix import MATRIX_TOP_FIELDS, NUMERIC_KINDS
from polyaxon_core.spec.models import ComponentSpec, Located, OperationSpec
from polyaxon_core.spec.params import normalize_param, parse_ref_value
from polyaxon_core.spec.patching import patch
from polyaxon_core.spec.run import RUN_SCHEMAS
from polyaxon_core.spec.schemas import ComponentSchema, OperationSchema, value_issue
from polyaxon_core.spec.templating import CONTEXT_SECTIONS, GLOBALS, iter_strings, reference_problems
from polyaxon_core.spec.types import TypeMismatch, convert_value, describe_type, parse_cli_value

if TYPE_CHECKING:
    from polyaxon_core.hub import Resolved

KINDS = ("component", "operation")
_VERSION_1_KINDS = frozenset({"experiment", "group", "job", "build", "notebook", "tensorboard", "pipeline"})


@dataclass
class Where:
    """A place in a source document."""

    source: Source
    path: PathKey = ()

    def at(self, *parts: str | int) -> Where:
        return Where(self.source, (*self.path, *parts))

    def problem(self, message: str, valid: str | None = None) -> Problem:
        return self.source.problem(self.path, message, valid)

    def located(self) -> Located:
        return Located(self.source.name, self.path, self.source.positions)


@dataclass
class ComponentNode:
    loaded: dict[str, Any]
    raw: dict[str, Any]
    where: Where
    io_sound: bool
    #: The compiled operations of a DAG component (compiled once, however often used).
    dag_operations: list[OperationNode] | None = None


@dataclass
class OperationNode:
    loaded: dict[str, Any]
    raw: dict[str, Any]
    where: Where
    component: ComponentNode | None
    matrix_sound: bool
    children: list[OperationNode] = field(default_factory=list)
    #: Inputs given with -P, valid or not (an invalid one is reported once, not also as missing).
    cli_names: set[str] = field(default_factory=set)


@dataclass
class DagScope:
    """What the operations of one DAG can reference: the DAG itself and its components."""

    dag: ComponentNode
    components: dict[str, ComponentNode]


class Compiler:
    """Compiles one document (and what it references); ``problems`` collects every mistake.

    ``fetch_url_refs`` is for the client side only: there a ``urlRef`` (http or https) is
    fetched and its component inlined. A server compiles with it off, so that no
    polyaxonfile can make the server request a URL (its own network, its own files).
    ``hub`` resolves a ``hubRef`` to its component file (:func:`polyaxon_core.hub.resolve`
    on the client); without it a ``hubRef`` is refused, as on a server.
    ``require_inputs=False`` checks a component for a hub: inputs left without a value are
    for whoever runs it.
    """

    def __init__(self, *, fetch_url_refs: bool = False,
                 hub: Callable[[str], Resolved] | None = None, require_inputs: bool = True) -> None:
        self.fetch_url_refs = fetch_url_refs
        self.hub = hub
        self.require_inputs = require_inputs
        self.problems: list[Problem] = []
        self._broken: set[tuple[int, PathKey]] = set()
        self._resolving: list[str] = []

    # -- schema pass ---------------------------------------------------------------------

    def load(
        self, schema: type[Schema], data: Any, where: Where, partial: bool | tuple[str, ...] = False
    ) -> dict[str, Any]:
        """Load ``data`` with ``schema``, recording its problems; returns what was valid."""
        try:
            loaded: dict[str, Any] = loader(schema).load(data, partial=partial)
            return loaded
        except ValidationError as exc:
            self._record(exc.messages, where)
            valid = exc.valid_data
            return valid if isinstance(valid, dict) else {}

    def _record(self, messages: Any, where: Where) -> None:
        if isinstance(messages, Mapping):
            for key, inner in messages.items():
                self._record(inner, where if key == "_schema" else where.at(key))
        elif isinstance(messages, list):
            for message in messages:
                if isinstance(message, Mapping | list):
                    self._record(message, where)
                else:
                    self._broken.add((id(where.source), where.path))
                    self.problems.append(where.problem(str(message), getattr(message, "valid", None)))
        else:
            self._broken.add((id(where.source), where.path))
            self.problems.append(where.problem(str(messages), getattr(messages, "valid", None)))

    def sound(self, where: Where) -> bool:
        """True when the schemas found nothing wrong at or below ``where``."""
        depth = len(where.path)
        return not any(
            source == id(where.source) and path[:depth] == where.path for source, path in self._broken
        )

    # -- the root document ---------------------------------------------------------------

    def compile(
        self,
        source: Source,
        cli_params: Mapping[str, str] | None = None,
        presets: tuple[Source, ...] = (),
    ) -> OperationSpec:
        data = source.data
        if not isinstance(data, Mapping):
            raise PolyaxonfileError(
                [
                    source.problem(
                        (),
                        "a polyaxonfile must be a mapping",
                        "a mapping with `kind: component` or `kind: operation`",
                    )
                ]
            )
        kind = data.get("kind") or _infer_kind(data)
        if kind not in KINDS:
            valid = one_of(kind, KINDS)
            if kind in _VERSION_1_KINDS:
                valid += f"; `kind: {kind}` is the old `version: 1` format, which must be converted first"
            raise PolyaxonfileError(
                [source.problem(("kind",), f"`{kind}` is not a polyaxonfile kind", valid)]
            )
        if presets:
            source, kind = self._apply_presets(source, kind, presets), "operation"
        root = Where(source)
        if kind == "component":
            loaded = self.load(ComponentSchema, source.data, root)
            component = ComponentNode(loaded, copy.deepcopy(dict(source.data)), root, self._io_sound(root))
            raw_op: dict[str, Any] = {"kind": "operation", "component": component.raw}
            if "version" in source.data:
                raw_op = {"version": source.data["version"], **raw_op}
            node = OperationNode({"kind": "operation"}, raw_op, root, component, matrix_sound=True)
            self._check_operation(node, scope=None, synthesized=True, cli_params=cli_params)
        else:
            loaded = self.load(OperationSchema, source.data, root)
            node = self.operation(
                loaded, copy.deepcopy(dict(source.data)), root, scope=None, cli_params=cli_params
            )
        if self.problems:
            raise PolyaxonfileError(self.problems)
        return build_spec(node, written_kind=kind)

    def _apply_presets(self, source: Source, kind: str, presets: tuple[Source, ...]) -> Source:
        data, positions = dict(source.data), dict(source.positions)
        if kind == "component":
            # The component becomes the inline component of an operation the presets patch.
            positions = {("component", *path): position for path, position in positions.items()}
            data = {"kind": "operation", "component": data}
        for preset in presets:
            if not isinstance(preset.data, Mapping):
                self.problems.append(preset.problem((), "a preset must be a mapping", "a partial operation"))
                continue
            self.load(OperationSchema, preset.data, Where(preset), partial=True)
            strategy = preset.data.get("patchStrategy") or "post_merge"
            update = {
                key: value for key, value in preset.data.items() if key not in ("isPreset", "patchStrategy")
            }
            data, positions = patch(data, update, strategy, positions, preset.positions)
        return Source(source.name, data, positions, source.folder)

    # -- operations ----------------------------------------------------------------------

    def operation(
        self,
        loaded: dict[str, Any],
        raw: dict[str, Any],
        where: Where,
        scope: DagScope | None,
        cli_params: Mapping[str, str] | None = None,
    ) -> OperationNode:
        component = self._resolve_component(loaded, raw, where, scope)
        node = OperationNode(loaded, raw, where, component, matrix_sound=self.sound(where.at("matrix")))
        self._check_operation(node, scope, synthesized=False, cli_params=cli_params)
        return node

    def _check_operation(
        self,
        node: OperationNode,
        scope: DagScope | None,
        synthesized: bool,
        cli_params: Mapping[str, str] | None,
    ) -> None:
        component = node.component
        if component is None:
            if cli_params:
                self.problems.append(
                    Problem(
                        node.where.source.name,
                        None,
                        "-P",
                        "params cannot be checked: the component is not available",
                    )
                )
            return
        if cli_params:
            self._apply_cli_params(node, component, cli_params)
        if component.io_sound and self.sound(node.where.at("params")):
            self._check_params(node, component, scope)
            self._check_required_inputs(node, component, synthesized)
        if component.io_sound and node.matrix_sound and node.loaded.get("matrix"):
            self._check_matrix(node, component)
        if component.io_sound and self.sound(node.where.at("joins")):
            self._check_joins(node, component)
        run_kind = (component.loaded.get("run") or {}).get("kind")
        if node.loaded.get("run_patch") and run_kind in RUN_SCHEMAS:
            # A patch may leave out what the run already has (its container, its operations),
            # but whatever it writes must be complete: it is not checked again once applied.
            schema = RUN_SCHEMAS[run_kind]
            optional = tuple(name for name, field in schema().load_fields.items() if field.required)
            self.load(schema, node.raw["runPatch"], node.where.at("runPatch"), partial=optional)
        if component.io_sound:
            self._check_templates(node, component)
        if run_kind == "dag" and self.sound(component.where.at("run")):
            if component.dag_operations is None:
                component.dag_operations = self._compile_dag(component)
            node.children = component.dag_operations

    def _resolve_component(
        self, loaded: dict[str, Any], raw: dict[str, Any], where: Where, scope: DagScope | None
    ) -> ComponentNode | None:
        if loaded.get("component") is not None:
            inline = where.at("component")
            # A stored operation keeps its resolved component next to its reference.
            return ComponentNode(loaded["component"], raw["component"], inline, self._io_sound(inline))
        if loaded.get("path_ref"):
            return self._from_path(loaded["path_ref"], raw, where)
        if loaded.get("url_ref"):
            return self._from_url(loaded["url_ref"], raw, where)
        if loaded.get("hub_ref"):
            return self._from_hub(loaded["hub_ref"], raw, where)
        if loaded.get("dag_ref"):
            name = loaded["dag_ref"]
            if scope is None:
                self.problems.append(
                    where.at("dagRef").problem(
                        "dagRef only works for operations inside a DAG",
                        "the component inline (`component:`), or a pathRef/urlRef to its file",
                    )
                )
                return None
            found = scope.components.get(name)
            if found is None:
                self.problems.append(
                    where.at("dagRef").problem(
                        f"this DAG has no component named `{name}`",
                        one_of(name, sorted(scope.components), "components of this DAG"),
                    )
                )
            return found
        return None

    def _from_path(self, path_ref: str, raw: dict[str, Any], where: Where) -> ComponentNode | None:
        ref_where = where.at("pathRef")
        if where.source.folder is None:
            self.problems.append(
                ref_where.problem(
                    "pathRef cannot be resolved: this operation was not read from a file",
                    "the component inline (`component:`)",
                )
            )
            return None
        target = (where.source.folder / path_ref).resolve()
        if not target.is_file():
            self.problems.append(
                ref_where.problem(
                    f"pathRef `{path_ref}` does not exist (looked for {target})",
                    "a path relative to this file",
                )
            )
            return None
        try:
            source = read_source(target)
        except PolyaxonfileError as exc:
            self.problems.extend(exc.problems)
            return None
        return self._referenced(source, raw, ref_where)

    def _from_url(self, url: str, raw: dict[str, Any], where: Where) -> ComponentNode | None:
        ref_where = where.at("urlRef")
        if not self.fetch_url_refs:
            self.problems.append(
                ref_where.problem(
                    f"urlRef `{url}` is not fetched here: a server never requests the URLs "
                    "written in a polyaxonfile",
                    "the component inline (`component:`); `polyaxon run -f` fetches the "
                    "urlRef on your machine and sends the component inline",
                )
            )
            return None
        scheme = url_refs.scheme_of(url)
        if scheme not in url_refs.SCHEMES:
            self.problems.append(
                ref_where.problem(
                    f"urlRef `{url}` uses `{scheme or 'no'}` scheme; only http and https "
                    "URLs are fetched",
                    "an http(s) URL of a component file, or a pathRef for a local file",
                )
            )
            return None
        try:
            text = url_refs.fetch_component(url)
        except (OSError, ValueError) as exc:  # URLError, UnicodeDecodeError among them
            self.problems.append(
                ref_where.problem(
                    f"cannot fetch urlRef `{url}`: {exc}", "a reachable URL of a component file"
                )
            )
            return None
        try:
            source = parse_text(text, url)
        except PolyaxonfileError as exc:
            self.problems.extend(exc.problems)
            return None
        return self._referenced(source, raw, ref_where)

    def _from_hub(self, reference: str, raw: dict[str, Any], where: Where) -> ComponentNode | None:
        ref_where = where.at("hubRef")
        if self.hub is None:
            self.problems.append(
                ref_where.problem(
                    f"hubRef `{reference}` is not resolved here: a server reads operations with "
                    "their component inline",
                    "the component inline (`component:`); `polyaxon run -f` resolves the hubRef "
                    "on your machine and sends the component inline",
                )
            )
            return None
        from polyaxon_core.hub import HubError

        try:
            found = self.hub(reference)
        except HubError as exc:
            self.problems.append(ref_where.problem(str(exc), "a component of a hub (`polyaxon hub ls`)"))
            return None
        try:
            source = parse_text(found.text, f"hub:{found.ref}")
        except PolyaxonfileError as exc:
            self.problems.extend(exc.problems)
            return None
        # the operation records the version it resolved to, next to the component
        raw["hubRef"] = str(found.ref)
        return self._referenced(source, raw, ref_where)

    def _referenced(self, source: Source, raw: dict[str, Any], ref_where: Where) -> ComponentNode | None:
        if source.name in self._resolving:
            self.problems.append(
                ref_where.problem(f"`{source.name}` references itself", "a reference without a cycle")
            )
            return None
        if not isinstance(source.data, Mapping):
            self.problems.append(
                source.problem((), "a component file must be a mapping", "a mapping with `kind: component`")
            )
            return None
        kind = source.data.get("kind", "component")
        if kind != "component":
            self.problems.append(
                source.problem(
                    ("kind",),
                    f"a reference must point to a component, this file is `{kind}`",
                    "kind: component",
                )
            )
            return None
        root = Where(source)
        self._resolving.append(source.name)
        try:
            loaded = self.load(ComponentSchema, source.data, root)
            raw["component"] = copy.deepcopy(dict(source.data))
            node = ComponentNode(loaded, raw["component"], root, self._io_sound(root))
            if loaded.get("run", {}).get("kind") == "dag" and self.sound(root.at("run")):
                # Compiled while this file is on the stack of files being resolved, so a
                # DAG operation referencing the file itself is caught as a cycle.
                node.dag_operations = self._compile_dag(node)
        finally:
            self._resolving.pop()
        return node

    def _io_sound(self, where: Where) -> bool:
        return self.sound(where.at("inputs")) and self.sound(where.at("outputs"))

    # -- params and inputs ----------------------------------------------------------------

    def _apply_cli_params(
        self, node: OperationNode, component: ComponentNode, cli_params: Mapping[str, str]
    ) -> None:
        ios = _ios(component.loaded)
        if not isinstance(node.raw.get("params"), dict):
            # Missing, or already reported as malformed: the -P values are checked on their own.
            node.raw["params"] = {}
        params = node.raw["params"]
        loaded_params = node.loaded.setdefault("params", {})
        searched = _searched_names(node.loaded.get("matrix"))
        for name, text in cli_params.items():
            node.cli_names.add(name)
            io = ios.get(name)
            if name in searched:
                kind = node.loaded["matrix"].get("kind")
                self.problems.append(
                    Problem(
                        node.where.source.name,
                        None,
                        f"-P {name}",
                        f"`{name}` is searched by the matrix (`{kind}`): each trial sets its "
                        "own value, so the -P value would never be used",
                        f"leave out -P {name}, or take `{name}` out of the matrix to give "
                        "every trial this value",
                    )
                )
                continue
            if io is None:
                self.problems.append(
                    Problem(
                        node.where.source.name,
                        None,
                        f"-P {name}",
                        f"`{name}` is not an input or output of the component",
                        one_of(name, sorted(ios), "inputs/outputs"),
                    )
                )
                continue
            try:
                value = parse_cli_value(io.get("type"), text, is_list=bool(io.get("is_list")))
            except TypeMismatch as exc:
                self.problems.append(
                    Problem(
                        node.where.source.name,
                        None,
                        f"-P {name}",
                        f"{text!r} is not a valid `{io.get('type')}`: {exc}",
                        describe_type(io.get("type"), bool(io.get("is_list"))),
                    )
                )
                continue
            params[name] = {"value": value}
            loaded_params[name] = {"value": value}

    def _check_params(self, node: OperationNode, component: ComponentNode, scope: DagScope | None) -> None:
        ios = _ios(component.loaded)
        for name, param in (node.loaded.get("params") or {}).items():
            where = node.where.at("params", name)
            io = ios.get(name)
            ref = param.get("ref")
            if ref:
                if scope is None and ref.split(".")[0] in ("ops", "dag"):
                    self.problems.append(
                        where.at("ref").problem(
                            f"`{ref}` can only be referenced by operations inside a DAG",
                            "a literal value, or a `runs.<uuid>` reference",
                        )
                    )
                elif parse_ref_value(param.get("value")) is None:
                    self.problems.append(
                        where.at("value").problem(
                            f"`{param.get('value')}` does not name what to take from `{ref}`",
                            "inputs.<name>, outputs.<name>, globals.<name> or artifacts.<name>",
                        )
                    )
                continue
            if io is None:
                if param.get("context_only") is False:
                    self.problems.append(
                        where.problem(
                            f"`{name}` is not an input or output of the component",
                            "contextOnly: true, or " + one_of(name, sorted(ios), "inputs/outputs"),
                        )
                    )
                continue
            value = param.get("value")
            if value is None:
                continue
            issue = value_issue(io, value)
            if issue is None:
                continue
            if name in node.cli_names:
                source = node.where.source.name
                self.problems.append(Problem(source, None, f"-P {name}", str(issue), issue.valid))
            else:
                self.problems.append(where.at("value").problem(str(issue), issue.valid))

    def _check_required_inputs(
        self, node: OperationNode, component: ComponentNode, synthesized: bool
    ) -> None:
        if not self.require_inputs:
            return
        provided = {
            name
            for name, param in (node.loaded.get("params") or {}).items()
            if param.get("ref") or param.get("value") is not None
        }
        # The matrix and joins are read as written: when they have problems of their own,
        # the inputs they were meant to provide should not be reported missing as well.
        provided |= _matrix_names(node.raw.get("matrix")) | node.cli_names
        for join in _mappings(node.raw.get("joins")):
            provided |= set(_mapping(join.get("params")))
        for index, io in enumerate(component.loaded.get("inputs") or []):
            optional = io.get("is_optional") or io.get("value") is not None or io.get("delay_validation")
            if optional or io["name"] in provided:
                continue
            name = io["name"]
            if synthesized:
                self.problems.append(
                    component.where.at("inputs", index).problem(
                        f"required input `{name}` has no value",
                        f"pass it with -P {name}=..., or give it a default `value` with isOptional: true",
                    )
                )
            else:
                where = node.where.at("params") if "params" in node.raw else node.where
                self.problems.append(
                    where.problem(
                        f"required input `{name}` of the component has no value",
                        f"`{name}: {{value: ...}}` under params, a matrix param, or -P {name}=...",
                    )
                )

    def _check_joins(self, node: OperationNode, component: ComponentNode) -> None:
        ios = _ios(component.loaded)
        for index, join in enumerate(node.loaded.get("joins") or []):
            for name in join.get("params") or {}:
                io = ios.get(name)
                if io is not None and not io.get("is_list") and io.get("type") != "artifacts":
                    self.problems.append(
                        node.where.at("joins", index, "params", name).problem(
                            f"a join collects one value per run, but input `{name}` is not a list",
                            f"isList: true on input `{name}` (or type: artifacts)",
                        )
                    )

    # -- matrix -------------------------------------------------------------------------

    def _check_matrix(self, node: OperationNode, component: ComponentNode) -> None:
        matrix = node.loaded["matrix"]
        where = node.where.at("matrix")
        inputs = {io["name"]: io for io in component.loaded.get("inputs") or []}
        for name, distribution in (matrix.get("params") or {}).items():
            param_where = where.at("params", name)
            io = inputs.get(name)
            if io is None:
                self.problems.append(
                    param_where.problem(
                        f"`{name}` is not an input of the component",
                        one_of(name, sorted(inputs), "inputs"),
                    )
                )
                continue
            self._check_distribution(distribution, io, param_where)
        for index, entry in enumerate(matrix.get("values") or []):
            for name, value in entry.items():
                io = inputs.get(name)
                value_where = where.at("values", index, name)
                if io is None:
                    self.problems.append(
                        value_where.problem(
                            f"`{name}` is not an input of the component",
                            one_of(name, sorted(inputs), "inputs"),
                        )
                    )
                    continue
                issue = value_issue(io, value)
                if issue is not None:
                    self.problems.append(value_where.problem(str(issue), issue.valid))

    def _check_distribution(
        self, distribution: ParamDistribution, io: Mapping[str, Any], where: Where
    ) -> None:
        type_name = io.get("type")
        kind = distribution.kind
        needed = None
        if kind in NUMERIC_KINDS and type_name not in (None, "any", "int", "float"):
            needed = "int or float"
        elif kind == "daterange" and type_name not in (None, "any", "date"):
            needed = "date"
        elif kind == "datetimerange" and type_name not in (None, "any", "datetime"):
            needed = "datetime"
        if needed:
            self.problems.append(
                where.at("kind").problem(
                    f"`{kind}` produces values that do not fit input `{io['name']}` of type `{type_name}`",
                    f"an input of type {needed}, or a choice of values",
                )
            )
            return
        if kind in ("choice", "pchoice"):
            for index, item in enumerate(distribution.value):
                value = item[0] if kind == "pchoice" else item
                issue = value_issue(io, value)
                if issue is not None:
                    self.problems.append(where.at("value", index).problem(str(issue), issue.valid))

    # -- templates ----------------------------------------------------------------------

    def _check_templates(self, node: OperationNode, component: ComponentNode) -> None:
        ios = _ios(component.loaded)
        context_params = set(node.loaded.get("params") or {})
        for join in node.loaded.get("joins") or []:
            context_params |= set(join.get("params") or {})
        names = set(ios) | context_params
        run = component.raw.get("run")
        if isinstance(run, Mapping):
            # A DAG's operations and components are checked with their own inputs.
            scanned = {key: value for key, value in run.items() if key not in ("operations", "components")}
            self._scan(scanned, component.where.at("run"), names)
        if isinstance(node.raw.get("runPatch"), Mapping):
            self._scan(node.raw["runPatch"], node.where.at("runPatch"), names)
        # Values (defaults, literal params) are rendered before the run's templates, with
        # the globals only.
        for section in ("inputs", "outputs"):
            for index, io in enumerate(_mappings(component.raw.get(section))):
                self._scan(io.get("value"), component.where.at(section, index, "value"), set(), ("globals",))
        for name, written in _mapping(node.raw.get("params")).items():
            param = normalize_param(written)
            if not param.get("ref"):
                self._scan(param.get("value"), node.where.at("params", name, "value"), set(), ("globals",))

    def _scan(
        self,
        value: Any,
        where: Where,
        names: set[str],
        sections: tuple[str, ...] = CONTEXT_SECTIONS,
    ) -> None:
        for path, text in iter_strings(value):
            if "{{" not in text and "{%" not in text:
                continue
            for message, valid in reference_problems(text, names, names, sections):
                self.problems.append(where.at(*path).problem(message, valid))

    # -- DAGs ---------------------------------------------------------------------------

    def _compile_dag(self, dag: ComponentNode) -> list[OperationNode]:
        run_where = dag.where.at("run")
        run = dag.loaded["run"]
        raw_run = dag.raw["run"]
        components: dict[str, ComponentNode] = {}
        for index, loaded in enumerate(run.get("components") or []):
            where = run_where.at("components", index)
            name = loaded.get("name")
            if not name:
                self.problems.append(
                    where.problem("a DAG component needs a name", "a `name` that operations use as dagRef")
                )
                continue
            if name in components:
                self.problems.append(
                    where.at("name").problem(f"two DAG components are named `{name}`", "unique names")
                )
                continue
            components[name] = ComponentNode(
                loaded, raw_run["components"][index], where, self._io_sound(where)
            )
        names: list[str] = []
        for index, loaded in enumerate(run.get("operations") or []):
            name = loaded.get("name")
            where = run_where.at("operations", index)
            if not name:
                self.problems.append(
                    where.problem("a DAG operation needs a name", "a `name` other operations can depend on")
                )
            elif name in names:
                self.problems.append(
                    where.at("name").problem(f"two DAG operations are named `{name}`", "unique names")
                )
            names.append(name)
        scope = DagScope(dag, components)
        nodes = [
            self.operation(loaded, raw_run["operations"][index], run_where.at("operations", index), scope)
            for index, loaded in enumerate(run.get("operations") or [])
        ]
        by_name: dict[str, OperationNode] = {}
        for node in nodes:
            by_name.setdefault(node.loaded.get("name") or "", node)
        by_name.pop("", None)
        upstream: dict[str, set[str]] = {}
        for node in nodes:
            parents: set[str] = set()
            for index, dependency in enumerate(node.loaded.get("dependencies") or []):
                if dependency not in by_name:
                    self.problems.append(
                        node.where.at("dependencies", index).problem(
                            f"`{dependency}` is not an operation of this DAG",
                            one_of(dependency, sorted(by_name), "operations"),
                        )
                    )
                else:
                    parents.add(dependency)
            parents |= self._check_dag_refs(node, scope, by_name)
            name = node.loaded.get("name")
            # Nameless operations are reported above and cannot be part of a cycle.
            if name:
                upstream.setdefault(name, set()).update(parents)
        self._check_acyclic(upstream, by_name)
        return nodes

    def _check_dag_refs(
        self, node: OperationNode, scope: DagScope, by_name: dict[str, OperationNode]
    ) -> set[str]:
        """Check the ``ops.*``/``dag`` params of ``node``; returns the operations it reads from."""
        reads: set[str] = set()
        if node.component is None or not self.sound(node.where.at("params")):
            return reads
        own = _ios(node.component.loaded)
        for name, param in (node.loaded.get("params") or {}).items():
            ref = param.get("ref") or ""
            where = node.where.at("params", name)
            parsed = parse_ref_value(param.get("value"))
            if not ref or parsed is None:
                continue
            unpicked_sweep = False
            if ref == "dag":
                target_ios = _ios(scope.dag.loaded)
                origin = "the DAG"
            elif ref.startswith("ops."):
                upstream_name = ref[len("ops.") :]
                upstream = by_name.get(upstream_name)
                if upstream is None:
                    self.problems.append(
                        where.at("ref").problem(
                            f"`{upstream_name}` is not an operation of this DAG",
                            one_of(upstream_name, sorted(by_name), "operations"),
                        )
                    )
                    continue
                reads.add(upstream_name)
                if upstream.component is None:
                    continue
                target_ios = _ios(upstream.component.loaded)
                origin = f"operation `{upstream_name}`"
                unpicked_sweep = not _sweep_has_metric(upstream.loaded)
            else:
                continue
            section, key = parsed
            if unpicked_sweep and section != "globals":
                self.problems.append(
                    where.at("value").problem(
                        f"operation `{upstream_name}` is a sweep whose matrix names no metric to "
                        f"pick its best trial by, so its `{section}` cannot be read",
                        "a matrix with a `metric` (bayes, hyperband, hyperopt, ...) or a "
                        "metric_early_stopping rule; or a join over its trials",
                    )
                )
                continue
            if section not in ("inputs", "outputs"):
                if section == "globals" and key not in GLOBALS:
                    self.problems.append(
                        where.at("value").problem(
                            f"`globals.{key}` is not a Polyaxon global", one_of(key, GLOBALS)
                        )
                    )
                continue
            source_io = target_ios.get(key)
            if source_io is None:
                self.problems.append(
                    where.at("value").problem(
                        f"{origin} has no {section[:-1]} named `{key}`",
                        one_of(key, sorted(target_ios), f"{section} of {origin}"),
                    )
                )
                continue
            io = own.get(name)
            if io is not None and not _compatible(io, source_io):
                self.problems.append(
                    where.problem(
                        f"input `{name}` ({_describe_io(io)}) cannot take `{section}.{key}` of {origin} "
                        f"({_describe_io(source_io)})",
                        "an input and an output of the same type",
                    )
                )
        return reads

    def _check_acyclic(self, upstream: dict[str, set[str]], by_name: dict[str, OperationNode]) -> None:
        graph = TopologicalSorter({name: sorted(parents) for name, parents in sorted(upstream.items())})
        try:
            graph.prepare()
        except CycleError as exc:
            # graphlib gives the cycle as [a, b, ..., a], each one's output flowing into the next
            cycle = [str(name) for name in exc.args[1]]
            self.problems.append(
                by_name[cycle[0]].where.problem(
                    f"the DAG has a cycle: {' -> '.join(cycle)}",
                    "dependencies and ops references that form no loop",
                )
            )


def _sweep_has_metric(operation: Mapping[str, Any]) -> bool:
    """False for an operation with a matrix that names no metric (its best trial is unknown)."""
    matrix = operation.get("matrix")
    if not isinstance(matrix, Mapping):
        return True
    return bool(matrix.get("metric")) or any(
        isinstance(rule, Mapping) and rule.get("kind") == "metric_early_stopping"
        for rule in matrix.get("early_stopping") or ())


def _infer_kind(data: Mapping[str, Any]) -> str:
    # Like the official client, a file without `kind` is a component when it has a run
    # of its own and an operation otherwise.
    return "component" if "run" in data and "component" not in data else "operation"


def _ios(component: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        io["name"]: io
        for io in (*(component.get("inputs") or ()), *(component.get("outputs") or ()))
        if "name" in io
    }


def _describe_io(io: Mapping[str, Any]) -> str:
    type_name = io.get("type") or "any"
    return f"list of {type_name}" if io.get("is_list") else type_name


_COMPATIBLE = ({"int", "float", "metric"}, {"str", "path", "uri", "image"})


def _compatible(target: Mapping[str, Any], source: Mapping[str, Any]) -> bool:
    if bool(target.get("is_list")) != bool(source.get("is_list")):
        return False
    wanted, given = target.get("type") or "any", source.get("type") or "any"
    if "any" in (wanted, given) or wanted == given:
        return True
    return any(wanted in group and given in group for group in _COMPATIBLE)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _matrix_names(matrix: Any) -> set[str]:
    """The input names a matrix (as written) provides values for."""
    matrix = _mapping(matrix)
    names = {str(name) for name in _mapping(matrix.get("params"))}
    for entry in _mappings(matrix.get("values")):
        names |= {str(name) for name in entry}
    resource = _mapping(matrix.get("resource"))
    if isinstance(resource.get("name"), str):
        names.add(resource["name"])
    return names


# -- building the specs -------------------------------------------------------------------


def build_spec(node: OperationNode, written_kind: str) -> OperationSpec:
    component = node.component
    if component is None:
        raise PolyaxonfileError([node.where.problem("the operation has no component", "a component")])
    component_spec = ComponentSpec(component.loaded, component.raw, component.where.located())
    raw = node.raw
    if "component" not in raw:
        # Operations of a DAG that use `dagRef` carry a copy of their component, so each
        # stands alone when stored.
        raw = {**raw, "component": copy.deepcopy(component.raw)}
    return OperationSpec(
        raw=raw,
        loaded=node.loaded,
        component=component_spec,
        matrix=build_matrix(node.loaded.get("matrix"), component.loaded),
        dag_operations=tuple(build_spec(child, "operation") for child in node.children),
        where=node.where.located(),
        written_kind=written_kind,
    )


def build_matrix(matrix: Mapping[str, Any] | None, component: Mapping[str, Any]) -> MatrixConfig | None:
    if not matrix:
        return None
    inputs = {io["name"]: io for io in component.get("inputs") or []}
    options = {
        key: value for key, value in matrix.items() if key not in MATRIX_TOP_FIELDS and value is not None
    }
    if "values" in options:
        options["values"] = [
            {
                name: convert_value(
                    inputs[name].get("type"), value, is_list=bool(inputs[name].get("is_list"))
                )
                for name, value in entry.items()
            }
            for entry in options["values"]
        ]
    return MatrixConfig(
        kind=matrix["kind"],
        params=dict(matrix.get("params") or {}),
        options=options,
        concurrency=matrix.get("concurrency"),
        num_runs=matrix.get("num_runs"),
        seed=matrix.get("seed"),
    )


def _searched_names(matrix: Any) -> set[str]:
    """The inputs a loaded ``matrix`` section gives each trial a value for."""
    if not isinstance(matrix, Mapping):
        return set()
    names = set(matrix.get("params") or {})
    for entry in matrix.get("values") or []:
        if isinstance(entry, Mapping):
            names.update(entry)
    resource = matrix.get("resource")
    if isinstance(resource, Mapping) and isinstance(resource.get("name"), str):
        names.add(resource["name"])
    return names


def compile_source(
    source: Source,
    cli_params: Mapping[str, str] | None = None,
    presets: tuple[Source, ...] = (),
    *,
    fetch_url_refs: bool = False,
    hub: Callable[[str], Resolved] | None = None,
    require_inputs: bool = True,
) -> OperationSpec:
    """Compile ``source``; ``fetch_url_refs`` and ``hub`` only on the client (see
    :class:`Compiler`)."""
    return Compiler(fetch_url_refs=fetch_url_refs, hub=hub,
                    require_inputs=require_inputs).compile(source, cli_params, presets)
