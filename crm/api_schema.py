"""The OpenAPI schema says what the API answers, errors included.

drf-spectacular documents the success of each operation; this schema class adds the
errors every view can answer, so a client (and the schemathesis run in the test suite)
knows them: 403 always (no or insufficient credentials: session authentication comes
first, so an anonymous request is a 403, not a 401), 404 for an operation whose path
names an object or that pages with a cursor, 400 for one that takes a body or query
parameters. A view that can also answer 409 says so with ``extend_schema``.
"""

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse

DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
# Each refused field (or "detail") with its reasons: DRF's validation answer.
FIELD_ERRORS = {
    "type": "object",
    "additionalProperties": {
        "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]
    },
}

BAD_REQUEST = OpenApiResponse(FIELD_ERRORS, description="Refused input: each field and why.")
FORBIDDEN = OpenApiResponse(DETAIL, description="Not signed in, or the role may not do this.")
NOT_FOUND = OpenApiResponse(DETAIL, description="No such object here (or an invalid cursor).")
CONFLICT = OpenApiResponse(DETAIL, description="A rule forbids it; the detail says which.")


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for code, response in self._error_responses().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, direction=direction)
        return responses

    def _error_responses(self) -> dict[str, OpenApiResponse]:
        errors = {"403": FORBIDDEN}
        paginated = self._is_list_view() and getattr(self.view, "pagination_class", None)
        if self.method != "GET" or paginated or self._get_filter_parameters():
            errors["400"] = BAD_REQUEST
        if "{" in self.path or paginated:
            errors["404"] = NOT_FOUND
        return dict(sorted(errors.items()))
