"""``polyaxon plugins list`` and ``polyaxon plugins check`` over a given plugin manager."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner, Result

from polyaxon_core.cli import cli
from polyaxon_core.plugins import PluginManager

MakeManager = Callable[..., PluginManager]
UseManager = Callable[[PluginManager], None]

MIXED = [
    ("notifier-broken", "fails_on_import"),
    ("notifier-events", "events:first"),
    ("store-alpha", "kinds:alpha"),
    ("store-beta", "kinds:beta"),
]


def invoke(*args: str) -> Result:
    return CliRunner(env={"COLUMNS": "250"}).invoke(cli, ["plugins", *args])


def listed(result: Result) -> dict[str, dict[str, Any]]:
    assert result.exit_code == 0, result.output
    return {entry["name"]: entry for entry in json.loads(result.stdout)}


def test_list_as_json_describes_every_plugin(
    make_manager: MakeManager, use_manager: UseManager
) -> None:
    use_manager(make_manager(MIXED, disabled=["store-beta"]))

    plugins = listed(invoke("list", "-o", "json"))

    assert list(plugins) == ["notifier-broken", "notifier-events", "store-alpha", "store-beta"]
    assert plugins["store-alpha"] == {
        "name": "store-alpha",
        "distribution": None,
        "version": None,
        "module": "polyaxon_sample_plugins.kinds:alpha",
        "hooks": [
            "polyaxon_register_builders", "polyaxon_register_hubs", "polyaxon_register_notifiers",
            "polyaxon_register_optimizers", "polyaxon_register_schedulers",
            "polyaxon_register_services", "polyaxon_register_stores",
        ],
        "status": "ok",
        "reason": None,
        "contributes": {
            kind: {"alpha": f"The alpha {kind}."}
            for kind in ["scheduler", "builder", "optimizer", "store", "service", "notifier", "hub"]
        },
    }
    assert plugins["notifier-events"]["contributes"] == {}
    assert plugins["notifier-events"]["hooks"] == [
        "polyaxon_on_run_created", "polyaxon_on_run_done",
        "polyaxon_on_run_metrics_logged", "polyaxon_on_run_status_changed",
    ]
    assert (plugins["store-beta"]["status"], plugins["store-beta"]["hooks"]) == ("disabled", [])
    assert plugins["notifier-broken"]["status"] == "broken"
    assert plugins["notifier-broken"]["reason"].startswith("RuntimeError: licence server")


def table_rows(output: str) -> dict[str, list[str]]:
    """First-column value -> the row's cells, cells spread over several lines joined."""
    rows: dict[str, list[str]] = {}
    current: list[str] = []
    for line in output.replace("┃", "│").splitlines():
        if not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.strip("│").split("│")]
        if cells[0]:
            current = rows.setdefault(cells[0], cells)
        else:
            current[:] = [" ".join(filter(None, pair)) for pair in zip(current, cells, strict=True)]
    return rows


def test_list_as_a_table_shows_provides_and_status(
    make_manager: MakeManager, use_manager: UseManager
) -> None:
    use_manager(make_manager(MIXED, disabled=["store-beta"]))

    result = invoke("list")

    assert result.exit_code == 0
    rows = table_rows(result.output)
    assert rows["Plugin"] == ["Plugin", "Distribution", "Provides", "Hooks", "Status"]
    name, package, provides, hooks, status = rows["store-alpha"]
    assert package == "polyaxon_sample_plugins.kinds:alpha"
    assert provides == (
        "builder: alpha — The alpha builder. hub: alpha — The alpha hub. "
        "notifier: alpha — The alpha notifier. "
        "optimizer: alpha — The alpha optimizer. scheduler: alpha — The alpha scheduler. "
        "service: alpha — The alpha service. store: alpha — The alpha store."
    )
    assert hooks.split() == listed(invoke("list", "-o", "json"))["store-alpha"]["hooks"]
    assert status == "ok"
    assert rows["store-beta"][4] == "disabled"
    assert rows["notifier-broken"][4].startswith(
        "broken: RuntimeError: licence server unreachable"
    )


def test_list_with_no_plugin_says_what_to_install(
    make_manager: MakeManager, use_manager: UseManager
) -> None:
    use_manager(make_manager([]))

    result = invoke("list")

    assert result.exit_code == 0
    assert "No plugins installed" in result.output
    assert "pip install polyaxon-schedulers" in result.output


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("bad_contributions:non_class",
         "polyaxon_register_stores returned 's3', which is not a subclass of ArtifactStore"),
        ("bad_contributions:raises", "polyaxon_register_stores raised KeyError: 'bucket'"),
        ("bad_contributions:nameless",
         "polyaxon_register_stores returned NamelessStore without a `name` to select it by"),
    ],
    ids=["not-a-class", "raises", "no-name"],
)
def test_a_contribution_hook_with_an_unusable_answer_is_listed_as_broken(
    make_manager: MakeManager, use_manager: UseManager, target: str, reason: str
) -> None:
    use_manager(make_manager([("store-bad", target)]))

    plugins = listed(invoke("list", "-o", "json"))

    assert (plugins["store-bad"]["status"], plugins["store-bad"]["reason"]) == ("broken", reason)


def test_check_passes_with_a_one_line_summary(
    make_manager: MakeManager, use_manager: UseManager
) -> None:
    use_manager(make_manager(MIXED[1:], disabled=["store-beta"]))

    result = invoke("check")

    assert (result.exit_code, result.output) == (0, "2 plugins ok, 1 disabled\n")


def test_check_fails_listing_every_broken_plugin_with_its_fix(
    make_manager: MakeManager, use_manager: UseManager
) -> None:
    use_manager(make_manager([*MIXED, ("store-bad", "bad_contributions:raises")]))

    result = invoke("check")

    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].startswith(
        "notifier-broken (polyaxon_sample_plugins.fails_on_import): "
        "RuntimeError: licence server unreachable ("
    )
    assert result.stdout.splitlines()[1:] == [
        "  fix: fix the module polyaxon_sample_plugins.fails_on_import, "
        "or turn it off with POLYAXON_DISABLE_PLUGINS=notifier-broken",
        "store-bad (polyaxon_sample_plugins.bad_contributions:raises): "
        "polyaxon_register_stores raised KeyError: 'bucket'",
        "  fix: fix the module polyaxon_sample_plugins.bad_contributions:raises, "
        "or turn it off with POLYAXON_DISABLE_PLUGINS=store-bad",
    ]
    assert result.stderr == "Error: 2 of 5 plugins broken\n"


def test_check_passes_once_the_broken_plugins_are_disabled(
    make_manager: MakeManager, use_manager: UseManager
) -> None:
    use_manager(make_manager(MIXED, disabled=["notifier-broken"]))

    result = invoke("check")

    assert (result.exit_code, result.output) == (0, "3 plugins ok, 1 disabled\n")


def test_the_cli_imports_no_plugin_machinery_until_a_plugins_command_runs() -> None:
    probe = (
        "import sys\n"
        "from polyaxon_core.cli import cli\n"
        "import polyaxon_core.cli.plugins\n"
        "loaded = sorted(name for name in ('pluggy', 'polyaxon_core.plugins') if name in sys.modules)\n"
        "print(loaded)\n"
    )
    output = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True).stdout
    assert output == "[]\n"
