"""The app honours its own OpenAPI document: schemathesis fuzzes every operation.

For every operation, on SQLite and on PostgreSQL: bounded, derandomized examples (valid ones, then
invalid ones), sent in-process to an app on a database seeded with one clinic. Requests carry the
clinic's bearer token (the admin's on ``/institutions``), and are steered towards the clinic: the
``subdomain`` is mostly the clinic's and ids are often ids that exist, so most requests reach the
handlers instead of stopping at 403/404. Every response must be no 5xx, no 422, a documented
status, with the documented content type and body schema.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.python import asgi as schemathesis_asgi
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from carebook.app import create_app
from carebook.config import Settings
from carebook.db.tables import Institution, Patient, Provider
from tests.conftest import _empty_all_tables
from tests.support import ADMIN_KEY, Api, Clinic

# Examples per operation and generation mode: ~60 operations x 32 requests per database.
EXAMPLES = {GenerationMode.POSITIVE: 24, GenerationMode.NEGATIVE: 8}
STEER = [True, True, True, False]  # how often a steerable field is steered
SECRET = "contract-secret-key-that-is-long-enough-for-hs256"

# The operations, read from a database-less app (building the document needs no database).
_DOCUMENT = create_app(Settings(database_url="sqlite:///unused.db")).openapi()
OPERATIONS = [
    f"{method.upper()} {path}"
    for path, item in _DOCUMENT["paths"].items()
    for method in item
    if method in {"get", "post", "put", "patch", "delete"}
]


def no_422(ctx: Any, response: Any, case: Any) -> bool:
    """FastAPI's validation errors are answered as 400, never as 422."""
    del ctx, case
    assert response.status_code != 422, "answered 422: validation errors must be 400"
    return True


CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    no_422,
]


@dataclass
class Seeded:
    """The clinic every request is steered towards: its tokens and the ids that exist."""

    clinic: Clinic
    admin_token: str
    ids: dict[str, list[Any]] = field(default_factory=dict)

    def pool(self, name: str) -> list[Any] | None:
        key = name.removesuffix("[]")
        if key in self.ids:
            return self.ids[key]
        if key.endswith("_id") or key.endswith("_ids"):
            return [1, 2, 3]  # rows the run itself created
        return None


SOON = datetime(2071, 1, 12, 15, 0, tzinfo=UTC)


def _plausible(path: str) -> dict[str, list[Any]]:
    """Valid values for fields whose rules the document states only in words (a time zone name,
    an HH:MM time, ...), so that some requests get past validation and into the core."""
    # A fixed instant, so that a derandomized run draws the same examples on any day and a
    # failure reproduces: far ahead (a booking must be in the future for decades), a Monday
    # (inside weekday hours), and mid-January, weeks from any DST change in the zones offered.
    soon = SOON
    instants = [soon.isoformat(), (soon + timedelta(minutes=30)).isoformat()]
    clock = ["09:00", "17:00"] if "working_hours" in path or "availabilities" in path else None
    dates = [soon.date().isoformat(), (soon + timedelta(days=1)).date().isoformat()]
    return {
        "name": ["Cleaning", "Dr Who"],
        "first_name": ["Ann"],
        "last_name": ["Lee"],
        "code": ["D1110"],
        "descriptor_type": ["Appointment Type"],
        "subdomain": ["new-clinic", "b2"] if path.startswith("/institutions") else [],
        "tz": ["America/New_York", "Europe/Berlin", "UTC"],
        "email": ["ann@example.com"],
        "phone_number": ["5550001234"],
        "date_of_birth": ["1980-01-02"],
        "gender": ["Female"],
        "currency": ["USD"],
        "npi": ["1234567893"],
        "unit": ["day", "week"],
        "minutes": [30, 60],
        "days": [["Monday", "Friday"]] if clock else [1, 7],
        "begin_time": clock or instants,
        "end_time": clock[::-1] if clock else instants[::-1],
        "start_time": instants,
        "start": instants,
        "end": instants[::-1],
        "start_date": dates,
        "end_date": dates[::-1],
        "specific_date": dates,
        "AppointmentOn": instants,
        "FromDate": dates,
        "ToDate": dates[::-1],
    }


@dataclass
class Contract:
    schema: Any
    seeded: Seeded


async def _seed(app_settings: Settings) -> Seeded:
    await _empty_all_tables(app_settings.async_database_url)
    app = create_app(app_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://carebook.test") as c:
            api = Api(client=c, app=app)
            clinic = await api.clinic("contract")
            admin_token = await api.token(ADMIN_KEY)

            async def guids(session: AsyncSession) -> dict[str, list[uuid.UUID]]:
                iid = clinic.institution_id
                return {
                    "AccountId": list(
                        await session.scalars(select(Institution.guid).where(Institution.id == iid))
                    ),
                    "ProviderId": list(
                        await session.scalars(
                            select(Provider.guid).where(Provider.institution_id == iid)
                        )
                    ),
                    "PatientId": list(
                        await session.scalars(
                            select(Patient.guid).where(Patient.institution_id == iid)
                        )
                    ),
                }

            async with api.db.read() as session:
                by_guid = await guids(session)
    locations = [clinic.location_id, clinic.op_location_id]
    ids: dict[str, list[Any]] = {
        "location_id": locations,
        "lids": locations,
        "provider_id": clinic.provider_ids,
        "provider_ids": clinic.provider_ids,
        "pids": clinic.provider_ids,
        "operatory_id": clinic.operatory_ids,
        "operatory_ids": clinic.operatory_ids,
        "patient_id": clinic.patient_ids,
        "patient_ids": clinic.patient_ids,
        "appointment_type_id": [clinic.appointment_type_id],
        **{key: [str(guid) for guid in guids] for key, guids in by_guid.items()},
    }
    return Seeded(clinic=clinic, admin_token=admin_token, ids=ids)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def contract(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Contract]:
    """The app on a seeded database, and its OpenAPI document loaded by schemathesis."""
    database_url: str = request.getfixturevalue(f"{request.param}_url")
    app_settings = Settings(
        database_url=database_url,
        admin_api_key=ADMIN_KEY,
        secret_key=SECRET,
        var_dir=Path(tmp_path_factory.mktemp("contract")) / "var",
        pool_size=5,
    )
    seeded = asyncio.run(_seed(app_settings))
    app = create_app(app_settings)
    try:
        yield Contract(schema=schemathesis.openapi.from_asgi("/openapi.json", app), seeded=seeded)
    finally:
        # schemathesis started the app's lifespan; stop it (closing its pool) before the
        # session drops the database.
        schemathesis_asgi.shutdown_lifespans()


def _steer(
    value: Any, seeded: Seeded, plausible: dict[str, list[Any]], data: st.DataObject, depth: int = 0
) -> Any:
    """Point id-like keys of a mapping (and of nested mappings) at existing rows, and other keys
    at plausible values, sometimes."""
    if not isinstance(value, dict) or depth > 2:
        return value
    # Bookings and hours need fields the document leaves optional: add them, sometimes.
    wanted = {
        "start_time": ["patient_id", "provider_id", "end_time"],
        "begin_time": ["provider_id", "days"],
    }
    for anchor, names in wanted.items():
        for name in names:
            if anchor in value and name not in value:
                value[name] = None
    for key in list(value):
        pool = seeded.pool(str(key)) or plausible.get(str(key).removesuffix("[]")) or None
        if pool is not None and data.draw(st.sampled_from(STEER), label=f"steer {key}"):
            chosen = data.draw(st.sampled_from(pool), label=str(key))
            wrap = isinstance(value[key], list) and not isinstance(chosen, list)
            value[key] = [chosen] if wrap else chosen
        elif isinstance(value[key], dict):
            _steer(value[key], seeded, plausible, data, depth + 1)
        elif isinstance(value[key], list):
            for item in value[key]:
                _steer(item, seeded, plausible, data, depth + 1)
    return value


def _prepare(case: Any, seeded: Seeded, data: st.DataObject) -> None:
    """Authenticate the case and steer it towards the seeded clinic."""
    clinic = seeded.clinic
    plausible = _plausible(case.operation.path)
    headers = dict(case.headers or {})
    if case.operation.path == "/authenticates":
        if data.draw(st.booleans(), label="use the clinic's API key"):
            headers["authorization"] = clinic.api_key
    else:
        token = seeded.admin_token if case.operation.path.startswith("/institutions") else None
        headers["Authorization"] = f"Bearer {token or clinic.token}"
    case.headers = headers
    if isinstance(case.query, dict):
        if "subdomain" in case.query and data.draw(
            st.sampled_from([True] * 9 + [False]), label="the clinic's subdomain"
        ):
            case.query["subdomain"] = clinic.subdomain
        _steer(case.query, seeded, plausible, data)
    if isinstance(case.path_parameters, dict):
        _steer(case.path_parameters, seeded, plausible, data)
    _steer(case.body, seeded, plausible, data)


@pytest.mark.parametrize("mode", list(EXAMPLES), ids=lambda mode: mode.value)
@pytest.mark.parametrize("label", OPERATIONS)
def test_operation_honours_its_openapi_entry(
    contract: Contract, label: str, mode: GenerationMode
) -> None:
    method, path = label.split(" ", 1)
    operation = contract.schema[path][method]
    if mode is GenerationMode.NEGATIVE and not _can_be_invalid(operation.definition.raw):
        pytest.skip("no parameter or body that could be invalid")

    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    @settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    def run(case: Any, data: st.DataObject) -> None:
        _prepare(case, contract.seeded, data)
        case.call_and_validate(checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        # Only where schemathesis finds no way to make the request invalid (say, a lone
        # free-form header); every failed check still fails the test.
        if mode is not GenerationMode.NEGATIVE:
            raise
        pytest.skip("schemathesis cannot make an invalid request for this operation")


def _can_be_invalid(definition: dict[str, Any]) -> bool:
    return bool(definition.get("parameters") or definition.get("requestBody"))
