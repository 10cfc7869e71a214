"""The API documents say what the code does: the roles table is permissions.py's."""

from __future__ import annotations

import re
from pathlib import Path

from polyaxon_core.permissions import ACTIONS, ORGANIZATION_ROLES, PROJECT_ROLES

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "api-contract.md"


def _roles_table() -> dict[str, set[str]]:
    """column (``organization owner``, ``project viewer``, ...) -> the actions ticked."""
    lines = [line for line in CONTRACT.read_text().splitlines() if line.startswith("| ")]
    header = next(line for line in lines if line.startswith("| action |"))
    columns = [cell.strip() for cell in header.strip("|").split("|")][1:]
    # "organization owner | manager | ... | project owner | ...": the kind is written once
    columns = [column if column.startswith(("organization ", "project ")) else
               f"organization {column}" for column in columns]
    granted: dict[str, set[str]] = {column: set() for column in columns}
    for line in lines[lines.index(header) + 1:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) != len(columns) + 1:
            break
        for action in re.findall(r"`([a-z.]+)`", cells[0]):
            for column, cell in zip(columns, cells[1:], strict=True):
                if cell == "✓":
                    granted[column].add(action)
    return granted


def test_the_contracts_roles_table_is_the_permissions_data() -> None:
    table = _roles_table()
    expected = {f"organization {role}": set(actions) for role, actions in ORGANIZATION_ROLES.items()}
    expected |= {f"project {role}": set(actions) for role, actions in PROJECT_ROLES.items()}
    assert table == expected
    assert set().union(*table.values()) == ACTIONS
