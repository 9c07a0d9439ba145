"""The OpenAPI schema documents every problem answer with its media type and body."""

from __future__ import annotations

from fastapi.testclient import TestClient

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
# Under /fhir the errors are FHIR OperationOutcomes, and bad input is a 400 (not a 422).
OUTCOME = {"application/fhir+json": {"schema": {"$ref": "#/components/schemas/OperationOutcome"}}}


def test_every_operation_documents_its_problem_answers(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert schema["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "title",
        "status",
        "code",
        "detail",
    ]
    checked = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            expected = {"500"}
            if operation.get("security"):
                expected |= {"401", "429"}
            if "requestBody" in operation:
                expected |= {"400", "413", "422"}
            if any(p["in"] == "path" for p in operation.get("parameters", [])):
                expected |= {"404", "422"}
            fhir = path.startswith("/fhir/")
            if fhir:
                expected = (expected - {"422"}) | {"400", "406"}
                assert "422" not in responses, f"{method} {path}"
                errors = {s: r["content"] for s, r in responses.items() if int(s) >= 400}
                assert set(map(str, errors.values())) == {str(OUTCOME)}, f"{method} {path}"
            assert expected <= set(responses), f"{method} {path}"
            for status in expected:
                wanted = OUTCOME if fhir else PROBLEM
                assert responses[status]["content"] == wanted, f"{method} {path} {status}"
            if "429" in responses:
                assert "Retry-After" in responses["429"]["headers"]
            checked += 1
    assert checked >= 50
    cases = schema["paths"]["/api/v1/cases/{case_id}/events"]["post"]["responses"]
    for status in ("409", "412", "428"):  # the route's own problems keep their descriptions
        assert cases[status]["content"] == PROBLEM
        assert cases[status]["description"]
