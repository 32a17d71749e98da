"""/api/v1/ endpoints of the privacy app (tag "privacy"): consents of a customer, withdrawal, the
personal-data export and erasure. Thin: selectors read, services write and check permission."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Query, Router, Status

from kehu.customers.schemas import ErrorOut

from . import selectors, services
from .models import Consent, Erasure
from .schemas import ConsentIn, ConsentOut, EraseIn, ErasureOut

router = Router(tags=["privacy"])

ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def consent_out(consent: Consent) -> ConsentOut:
    return ConsentOut(
        id=consent.pk, customer_id=consent.customer_id, contact_id=consent.contact_id, purpose=consent.purpose,
        granted=consent.granted, source=consent.source, recorded_at=consent.recorded_at,
        recorded_by_id=consent.recorded_by_id, withdrawn_at=consent.withdrawn_at, note=consent.note,
        active=consent.is_active,
    )


def erasure_out(erasure: Erasure) -> ErasureOut:
    return ErasureOut(id=erasure.pk, customer_id=erasure.customer_id, erased_at=erasure.erased_at,
                      erased_by_id=erasure.erased_by_id, counts=erasure.counts)


@router.get("/customers/{int:customer_id}/consents", response={200: list[ConsentOut], **ERRORS})
def consent_list(request: HttpRequest, customer_id: int):  # type: ignore[no-untyped-def]
    """The customer's consent records, newest first (withdrawn ones included)."""
    return [consent_out(c) for c in selectors.consents_for(user=_user(request), customer_id=customer_id)]


@router.post("/customers/{int:customer_id}/consents", response={201: ConsentOut, **ERRORS})
def consent_create(request: HttpRequest, customer_id: int, payload: ConsentIn):  # type: ignore[no-untyped-def]
    consent = services.consent_record(
        acting_user=_user(request), customer_id=customer_id, purpose=payload.purpose, source=payload.source,
        granted=payload.granted, contact_id=payload.contact_id, note=payload.note,
    )
    return Status(201, consent_out(consent))


@router.post("/consents/{int:consent_id}/withdraw", response={200: ConsentOut, **ERRORS})
def consent_withdraw(request: HttpRequest, consent_id: int):  # type: ignore[no-untyped-def]
    return consent_out(services.consent_withdraw(acting_user=_user(request), consent_id=consent_id))


@router.get("/customers/{int:customer_id}/personal-data", response={200: None, **ERRORS})
def personal_data(  # type: ignore[no-untyped-def]
    request: HttpRequest, customer_id: int, format: str = Query("json", pattern=r"^(json|xlsx)$")
):
    """Everything held about the customer (admins only), as JSON or XLSX."""
    return personal_data_response(user=_user(request), customer_id=customer_id, fmt=format)


@router.post("/customers/{int:customer_id}/erase", response={200: ErasureOut, **ERRORS})
def customer_erase(request: HttpRequest, customer_id: int, payload: EraseIn):  # type: ignore[no-untyped-def]
    """Anonymise the customer and its contacts (admins only; `confirmation` = the customer's name)."""
    erasure = services.customer_erase(acting_user=_user(request), customer_id=customer_id,
                                      confirmation=payload.confirmation)
    return erasure_out(erasure)


def personal_data_response(*, user: Any, customer_id: int, fmt: str) -> HttpResponse:
    body = services.personal_data_export(acting_user=user, customer_id=customer_id, fmt=fmt)
    content_type = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if fmt == "xlsx"
                    else "application/json; charset=utf-8")
    response = HttpResponse(body, content_type=content_type)
    name = f"kehu-personal-data-{customer_id}-{timezone.localtime().strftime('%Y%m%d-%H%M%S')}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
