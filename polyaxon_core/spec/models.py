"""The validated polyaxonfile as the orchestrator uses it.

An :class:`OperationSpec` is built only by the compiler from a file (or stored JSON) that
passed every check. It keeps the document as written (``to_dict``) and offers typed views
of it: the component and its inputs, the normalized matrix, the termination policy, the
input values of a run and the container to execute.
"""

from __future__ import annotations

import copy
import functools
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from polyaxon_core.entities import ContainerSpec, MatrixConfig
from polyaxon_core.spec.errors import PolyaxonfileError, Problem, one_of
from polyaxon_core.spec.loader import PathKey, Position, format_path
from polyaxon_core.spec.params import normalize_param
from polyaxon_core.spec.patching import patch
from polyaxon_core.spec.schemas import io_rules
from polyaxon_core.spec.templating import format_value, has_template, render, render_errors
from polyaxon_core.spec.types import (
    TypeMismatch,
    check_rules,
    convert_value,
    describe_type,
    is_template,
)


@dataclass(frozen=True)
class IOSpec:
    """One declared input or output."""

    name: str
    type: str | None = None
    description: str | None = None
    value: Any = None
    is_optional: bool = False
    is_list: bool = False
    is_flag: bool = False
    arg_format: str | None = None
    connection: str | None = None
    to_init: bool = False
    to_env: str | None = None
    delay_validation: bool | None = None
    rules: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_loaded(cls, data: Mapping[str, Any]) -> IOSpec:
        value = data.get("value")
        is_list = bool(data.get("is_list"))
        is_optional = data.get("is_optional")
        return cls(
            name=data["name"],
            type=data.get("type"),
            description=data.get("description"),
            value=convert_value(data.get("type"), value, is_list=is_list),
            # A default value makes an input optional unless it says otherwise (which the
            # schema rejects), as in Polyaxon.
            is_optional=bool(is_optional) if is_optional is not None else value is not None,
            is_list=is_list,
            is_flag=bool(data.get("is_flag")),
            arg_format=data.get("arg_format"),
            connection=data.get("connection"),
            to_init=bool(data.get("to_init")),
            to_env=data.get("to_env"),
            delay_validation=data.get("delay_validation"),
            rules=io_rules(data),
        )

    @property
    def required(self) -> bool:
        """True when a run cannot start without a value for it."""
        return not self.is_optional and self.value is None and not self.delay_validation

    def convert(self, value: Any) -> Any:
        """``value`` typed for this IO; raises TypeMismatch when it does not fit."""
        converted = convert_value(self.type, value, is_list=self.is_list)
        broken = check_rules(self.rules, converted)
        if broken:
            raise TypeMismatch(broken)
        return converted

    def describe(self) -> str:
        return describe_type(self.type, self.is_list)


@dataclass(frozen=True)
class TerminationSpec:
    """When to give up on a run: retries, seconds before it is stopped, seconds kept after."""

    max_retries: int | None = None
    timeout: int | None = None
    ttl: int | None = None
    #: ``culling.timeout``: seconds a service may stay idle before it is stopped
    culling_timeout: int | None = None
    #: ``probe``: how to tell a service is active (``http``: ``path``, ``port``), as written
    probe: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Located:
    """Where a spec object was written: a source name and the positions of its fields."""

    source: str
    path: PathKey = ()
    positions: Mapping[PathKey, Position] = field(default_factory=dict)

    def problem(self, path: PathKey, message: str, valid: str | None = None) -> Problem:
        probe = (*self.path, *path)
        while probe not in self.positions and probe:
            probe = probe[:-1]
        file, line = self.positions.get(probe, (self.source, None))
        return Problem(file, line, format_path((*self.path, *path)), message, valid)


class ComponentSpec:
    """A component: its name, typed inputs/outputs and its run section as written."""

    def __init__(self, loaded: Mapping[str, Any], raw: Mapping[str, Any], where: Located) -> None:
        self._raw = raw
        self.where = where
        self.name: str | None = loaded.get("name")
        self.description: str | None = loaded.get("description")
        self.tags: tuple[str, ...] = tuple(loaded.get("tags") or ())
        self.inputs: tuple[IOSpec, ...] = tuple(IOSpec.from_loaded(io) for io in loaded.get("inputs") or ())
        self.outputs: tuple[IOSpec, ...] = tuple(IOSpec.from_loaded(io) for io in loaded.get("outputs") or ())
        self.run: Mapping[str, Any] = raw["run"]
        self.run_kind: str = loaded["run"]["kind"]
        #: of a DAG: how many of its operations may be queued or running at once (None: any)
        dag = loaded["run"] if self.run_kind == "dag" else {}
        self.dag_concurrency: int | None = dag.get("concurrency")
        #: of a DAG: its ``earlyStopping`` rules, as loaded (snake_case keys)
        self.dag_early_stopping: tuple[Mapping[str, Any], ...] = tuple(dag.get("early_stopping") or ())

    def io(self, name: str) -> IOSpec | None:
        """The input (or else output) called ``name``."""
        for io in (*self.inputs, *self.outputs):
            if io.name == name:
                return io
        return None

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(dict(self._raw))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ComponentSpec) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"ComponentSpec(name={self.name!r}, run_kind={self.run_kind!r})"


class OperationSpec:
    """A validated operation: what to run (``component``), with which params, how often."""

    def __init__(
        self,
        *,
        raw: Mapping[str, Any],
        loaded: Mapping[str, Any],
        component: ComponentSpec,
        matrix: MatrixConfig | None,
        dag_operations: tuple[OperationSpec, ...],
        where: Located,
        written_kind: str,
    ) -> None:
        self._raw = raw
        self.component = component
        self.matrix = matrix
        self.dag_operations = dag_operations
        self.where = where
        #: ``component`` or ``operation``: what the file itself was.
        self.written_kind = written_kind
        component_raw = raw.get("component") or {}
        self.name: str | None = loaded.get("name") or component.name
        self.description: str | None = loaded.get("description") or component.description
        self.tags: tuple[str, ...] = tuple(loaded.get("tags") or component.tags)
        self.queue: str | None = raw.get("queue") or component_raw.get("queue")
        self.cache: Mapping[str, Any] | None = raw.get("cache") or component_raw.get("cache")
        self.schedule: Mapping[str, Any] | None = raw.get("schedule")
        self.termination = _termination(raw.get("termination"), component_raw.get("termination"))
        self.params: dict[str, dict[str, Any]] = {
            name: normalize_param(param) for name, param in (raw.get("params") or {}).items()
        }
        self.run_kind: str = component.run_kind
        self.hooks: tuple[Mapping[str, Any], ...] = tuple(
            raw.get("hooks") or component_raw.get("hooks") or ()
        )
        self.joins: tuple[Mapping[str, Any], ...] = tuple(raw.get("joins") or ())
        self.events: tuple[Mapping[str, Any], ...] = tuple(raw.get("events") or ())
        self.build: Mapping[str, Any] | None = raw.get("build") or component_raw.get("build")
        self.plugins: Mapping[str, Any] | None = raw.get("plugins") or component_raw.get("plugins")
        self.dependencies: tuple[str, ...] = tuple(loaded.get("dependencies") or ())
        self.trigger: str | None = loaded.get("trigger")
        self.conditions: str | None = loaded.get("conditions")
        self.skip_on_upstream_skip: bool = bool(loaded.get("skip_on_upstream_skip"))
        self.presets: tuple[str, ...] = tuple(loaded.get("presets") or ())
        self.is_approved: bool | None = loaded.get("is_approved")
        self.cost: float | None = loaded.get("cost")
        run_patch = raw.get("runPatch")
        #: where each field of ``run`` was written, when ``runPatch`` moved them (else read
        #: from the component's positions when a problem is reported: the operations of a
        #: DAG share the positions of its whole file)
        self._patched_positions: dict[PathKey, Position] | None = None
        if run_patch:
            component_where = component.where
            self.run, self._patched_positions = patch(
                dict(component.run),
                dict(run_patch),
                raw.get("patchStrategy") or "post_merge",
                _relative(component_where.positions, (*component_where.path, "run")),
                _relative(where.positions, (*where.path, "runPatch")),
            )
        else:
            self.run = dict(component.run)

    @functools.cached_property
    def _run_where(self) -> Located:
        """Where the ``run`` section was written, field by field."""
        positions = self._patched_positions
        if positions is None:
            written = self.component.where
            positions = _relative(written.positions, (*written.path, "run"))
        return Located(self.component.where.source, ("run",),
                       {("run", *path): position for path, position in positions.items()})

    @property
    def params_with_ref(self) -> dict[str, dict[str, Any]]:
        """The params taking their value from another operation, the DAG or a run (as written)."""
        return {name: dict(param) for name, param in self.params.items() if param.get("ref")}

    def to_dict(self) -> dict[str, Any]:
        """The operation as JSON-serializable data, camelCase like the file, component inline.

        :func:`~polyaxon_core.spec.parse_operation` accepts it back and yields an equal spec.
        """
        return copy.deepcopy(dict(self._raw))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OperationSpec) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"OperationSpec(name={self.name!r}, run_kind={self.run_kind!r})"

    # -- values of a run ---------------------------------------------------------------

    def resolve_inputs(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The typed value of every input of the component.

        A value comes from ``overrides`` (e.g. a matrix suggestion, or the resolved value of
        a ``ref`` param), else from this operation's ``params``, else from the input's
        default. Inputs that the matrix provides may be left out; a required input without
        a value, a ``ref`` param not given in ``overrides``, or a value of the wrong type
        raises :class:`PolyaxonfileError`.
        """
        overrides = dict(overrides or {})
        problems: list[Problem] = []
        names = [io.name for io in self.component.inputs]
        for name in overrides:
            if name not in names:
                problems.append(
                    Problem(
                        self.where.source,
                        None,
                        name,
                        f"`{name}` is not an input of the component",
                        one_of(name, names, "inputs"),
                    )
                )
        provided_by_matrix = self.matrix_names()
        joined = {name for join in self.joins for name in join.get("params") or {}}
        values: dict[str, Any] = {}
        for io in self.component.inputs:
            param = self.params.get(io.name)
            if io.name in overrides:
                value, origin = overrides[io.name], "the given value"
            elif io.name in joined:
                problems.append(
                    Problem(
                        self.where.source,
                        None,
                        f"params.{io.name}",
                        f"input `{io.name}` collects values from a join, which are only known at run time",
                        f"the collected values in overrides[{io.name!r}]",
                    )
                )
                continue
            elif param is not None and param.get("ref"):
                problems.append(
                    Problem(
                        self.where.source,
                        None,
                        f"params.{io.name}",
                        f"input `{io.name}` comes from `{param['ref']}` ({param.get('value')}), "
                        "which is only known at run time",
                        f"its resolved value in overrides[{io.name!r}]",
                    )
                )
                continue
            elif param is not None and param.get("value") is not None:
                value, origin = param["value"], f"params.{io.name}"
            elif io.name in provided_by_matrix:
                continue
            elif not io.required:
                values[io.name] = io.value
                continue
            else:
                problems.append(
                    Problem(
                        self.where.source,
                        None,
                        f"inputs.{io.name}",
                        f"required input `{io.name}` has no value",
                        f"{io.describe()}, given in params or overrides",
                    )
                )
                continue
            if is_template(value):
                values[io.name] = value
                continue
            try:
                values[io.name] = io.convert(value)
            except TypeMismatch as exc:
                problems.append(
                    Problem(
                        self.where.source,
                        None,
                        io.name,
                        f"{origin} {value!r} does not fit: {exc}",
                        io.describe(),
                    )
                )
        if problems:
            raise PolyaxonfileError(problems)
        return values

    def matrix_names(self) -> set[str]:
        """The inputs whose values the matrix provides."""
        if self.matrix is None:
            return set()
        names = set(self.matrix.params)
        for entry in self.matrix.options.get("values") or []:
            names.update(entry)
        resource = self.matrix.options.get("resource")
        if isinstance(resource, Mapping) and resource.get("name"):
            names.add(resource["name"])
        return names

    def render_connections(self, inputs: Mapping[str, Any], globals: Mapping[str, Any]) -> tuple[str, ...]:
        """The names in ``run.connections`` (with ``runPatch`` applied), templates rendered."""
        names = self.run.get("connections") or ()
        problems: list[Problem] = []
        context = self._template_context(inputs, globals, problems)
        rendered = []
        for index, name in enumerate(names):
            try:
                rendered.append(render(str(name), context) if has_template(str(name)) else str(name))
            except render_errors() as exc:
                where = Located(self.component.where.source, ("run",), {})
                problems.append(where.problem(("connections", index), f"cannot render `{name}`: {exc}",
                                              "names defined as inputs/outputs or given in globals"))
        if problems:
            raise PolyaxonfileError(problems)
        return tuple(dict.fromkeys(rendered))

    def render_container(self, inputs: Mapping[str, Any], globals: Mapping[str, Any]) -> ContainerSpec:
        """The ``run.container`` section (with ``runPatch`` applied) after templating.

        ``inputs`` are the run's input values (see :meth:`resolve_inputs`), ``globals`` the
        run's ``globals.*`` context. ``isFlag`` inputs render as ``--name`` or nothing; an
        element of ``command``/``args`` that renders to an empty string is dropped, and a
        ``command``/``args`` written as one string is split like a shell would. Env entries
        with ``valueFrom`` need the cluster and are not part of the result.
        """
        container = self.run.get("container")
        where = self._run_where
        if not isinstance(container, Mapping):
            raise PolyaxonfileError(
                [
                    where.problem(
                        ("container",),
                        f"a `{self.run_kind}` run has no container to render",
                        "a job or service run",
                    )
                ]
            )
        problems: list[Problem] = []
        context = self._template_context(inputs, globals, problems)
        spec = _render_container(container, ("container",), _renderer(where, context, problems))
        if problems:
            raise PolyaxonfileError(problems)
        return spec

    def render_run(self, inputs: Mapping[str, Any], globals: Mapping[str, Any]) -> dict[str, Any]:
        """The whole ``run`` section (with ``runPatch`` applied), every string templated: what
        a scheduler acting on more than the container (Kubernetes: environment, volumes,
        sidecars, replicas) reads. Field names stay as written (Kubernetes' camelCase)."""
        where = self._run_where
        problems: list[Problem] = []
        text = _renderer(where, self._template_context(inputs, globals, problems), problems)
        rendered = _render_tree(dict(self.run), (), text)
        if problems:
            raise PolyaxonfileError(problems)
        return dict(rendered)

    def render_probe(self, inputs: Mapping[str, Any], globals: Mapping[str, Any]) -> dict[str, Any]:
        """``termination.probe`` with its strings templated (a path such as
        ``{{ globals.base_url }}/api/status``); empty without one."""
        probe = self.termination.probe if self.termination else None
        if not probe:
            return {}
        where = Located(self.component.where.source, ("termination", "probe"), {})
        problems: list[Problem] = []
        text = _renderer(where, self._template_context(inputs, globals, problems), problems)
        rendered = _render_tree(dict(probe), (), text)
        if problems:
            raise PolyaxonfileError(problems)
        return dict(rendered)

    def render_init(self, inputs: Mapping[str, Any], globals: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The ``run.init`` section (with ``runPatch`` applied) after templating: each
        initializer's mapping with its strings rendered, and its ``container`` (if any) a
        :class:`ContainerSpec` rendered like :meth:`render_container`."""
        where = self._run_where
        problems: list[Problem] = []
        context = self._template_context(inputs, globals, problems)
        text = _renderer(where, context, problems)
        rendered = []
        for index, init in enumerate(self.run.get("init") or []):
            entry = {key: _render_tree(value, ("init", index, key), text)
                     for key, value in init.items() if key != "container"}
            if isinstance(init.get("container"), Mapping):
                entry["container"] = _render_container(init["container"], ("init", index, "container"), text)
            rendered.append(entry)
        if problems:
            raise PolyaxonfileError(problems)
        return rendered

    def render_build(self, inputs: Mapping[str, Any], globals: Mapping[str, Any]) -> dict[str, Any]:
        """The ``build`` section after templating: its ``params`` and ``runPatch`` with
        their strings rendered, as :meth:`render_init` renders ``run.init``."""
        where = Located(self.component.where.source, ("build",), {})
        problems: list[Problem] = []
        context = self._template_context(inputs, globals, problems)
        text = _renderer(where, context, problems)
        rendered = {key: _render_tree(value, (key,), text) for key, value in (self.build or {}).items()}
        if problems:
            raise PolyaxonfileError(problems)
        return rendered

    def _template_context(
        self, inputs: Mapping[str, Any], globals: Mapping[str, Any], problems: list[Problem]
    ) -> dict[str, Any]:
        globals_context = dict(globals)
        values: dict[str, Any] = {}
        declared: dict[str, IOSpec] = {}
        for io in self.component.inputs:
            declared[io.name] = io
            if io.name in inputs:
                values[io.name] = inputs[io.name]
        for io in self.component.outputs:
            declared[io.name] = io
            if io.name in inputs or io.value is not None:
                values[io.name] = inputs.get(io.name, io.value)
        for name, param in self.params.items():
            if name not in declared and not param.get("ref") and param.get("value") is not None:
                values.setdefault(name, param["value"])
        for name, value in list(values.items()):
            # A value can itself be a template over the globals, e.g. an output path.
            if isinstance(value, str) and has_template(value):
                try:
                    values[name] = render(value, {"globals": globals_context})
                except render_errors() as exc:
                    problems.append(
                        Problem(
                            self.where.source,
                            None,
                            name,
                            f"cannot render the value `{value}` of `{name}`: {exc}",
                            "a value using only globals.*",
                        )
                    )
        context: dict[str, Any] = {"globals": globals_context, "connections": {}, "init": {}}
        params_context: dict[str, Any] = {}
        for name, value in values.items():
            declared_io = declared.get(name)
            is_flag = declared_io is not None and declared_io.is_flag
            context[name] = (f"--{name}" if value else "") if is_flag else value
            try:
                as_arg = _as_arg(name, value, declared_io)
            except render_errors() as exc:
                problems.append(
                    Problem(
                        self.where.source, None, name, f"cannot render argFormat: {exc}", "a valid argFormat"
                    )
                )
                as_arg = ""
            params_context[name] = {"value": value, "as_str": format_value(value), "as_arg": as_arg}
        context["params"] = params_context
        return context


def _as_arg(name: str, value: Any, io: IOSpec | None) -> str:
    if value is None:
        return ""
    if io is not None and io.arg_format:
        return render(io.arg_format, {name: value})
    if io is not None and io.is_flag:
        return f"--{name}" if value else ""
    return f"--{name}={format_value(value)}"


def _renderer(where: Located, context: Mapping[str, Any], problems: list[Problem]) -> Any:
    """``text(value, path)``: ``value`` rendered in ``context``; a failure is added to
    ``problems`` (located at ``path`` under ``where``) and the value kept as written."""

    def text(value: Any, path: PathKey) -> str:
        if not isinstance(value, str):
            return format_value(value)
        try:
            return render(value, context)
        except render_errors() as exc:
            problems.append(
                where.problem(
                    path,
                    f"cannot render `{value}`: {exc}",
                    "names defined as inputs/outputs or given in globals",
                )
            )
            return value

    return text


def _render_container(container: Mapping[str, Any], at: PathKey, text: Any) -> ContainerSpec:
    """A container mapping (found at ``at`` under ``run``) as a :class:`ContainerSpec`,
    its strings rendered by ``text``."""

    def argv(key: str) -> tuple[str, ...]:
        written = container.get(key)
        if written is None:
            return ()
        if isinstance(written, str):
            return tuple(shlex.split(text(written, (*at, key))))
        items = []
        for index, item in enumerate(written):
            rendered = text(item, (*at, key, index))
            if rendered or not (isinstance(item, str) and has_template(item)):
                items.append(rendered)
        return tuple(items)

    env = {
        entry["name"]: text(entry["value"], (*at, "env", index, "value"))
        for index, entry in enumerate(container.get("env") or [])
        if entry.get("value") is not None
    }
    image = container.get("image")
    working_dir = container.get("workingDir")
    return ContainerSpec(
        image=text(image, (*at, "image")) if image is not None else None,
        command=argv("command"),
        args=argv("args"),
        env=env,
        working_dir=text(working_dir, (*at, "workingDir")) if working_dir is not None else None,
        resources=_render_tree(container.get("resources") or {}, (*at, "resources"), text),
    )


def _render_tree(value: Any, path: PathKey, text: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _render_tree(item, (*path, key), text) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_tree(item, (*path, index), text) for index, item in enumerate(value)]
    if isinstance(value, str):
        return text(value, path)
    return value


def _relative(positions: Mapping[PathKey, Position], prefix: PathKey) -> dict[PathKey, Position]:
    depth = len(prefix)
    return {path[depth:]: position for path, position in positions.items() if path[:depth] == prefix}


def _termination(
    operation: Mapping[str, Any] | None, component: Mapping[str, Any] | None
) -> TerminationSpec | None:
    if not operation and not component:
        return None
    merged = {
        **(component or {}),
        **{key: value for key, value in (operation or {}).items() if value is not None},
    }
    return TerminationSpec(
        max_retries=merged.get("maxRetries"),
        timeout=merged.get("timeout"),
        ttl=merged.get("ttl"),
        culling_timeout=(merged.get("culling") or {}).get("timeout"),
        probe=merged.get("probe"),
    )
