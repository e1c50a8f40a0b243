"""/openapi.json describes the clinic routes: their real bodies and their errors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import Api

pytestmark = pytest.mark.anyio

ROUTES = {
    ("post", "/locations"): ("201", {"400", "401", "403"}),
    ("get", "/locations"): ("200", {"400", "401", "403"}),
    ("get", "/locations/{location_id}"): ("200", {"400", "401", "403", "404"}),
    ("patch", "/locations/{location_id}"): ("200", {"400", "401", "403", "404"}),
    ("post", "/providers"): ("201", {"400", "401", "403", "404"}),
    ("get", "/providers"): ("200", {"400", "401", "403", "404"}),
    ("get", "/providers/{provider_id}"): ("200", {"400", "401", "403", "404"}),
    ("patch", "/providers/{provider_id}"): ("200", {"400", "401", "403", "404"}),
    ("post", "/operatories"): ("201", {"400", "401", "403", "404"}),
    ("get", "/operatories"): ("200", {"400", "401", "403", "404"}),
    ("get", "/operatories/{operatory_id}"): ("200", {"400", "401", "403", "404"}),
    ("patch", "/operatories/{operatory_id}"): ("200", {"400", "401", "403", "404"}),
    ("post", "/patients"): ("201", {"400", "401", "403", "404"}),
    ("get", "/patients"): ("200", {"400", "401", "403", "404"}),
    ("get", "/patients/{patient_id}"): ("200", {"400", "401", "403", "404"}),
    ("post", "/appointment_types"): ("201", {"400", "401", "403", "404", "409"}),
    ("get", "/appointment_types"): ("200", {"400", "401", "403", "404"}),
    ("get", "/appointment_types/{appointment_type_id}"): ("200", {"400", "401", "403", "404"}),
    ("patch", "/appointment_types/{appointment_type_id}"): (
        "200",
        {"400", "401", "403", "404", "409"},
    ),
    ("delete", "/appointment_types/{appointment_type_id}"): ("200", {"400", "401", "403", "404"}),
    ("post", "/appointment_descriptors"): ("201", {"400", "401", "403", "404"}),
    ("get", "/locations/{location_id}/appointment_descriptors"): (
        "200",
        {"400", "401", "403", "404"},
    ),
    ("get", "/appointment_descriptors/{descriptor_id}"): ("200", {"400", "401", "403", "404"}),
    ("post", "/procedures"): ("201", {"400", "401", "403", "404"}),
    ("get", "/procedures"): ("200", {"400", "401", "403"}),
    ("get", "/procedures/{procedure_id}"): ("200", {"400", "401", "403", "404"}),
}


def schema_ref(response: dict[str, Any]) -> str:
    ref: str = response["content"]["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[-1]


async def test_openapi_describes_every_clinic_route_with_its_errors(api: Api) -> None:
    response = await api.client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    schemas = spec["components"]["schemas"]
    for (method, path), (success, failures) in ROUTES.items():
        operation = spec["paths"][path][method]
        responses = operation["responses"]
        assert failures | {"500", "503"} <= set(responses), (method, path)
        for status in failures | {"500", "503"}:
            assert schema_ref(responses[status]) == "ErrorEnvelope", (method, path, status)
        assert "Retry-After" in responses["503"]["headers"], (method, path)
        envelope = schemas[schema_ref(responses[success])]
        assert {"code", "description", "error", "data", "count"} <= set(envelope["properties"])
        if method == "get" and not path.endswith("}"):
            assert "page_info" in envelope["properties"], path
        params = {p["name"] for p in operation.get("parameters", [])}
        assert "subdomain" in params, (method, path)
    # Instants are documented as the strings they are.
    location = schemas["LocationOut"]["properties"]
    assert location["created_at"]["type"] == "string"
    assert location["created_at"]["format"] == "date-time"
    assert schemas["PatientBioIn"]["properties"]["date_of_birth"]["format"] == "date"


async def test_openapi_documents_no_422(api: Api) -> None:
    """Validation errors are answered as 400, which every route declares; FastAPI's default
    "422 Validation Error" entries (and their schemas) must not appear."""
    response = await api.client.get("/openapi.json")
    assert response.status_code == 200
    assert "422" not in response.text
    spec = response.json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert "ValidationError" not in spec["components"]["schemas"]
    without_input = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if operation.get("parameters") or "requestBody" in operation:
                assert "400" in operation["responses"], (method, path)
            else:  # nothing to validate, so never a 400
                without_input.append((method, path))
                assert "400" not in operation["responses"], (method, path)
    assert without_input == [("get", "/healthz")]
