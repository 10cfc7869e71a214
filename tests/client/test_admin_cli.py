"""`polyaxon admin` and `polyaxon teams`: through a server's API as the logged-in user,
and on the local database as the local administrator."""

from __future__ import annotations

import json
import uuid as uuid_module
from pathlib import Path
from typing import Any

import pytest

from tests.client.conftest import PASSWORD, Deployment, _base_env, _cli


def as_json(result: Any) -> Any:
    return json.loads(result.stdout)


def fresh(prefix: str) -> str:
    return f"{prefix}{uuid_module.uuid4().hex[:8]}"


def test_an_owner_administers_users_and_tokens_through_the_server(deployment: Deployment) -> None:
    cli, name = deployment.cli, fresh("bob")
    created = cli("admin", "create-user", name, "--role", "member", "--email",
                  f"{name}@example.org", "--password-stdin", input=f"{PASSWORD}\n")
    assert created.stdout.strip() == f"User '{name}' created (member)."
    token = deployment.token(name)
    users = {user["username"]: user for user in as_json(cli("admin", "users", "-o", "json"))["results"]}
    assert users[name]["role"] == "member" and users["ada"]["role"] == "owner"

    assert cli("admin", "set-role", name, "viewer").stdout.strip() == f"User '{name}' (viewer)."
    listed = as_json(cli("admin", "tokens", "--user", name, "-o", "json"))
    assert listed["count"] == 1 and token not in json.dumps(listed)
    assert listed["results"][0]["prefix"] == token[:8]

    refused = cli("admin", "deactivate", name, check=False)  # no terminal, no -y
    assert refused.returncode == 1 and "-y" in refused.stderr
    assert cli("admin", "deactivate", name, "-y").stdout.strip() == f"User '{name}' (viewer, deactivated)."
    assert as_json(cli("admin", "tokens", "--user", name, "-o", "json"))["count"] == 0
    cli("admin", "reactivate", name)
    cli("admin", "set-password", name, "--password-stdin", input="a brand new passphrase\n")
    from polyaxon_core.client import ApiClient

    assert ApiClient(deployment.url).create_token(name, "a brand new passphrase")
    weak = cli("admin", "set-password", name, "--password-stdin", input="password123\n", check=False)
    assert weak.returncode == 1 and "most common" in weak.stderr and "Traceback" not in weak.stderr

    events = as_json(cli("admin", "audit", "--actor", "ada", "-o", "json"))["results"]
    mine = [event["event"] for event in reversed(events) if event["target"] == f"user:{name}"]
    assert mine == ["user.created", "organization.role_changed", "user.deactivated",
                    "user.reactivated", "user.password_changed"]
    assert all(event["address"] == "127.0.0.1" for event in events)
    table = cli("admin", "audit", "--event", "user.created").stdout
    assert "user.created" in table and "ada" in table


def test_the_server_applies_the_hierarchy_to_a_managers_cli(deployment: Deployment,
                                                            tmp_path: Path) -> None:
    manager = fresh("max")
    deployment.create_user(manager, "manager")
    env = {**_base_env(tmp_path), "POLYAXON_HOST": deployment.url,
           "POLYAXON_AUTH_TOKEN": deployment.token(manager)}
    as_manager = _cli(env)
    refused = as_manager("admin", "set-role", "ada", "viewer", check=False)
    assert refused.returncode == 1
    assert "may not change the user ada" in refused.stderr
    audit = as_manager("admin", "audit", check=False)
    assert audit.returncode == 1 and "users.manage" in audit.stderr


def test_teams_through_the_server(deployment: Deployment, project: str) -> None:
    cli, team, member = deployment.cli, fresh("crew-"), fresh("mia")
    deployment.create_user(member, "viewer")
    cli("teams", "create", team, "--description", "trainers")
    cli("teams", "add-member", team, member)
    assert cli("teams", "grant", team, "-p", project, "--role", "member").stdout.strip() == \
        f"Team '{team}' is member on project '{project}'."
    shown = as_json(cli("teams", "get", team, "-o", "json"))
    assert (shown["members"], shown["projects"]) == ([member], {project: "member"})
    roles = deployment.client(member).whoami()["project_roles"]
    assert roles == {f"default/{project}": "member"}
    cli("teams", "revoke", team, "-p", project)
    assert deployment.client(member).whoami()["project_roles"] == {}
    assert team in cli("teams", "ls").stdout
    cli("teams", "delete", team, "-y")
    missing = cli("teams", "get", team, check=False)
    assert missing.returncode == 1 and f"no team named '{team}'" in missing.stderr


def test_the_local_administrator_works_on_the_database(tmp_path: Path) -> None:
    local = _cli(_base_env(tmp_path))
    local("admin", "create-user", "olivia", "--role", "owner", "--password-stdin",
          input=f"{PASSWORD}\n")
    local("admin", "create-user", "ada", "--password-stdin", input=f"{PASSWORD}\n")
    last = local("admin", "set-role", "olivia", "manager", check=False)
    assert last.returncode == 1 and "last owner of the organization" in last.stderr
    local("project", "create", "mnist")
    local("teams", "create", "crew")
    local("teams", "add-member", "crew", "ada")
    local("teams", "grant", "crew", "-p", "mnist", "--role", "admin")
    assert as_json(local("teams", "ls", "-o", "json"))["results"][0]["projects"] == {"mnist": "admin"}
    local("admin", "deactivate", "ada", "-y")
    users = {u["username"]: u for u in as_json(local("admin", "users", "-o", "json"))["results"]}
    assert users["ada"]["is_active"] is False
    events = as_json(local("admin", "audit", "-o", "json"))["results"]
    assert [e["event"] for e in reversed(events)] == [
        "user.created", "user.created", "team.created", "team.member_changed",
        "team.project_changed", "user.deactivated"]
    assert {e["actor"] for e in events} == {None}
    unknown = local("admin", "revoke-token", "12345", check=False)
    assert unknown.returncode == 1 and "no token with id 12345" in unknown.stderr


@pytest.mark.parametrize("args", [("admin", "audit", "--event", "login.maybe"),
                                  ("teams", "grant", "crew", "-p", "x", "--role", "emperor")])
def test_bad_arguments_are_usage_errors(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = _cli(_base_env(tmp_path))(*args, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_project_members_through_the_server(deployment: Deployment, project: str) -> None:
    cli, member = deployment.cli, fresh("pia")
    deployment.create_user(member, "viewer")
    added = cli("project", "members", "add", member, "-p", project, "--role", "admin")
    assert added.stdout.strip() == f"{member} is admin on project '{project}'."
    listed = as_json(cli("project", "members", "ls", project, "-o", "json"))["results"]
    assert {(row["user"], row["role"]) for row in listed} == {("ada", "owner"), (member, "admin")}
    last = cli("project", "members", "rm", "ada", "-p", project, check=False)
    assert last.returncode == 1 and "last owner of project" in last.stderr
    cli("project", "members", "rm", member, "-p", project)
    again = cli("project", "members", "rm", member, "-p", project, check=False)
    assert again.returncode == 1 and f"{member} is not a member" in again.stderr
    events = as_json(cli("admin", "audit", "--event", "project.member_changed", "-o", "json"))
    mine = [e["detail"] for e in reversed(events["results"]) if e["target"] == f"project:default/{project}"]
    assert mine == [{"user": member, "role_before": None, "role_after": "admin"},
                    {"user": member, "role_before": "admin", "role_after": None}]


def test_project_members_on_the_local_database(tmp_path: Path) -> None:
    local = _cli(_base_env(tmp_path))
    local("admin", "create-user", "ada", "--password-stdin", input=f"{PASSWORD}\n")
    local("project", "create", "mnist")
    local("project", "members", "add", "ada", "-p", "mnist", "--role", "owner")
    assert local("project", "members", "ls", "mnist").stdout.count("ada") == 1
    last = local("project", "members", "rm", "ada", "-p", "mnist", check=False)
    assert last.returncode == 1 and "last owner" in last.stderr


def test_queues_through_the_server_for_admins_and_read_only_for_members(
    deployment: Deployment, tmp_path: Path
) -> None:
    cli, queue, member = deployment.cli, fresh("gpu-"), fresh("mia")
    assert cli("queues", "set", queue, "--priority", "7").stdout.strip() == (
        f"Queue '{queue}': priority 7, concurrency 2.")
    assert cli("queues", "set", queue, "--concurrency", "3").stdout.strip() == (
        f"Queue '{queue}': priority 7, concurrency 3.")
    deployment.create_user(member, "member")
    as_member = _cli({**_base_env(tmp_path), "POLYAXON_HOST": deployment.url,
                      "POLYAXON_AUTH_TOKEN": deployment.token(member)})
    listed = {row["name"]: row for row in as_json(as_member("queues", "ls", "-o", "json"))["results"]}
    assert (listed[queue]["priority"], listed[queue]["waiting"]) == (7, 0)
    refused = as_member("queues", "set", queue, "--priority", "99", check=False)
    assert refused.returncode == 1 and "queues.manage" in refused.stderr
    cli("queues", "delete", queue)
    assert queue not in cli("queues", "ls").stdout
