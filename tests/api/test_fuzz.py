"""Fuzzing the OpenAPI document with schemathesis and all its checks: no server error,
no answer the document does not describe (status, content type, headers, body), valid
input accepted and invalid input refused, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import hypothesis
import schemathesis
import schemathesis.specs.openapi.checks  # registers the OpenAPI checks
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from schemathesis.checks import CHECKS as REGISTERED_CHECKS
from schemathesis.generation import GenerationMode

from polyaxon_core.api.app import create_app
from polyaxon_core.config import Settings
from tests.api.conftest import JOB, Account, MakeUser, create_run, finish

#: every check schemathesis has: server errors, conformance of statuses, content types,
#: headers and bodies to the document, and whether valid input is accepted, invalid input
#: refused, authentication enforced, deleted resources gone
CHECKS = REGISTERED_CHECKS.get_all()
EXAMPLES_PER_OPERATION = 25

# the languages the document names as formats: what valid texts of them look like
schemathesis.openapi.format("polyaxon-query", st.sampled_from([
    "status:succeeded", "status:running|queued, metrics.loss:<0.1", "name:%job%",
    "(tags:api OR inputs.sleep:>1) AND created_at:>=2026-01-01", "status:~failed"]))
schemathesis.openapi.format("polyaxon-sort", st.sampled_from([
    "-created_at", "name,-metrics.accuracy", "-updated_at,inputs.sleep"]))
schemathesis.openapi.format("polyaxonfile", st.just(JOB))


def test_fuzzing_finds_no_server_error_and_no_answer_outside_the_document(
    settings: Settings, make_user: MakeUser, new_token: Callable[[str], Account], project: str
) -> None:
    app = create_app(settings, max_upload_bytes=4096)
    client = app.test_client()
    owner = make_user("olivia", organization_role="owner")
    create_run(client, owner)
    finished = create_run(client, owner)
    finish(settings, finished["uuid"])
    known = {"owner": "default", "project": "p", "uuid": finished["uuid"], "namespace": "local",
             "user": "olivia"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    # no text may hold NUL (PostgreSQL cannot store it; test_malformed_input checks the
    # 400), which JSON Schema cannot say of free-form objects such as `meta_info`;
    # credentials are ours to send (a fresh token each time, below)
    schema.config.generation.update(allow_x00=False, with_security_parameters=False)
    # texts of the query language (formats above) cannot be described by JSON Schema, so
    # no strings taken from the source code are put in them as "valid"
    schema.config.analysis.constants.enabled = False
    # a polyaxonfile's rules and a password's are beyond JSON Schema: a valid document may
    # still be an invalid polyaxonfile or a refused password, which is a 422
    acceptance = schema.config.checks.positive_data_acceptance
    acceptance.expected_statuses = [*acceptance.expected_statuses, "422"]
    failures: list[str] = []
    operations = 0
    answered: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hypothesis.settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                                 derandomize=True, suppress_health_check=list(HealthCheck),
                                 phases=[hypothesis.Phase.generate])
            @given(case=operation.as_strategy(generation_mode=mode), use_known=st.booleans())
            def call(case: schemathesis.Case, use_known: bool) -> None:
                if use_known:  # half of the cases aim at resources that exist
                    case.path_parameters = {
                        name: known.get(name, value)
                        for name, value in (case.path_parameters or {}).items()}
                # a fresh token each time: a fuzzed DELETE /users/token revokes the one used
                response = case.call_and_validate(headers=new_token("olivia").headers, checks=CHECKS)
                answered[response.status_code] += 1

            try:
                call()
            except hypothesis.errors.Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to get wrong: no parameters
            except (Exception, BaseExceptionGroup) as failure:  # collect all, then report
                failures.append(f"{operation.label} ({mode}): {failure}")
    assert not failures, "\n\n".join(failures)
    assert operations >= 30 and len(CHECKS) >= 14, CHECKS
    # the requests reached the views, not only the input checks
    assert {200, 201, 204, 400, 404, 409} <= set(answered), answered
