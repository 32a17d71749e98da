"""/api/v1/ endpoints of the activities app (tag "activities"): follow-ups (list with filters,
CRUD), follow-up kinds, tasks (list, create, update, complete, reopen) and "my day". Thin: reads
through `kehu.activities.selectors` (scoped), writes through `kehu.activities.services`; their
errors become the shared JSON error shape."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Query, Router, Status

from kehu.core.etag import if_match, set_etag
from kehu.customers.schemas import ErrorOut

from . import selectors, services
from .models import TaskStatus
from .schemas import (
    FollowUpCreateIn,
    FollowUpKindOut,
    FollowUpListQuery,
    FollowUpOut,
    FollowUpPage,
    FollowUpPatchIn,
    MyDayOut,
    TaskCreateIn,
    TaskListQuery,
    TaskOut,
    TaskPage,
    TaskPatchIn,
    followup_out,
    kind_out,
    task_out,
)

router = Router(tags=["activities"])

ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, Any] = {**ERRORS, 409: ErrorOut}
# Writes that honour If-Match (kehu.core.etag): 412 precondition_failed when it names a stale version.
GUARDED_ERRORS: dict[int, Any] = {**WRITE_ERRORS, 412: ErrorOut}


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _check_in(payload: Any) -> dict[str, Any] | None:
    return payload.check_in.dict() if payload.check_in is not None else None


# Follow-ups -------------------------------------------------------------------------------------


@router.get("/followup-kinds", response={200: list[FollowUpKindOut], **ERRORS})
def followup_kind_list(request: HttpRequest, include_inactive: bool = False):  # type: ignore[no-untyped-def]
    """Follow-up kinds in display order (active ones unless include_inactive)."""
    return [kind_out(k) for k in selectors.followup_kinds(active_only=not include_inactive)]


@router.get("/followups", response={200: FollowUpPage, **ERRORS})
def followup_list(request: HttpRequest, query: Query[FollowUpListQuery]):  # type: ignore[no-untyped-def]
    """Follow-ups on customers visible to the caller, newest first."""
    user = _user(request)
    filters = selectors.FollowUpFilter(customer=query.customer, opportunity=query.opportunity, kind=query.kind,
                                       owner=user.pk if query.mine else query.owner, date_from=query.date_from,
                                       date_to=query.date_to, q=query.q.strip())
    rows = selectors.followups_filtered(user=user, filters=filters)
    return {"items": [followup_out(f) for f in rows[query.offset:query.offset + query.limit]],
            "total": rows.order_by().count()}


@router.post("/followups", response={201: FollowUpOut, **WRITE_ERRORS})
def followup_create(request: HttpRequest, payload: FollowUpCreateIn):  # type: ignore[no-untyped-def]
    """Log a follow-up; `next_followup_at` creates a task for the caller due then."""
    user = _user(request)
    followup = services.followup_create(
        acting_user=user, customer_id=payload.customer, kind=payload.kind, content=payload.content,
        outcome=payload.outcome, occurred_at=payload.occurred_at, contact_ids=payload.contacts,
        opportunity_id=payload.opportunity, next_step=payload.next_step, next_followup_at=payload.next_followup_at,
        check_in=_check_in(payload))
    return Status(201, followup_out(selectors.followup_get(user=user, followup_id=followup.pk)))


def _followup(request: HttpRequest, followup_id: int, response: HttpResponse) -> dict[str, Any]:
    followup = selectors.followup_get(user=_user(request), followup_id=followup_id)
    set_etag(response, followup)
    return followup_out(followup)


@router.get("/followups/{int:followup_id}", response={200: FollowUpOut, **ERRORS})
def followup_detail(request: HttpRequest, followup_id: int, response: HttpResponse):  # type: ignore[no-untyped-def]
    """The ETag header names the version; send it back as If-Match when writing."""
    return _followup(request, followup_id, response)


@router.patch("/followups/{int:followup_id}", response={200: FollowUpOut, **GUARDED_ERRORS})
def followup_patch(request: HttpRequest, followup_id: int, payload: FollowUpPatchIn, response: HttpResponse):  # type: ignore[no-untyped-def]
    """Change the given fields only (author, admins and managers in scope). Stale `version` → 409,
    stale If-Match → 412."""
    user = _user(request)
    given = payload.dict(exclude_unset=True)
    body_version = given.pop("version", None)
    renames = {"contacts": "contact_ids", "opportunity": "opportunity_id"}
    data = {renames.get(k, k): v for k, v in given.items()}
    if "check_in" in data:
        data["check_in"] = _check_in(payload)
    with if_match(request, selectors.followups_visible(user=user), followup_id, body_version=body_version) as v:
        services.followup_update(acting_user=user, followup_id=followup_id, data=data, version=v)
    return _followup(request, followup_id, response)


@router.delete("/followups/{int:followup_id}", response={204: None, **GUARDED_ERRORS})
def followup_delete(request: HttpRequest, followup_id: int):  # type: ignore[no-untyped-def]
    with if_match(request, selectors.followups_visible(user=_user(request)), followup_id):
        services.followup_delete(acting_user=_user(request), followup_id=followup_id)
    return Status(204, None)


# Tasks ------------------------------------------------------------------------------------------


@router.get("/tasks", response={200: TaskPage, **ERRORS})
def task_list(request: HttpRequest, query: Query[TaskListQuery]):  # type: ignore[no-untyped-def]
    """Tasks visible to the caller (their own, their scope's, those they created), by due time."""
    user = _user(request)
    now = timezone.now()
    filters = selectors.TaskFilter(mine=query.mine, assignee=query.assignee, status=query.status,
                                   due_from=query.due_from, due_to=query.due_to, customer=query.customer,
                                   opportunity=query.opportunity, overdue=query.overdue, q=query.q.strip())
    rows = selectors.tasks_filtered(user=user, filters=filters, now=now)
    return {"items": [task_out(t, now) for t in rows[query.offset:query.offset + query.limit]],
            "total": rows.order_by().count()}


@router.post("/tasks", response={201: TaskOut, 200: TaskOut, **WRITE_ERRORS})
def task_create(request: HttpRequest, payload: TaskCreateIn):  # type: ignore[no-untyped-def]
    """Create a task (assigned to the caller unless `assignee`); an existing `source_key` returns
    the existing task with 200 instead of creating a second one."""
    user = _user(request)
    # The key as the service stores it (NUL out, trimmed, cut): a raw NUL is a DataError on PostgreSQL.
    key = (payload.source_key or "").replace("\x00", "").strip()[:200]
    existed = bool(key) and selectors.Task.objects.filter(source_key=key).exists()
    task = services.task_create(acting_user=user, assignee=payload.assignee or user.pk, title=payload.title,
                                due_at=payload.due_at, priority=payload.priority, description=payload.description,
                                customer_id=payload.customer, opportunity_id=payload.opportunity,
                                contract_id=payload.contract, source_key=payload.source_key)
    out = task_out(selectors.task_get(user=user, task_id=task.pk))
    return Status(200 if existed else 201, out)


def _task(request: HttpRequest, task_id: int, response: HttpResponse) -> dict[str, Any]:
    task = selectors.task_get(user=_user(request), task_id=task_id)
    set_etag(response, task)
    return task_out(task)


@router.get("/tasks/{int:task_id}", response={200: TaskOut, **ERRORS})
def task_detail(request: HttpRequest, task_id: int, response: HttpResponse):  # type: ignore[no-untyped-def]
    """The ETag header names the version; send it back as If-Match when writing."""
    return _task(request, task_id, response)


@router.patch("/tasks/{int:task_id}", response={200: TaskOut, **GUARDED_ERRORS})
def task_patch(request: HttpRequest, task_id: int, payload: TaskPatchIn, response: HttpResponse):  # type: ignore[no-untyped-def]
    """Change the given fields; `status` completes, reopens or cancels. Stale `version` → 409,
    stale If-Match → 412 (checked before the status change too)."""
    user = _user(request)
    given = payload.dict(exclude_unset=True)
    body_version = given.pop("version", None)
    status = given.pop("status", None)
    renames = {"customer": "customer_id", "opportunity": "opportunity_id", "contract": "contract_id"}
    data = {renames.get(k, k): v for k, v in given.items()}
    with if_match(request, selectors.tasks_visible(user=user), task_id, body_version=body_version) as version:
        if data:
            services.task_update(acting_user=user, task_id=task_id, data=data, version=version)
        if status:
            change = {TaskStatus.DONE: services.task_complete, TaskStatus.OPEN: services.task_reopen,
                      TaskStatus.CANCELLED: services.task_cancel}.get(status)  # type: ignore[call-overload]
            if change is None:
                from kehu.core.errors import ErrorCode, FieldError, ValidationFailed

                raise ValidationFailed([FieldError("status", ErrorCode.UNKNOWN_CHOICE, "unknown status")])
            change(acting_user=user, task_id=task_id)
    return _task(request, task_id, response)


@router.post("/tasks/{int:task_id}/complete", response={200: TaskOut, **GUARDED_ERRORS})
def task_complete(request: HttpRequest, task_id: int, response: HttpResponse):  # type: ignore[no-untyped-def]
    user = _user(request)
    with if_match(request, selectors.tasks_visible(user=user), task_id):
        services.task_complete(acting_user=user, task_id=task_id)
    return _task(request, task_id, response)


@router.post("/tasks/{int:task_id}/reopen", response={200: TaskOut, **GUARDED_ERRORS})
def task_reopen(request: HttpRequest, task_id: int, response: HttpResponse):  # type: ignore[no-untyped-def]
    user = _user(request)
    with if_match(request, selectors.tasks_visible(user=user), task_id):
        services.task_reopen(acting_user=user, task_id=task_id)
    return _task(request, task_id, response)


# My day -----------------------------------------------------------------------------------------


@router.get("/me/day", response={200: MyDayOut, **ERRORS})
def my_day(request: HttpRequest):  # type: ignore[no-untyped-def]
    """The caller's day: overdue and today's tasks and planned follow-ups, the next 7 days, customers
    about to return to the pool, instalments due within 7 days or overdue, contracts ending within 30 days."""
    user = _user(request)
    day = selectors.my_day(user=user)
    now = day.now

    def ref(obj: Any, name: str) -> dict[str, Any]:
        return {"id": obj.pk, "name": name}

    instalments = [{"id": i.pk, "contract": ref(i.contract, i.contract.number),
                    "customer": ref(i.contract.customer, i.contract.customer.name), "sequence": i.sequence,
                    "due_date": i.due_date, "amount": str(i.amount), "outstanding": str(i.outstanding),
                    "overdue": overdue}
                   for items, overdue in ((day.instalments_overdue, True), (day.instalments_due, False))
                   for i in items]
    return {
        "date": day.today,
        "overdue_tasks": [task_out(t, now) for t in day.overdue_tasks],
        "today_tasks": [task_out(t, now) for t in day.today_tasks],
        "overdue_followups": [task_out(t, now) for t in day.overdue_followups],
        "today_followups": [task_out(t, now) for t in day.today_followups],
        "upcoming": [task_out(t, now) for t in day.upcoming],
        "pool_reminders": [{"customer": ref(r.customer, r.customer.name), "pool": r.pool.name, "due_at": r.due_at}
                           for r in day.pool_reminders],
        "instalments": instalments,
        "contracts_expiring": [{"id": c.pk, "number": c.number, "title": c.title,
                                "customer": ref(c.customer, c.customer.name), "ends_on": c.ends_on}
                               for c in day.contracts_expiring],
        "done_today": day.done_today,
    }
