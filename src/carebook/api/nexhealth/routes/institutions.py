from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError
from sqlalchemy.ext.asyncio import AsyncSession

from carebook.api.kit.auth import PrincipalDep
from carebook.api.kit.state import DatabaseDep
from carebook.api.nexhealth.deps import IgnoredDep
from carebook.api.nexhealth.envelope import Envelope, PagedEnvelope, error_responses, ok
from carebook.api.nexhealth.schemas.common import (
    MAX_ID,
    PageDep,
    RequestModel,
    Str40,
    UtcInstant,
    no_nul,
    paged,
)
from carebook.core import tenancy
from carebook.core.errors import Forbidden, NotFound
from carebook.db.repositories import tenancy as repo
from carebook.db.tables import Institution

router = APIRouter(tags=["Institutions"])


class InstitutionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    guid: str
    name: str
    subdomain: str
    phone_number: str | None
    country_code: str
    created_at: UtcInstant
    updated_at: UtcInstant

    @classmethod
    def of(cls, institution: Institution) -> InstitutionOut:
        return cls(
            id=institution.id,
            guid=str(institution.guid),
            name=institution.name,
            subdomain=institution.subdomain,
            phone_number=institution.phone_number,
            country_code=institution.country_code,
            created_at=institution.created_at,
            updated_at=institution.updated_at,
        )


_COUNTRY_CODE = re.compile(r"[A-Z]{2}")  # ASCII only, the whole text


def _country_code(value: str) -> str:
    if not _COUNTRY_CODE.fullmatch(value):
        raise PydanticCustomError("country_code", "must be two capital letters")
    return value


class InstitutionIn(RequestModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(no_nul)]
    subdomain: Annotated[
        str, StringConstraints(min_length=1, max_length=63), AfterValidator(no_nul)
    ]
    phone_number: Str40 | None = None
    country_code: Annotated[str, AfterValidator(_country_code)] = Field(
        default="US", description="ISO 3166 two-letter code, in capitals."
    )


class InstitutionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    institution: InstitutionIn


@router.post(
    "/institutions",
    status_code=201,
    response_model=Envelope[InstitutionOut],
    responses=error_responses(400, 401, 403, 409),
    summary="Create an institution (admin key only)",
)
async def create_institution(
    body: InstitutionCreate, principal: PrincipalDep, db: DatabaseDep, ignored: IgnoredDep
) -> Envelope[InstitutionOut]:
    if not principal.is_admin:
        raise Forbidden("only the platform admin key may create institutions")
    fields = body.institution

    async def work(session: AsyncSession) -> InstitutionOut:
        created = await tenancy.create_institution(
            session,
            name=fields.name,
            subdomain=fields.subdomain,
            phone_number=fields.phone_number,
            country_code=fields.country_code,
        )
        return InstitutionOut.of(created)

    return ok(await db.write(work), count=1, ignored=ignored)


@router.get(
    "/institutions",
    response_model=PagedEnvelope[list[InstitutionOut]],
    responses=error_responses(400, 401),
    summary="The institutions this key reaches",
)
async def list_institutions(
    principal: PrincipalDep, db: DatabaseDep, page: PageDep, ignored: IgnoredDep
) -> PagedEnvelope[list[InstitutionOut]]:
    """Every institution for the admin key, else those the key is scoped to; ordered by id and
    paged by cursor like every other list (``count`` is the total)."""
    only = None if principal.is_admin else [i for _, i in principal.institutions]
    async with db.read() as session:
        found = await repo.page_of_institutions(session, only_ids=only, page=page)
    return paged(found, InstitutionOut.of, ignored=ignored)


@router.get(
    "/institutions/{institution_id}",
    response_model=Envelope[InstitutionOut],
    responses=error_responses(400, 401, 403, 404),
    summary="One institution",
)
async def get_institution(
    institution_id: Annotated[int, Path(ge=1, le=MAX_ID, description="The institution's id.")],
    principal: PrincipalDep,
    db: DatabaseDep,
    ignored: IgnoredDep,
) -> Envelope[InstitutionOut]:
    if not principal.can_reach(institution_id):
        raise NotFound("institution", institution_id)
    async with db.read() as session:
        institution = await repo.institution_by_id(session, institution_id)
    if institution is None:
        raise NotFound("institution", institution_id)
    return ok(InstitutionOut.of(institution), count=1, ignored=ignored)
