"""The API does what its OpenAPI schema says: schemathesis against the served schema.

Every operation of ``/api/schema/`` gets generated requests (valid and invalid ones) with
an Administrator's token; each answer must not be a server error, must carry a status the
schema documents, and must match the documented body. The example count per operation
is bounded so the run stays a small part of CI's time.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from campaigns.models import Campaign
from crm.db import is_postgresql
from crm.tokens import api_token_create
from tests.api import tally
from tests.crm.factories import CustomerFactory

EXAMPLES_PER_OPERATION = 20
# The requests come from a fixed seed (derandomize), so both runs of the suite would send
# the very same ones. The explicit phase (the schema's examples and schemathesis' coverage
# cases: the boundary, missing and wrong-typed values of each parameter) runs on both.
# The random requests after it run once, on PostgreSQL: the database production runs, and
# the stricter one (their NUL bytes are text PostgreSQL refuses and SQLite stores).
PHASES = [Phase.explicit, Phase.generate] if is_postgresql() else [Phase.explicit]


@pytest.fixture
def wsgi_app(db):
    """The served app, in process, inside the test's transaction.

    Django closes the database connection at the end of each request it serves; the test
    client stops that, and so must a real WSGI call made within one test's transaction.
    """
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from crm.wsgi import application

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield application
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def admin_token(administrator):
    # Something to find: a profile and a campaign, whatever ids the fuzzer tries.
    CustomerFactory(name="Dana Reyes")
    Campaign.objects.create(name="Atlanta realtors")
    # A key as integrators hold them today (crm/tokens.py): found by its digest in one query.
    return api_token_create(user=administrator, name="schemathesis")[1]


def _served_schema() -> schemathesis.BaseSchema:
    # Loaded at collection: serving the schema reads no table.
    from crm.wsgi import application

    return schemathesis.openapi.from_wsgi("/api/schema/", application)


schema = _served_schema()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    phases=PHASES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_as_its_schema_says(case, wsgi_app, admin_token):
    tally.requests += 1
    case.call_and_validate(
        headers={"Authorization": f"Token {admin_token}"},
        checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
    )
