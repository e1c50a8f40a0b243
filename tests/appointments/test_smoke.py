from __future__ import annotations

import pytest

from tests.support import Api, future, iso_z

pytestmark = pytest.mark.anyio


async def test_book_and_get(api: Api) -> None:
    clinic = await api.clinic()
    start = future()
    body = {
        "appt": {
            "patient_id": clinic.patient_ids[0],
            "provider_id": clinic.provider_ids[0],
            "start_time": iso_z(start),
            "appointment_type_id": clinic.appointment_type_id,
        }
    }
    response = await api.client.post(
        f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}",
        json=body,
        headers=clinic.auth,
    )
    assert response.status_code == 201, response.text
    print(response.json())
    again = await api.client.post(
        f"/appointments?subdomain={clinic.subdomain}&location_id={clinic.location_id}",
        json=body,
        headers=clinic.auth,
    )
    assert again.status_code == 409, again.text
    print(again.json())
