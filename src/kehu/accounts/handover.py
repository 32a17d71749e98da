"""Handing a leaving employee's records over (`user_deactivate`).

Each kind of record has a handler that moves one user's records through its own app's services, so
every move is checked, versioned, audited and indexed exactly like a move made by hand. The handlers
live here (imported lazily: accounts sits below the business apps) in a small registry, so an app
can register its own handler from its AppConfig.ready() instead:

    from kehu.accounts.handover import register_handler
    register_handler("contracts", my_handler)
    # my_handler(*, acting_user, user, target, to_pool) -> moved | (moved, skipped); to_pool is only
    # ever True for "customers": other kinds always get a person as `target`.

A record that its service refuses to move (e.g. a deal missing a field its stage requires) is left
with the leaving user and counted under "<kind>_skipped"; the deactivation itself still happens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.core.errors import ErrorCode, FieldError, KehuError, ValidationFailed

Handler = Callable[..., "int | tuple[int, int]"]
_handlers: dict[str, Handler] = {}


def register_handler(kind: str, handler: Handler) -> None:
    _handlers[kind] = handler


def handlers() -> dict[str, Handler]:
    return dict(_handlers)


def _fallback_owner(*, acting_user: User, user: User) -> User:
    """Who gets deals, leads and tasks when the customers go back to the pool: the department's
    manager (when active and not the leaver), else the admin doing the deactivation."""
    department = user.department
    manager = department.manager if department is not None else None
    if manager is not None and manager.is_active and manager.pk != user.pk:
        return manager
    return acting_user


def _each(ids: list[int], move: Callable[[int], Any]) -> tuple[int, int]:
    moved = skipped = 0
    for pk in ids:
        try:
            with transaction.atomic():
                move(pk)
            moved += 1
        except KehuError:
            skipped += 1
    return moved, skipped


def _customers(*, acting_user: User, user: User, target: User | None, to_pool: bool) -> tuple[int, int]:
    from kehu.customers.models import Customer
    from kehu.customers.services import customer_update

    ids = list(Customer.objects.filter(owner=user).order_by("pk").values_list("pk", flat=True))
    if to_pool:
        from kehu.pool.models import CustomerPool
        from kehu.pool.services import pool_release

        if ids and not CustomerPool.objects.filter(is_active=True).exists():
            raise ValidationFailed([FieldError(field="hand_over_to", code=ErrorCode.INVALID,
                                               message=_("还没有启用的公海，请先创建公海或选择接收人"))])

        reason = _("员工离职：%(name)s") % {"name": user}
        return _each(ids, lambda pk: pool_release(acting_user=acting_user, customer_id=pk, reason=reason))
    assert target is not None  # noqa: S101 — user_deactivate passes one or the other

    def move(pk: int) -> None:
        customer = Customer.objects.get(pk=pk)
        customer_update(acting_user=acting_user, customer=customer,
                        data={"owner": target, "department": target.department})

    return _each(ids, move)


def _opportunities(*, acting_user: User, user: User, target: User, to_pool: bool = False) -> tuple[int, int]:
    from kehu.sales.models import Opportunity, StageKind
    from kehu.sales.services import opportunity_update

    ids = list(Opportunity.objects.filter(owner=user, stage__kind=StageKind.OPEN).order_by("pk")
               .values_list("pk", flat=True))
    return _each(ids, lambda pk: opportunity_update(acting_user=acting_user, opportunity_id=pk,
                                                    data={"owner": target.pk}))


def _leads(*, acting_user: User, user: User, target: User, to_pool: bool = False) -> tuple[int, int]:
    from kehu.leads.models import Lead, LeadStatus
    from kehu.leads.services import lead_update

    ids = list(Lead.objects.filter(owner=user).exclude(status=LeadStatus.CONVERTED).order_by("pk")
               .values_list("pk", flat=True))
    return _each(ids, lambda pk: lead_update(acting_user=acting_user, lead_id=pk, data={"owner": target.pk}))


def _tasks(*, acting_user: User, user: User, target: User, to_pool: bool = False) -> tuple[int, int]:
    from kehu.activities.models import Task, TaskStatus
    from kehu.activities.services import task_update

    ids = list(Task.objects.filter(assignee=user, status=TaskStatus.OPEN).order_by("pk")
               .values_list("pk", flat=True))
    return _each(ids, lambda pk: task_update(acting_user=acting_user, task_id=pk, data={"assignee": target.pk}))


def _contracts(*, acting_user: User, user: User, target: User, to_pool: bool = False) -> tuple[int, int]:
    """Draft and active contracts need someone to chase signatures and payments; completed and
    terminated ones stay with the leaver as history (like won deals)."""
    from kehu.contracts.models import Contract, ContractStatus
    from kehu.contracts.services import contract_update

    ids = list(Contract.objects.filter(owner=user, status__in=(ContractStatus.DRAFT, ContractStatus.ACTIVE))
               .order_by("pk").values_list("pk", flat=True))
    return _each(ids, lambda pk: contract_update(acting_user=acting_user, contract_id=pk, data={"owner": target.pk}))


def register_defaults() -> None:
    from django.apps import apps

    if apps.is_installed("kehu.customers"):
        register_handler("customers", _customers)
    if apps.is_installed("kehu.sales"):
        register_handler("opportunities", _opportunities)
    if apps.is_installed("kehu.leads"):
        register_handler("leads", _leads)
    if apps.is_installed("kehu.contracts"):
        register_handler("contracts", _contracts)
    if apps.is_installed("kehu.activities"):
        register_handler("tasks", _tasks)


def hand_over(*, acting_user: User, user: User, target: User | None, to_pool: bool) -> dict[str, int]:
    """Run every handler; {"customers": n, "customers_skipped": m, ...}."""
    result: dict[str, int] = {}
    others = target if target is not None else _fallback_owner(acting_user=acting_user, user=user)
    for kind, handler in _handlers.items():
        # Customers go to the pool or to `target`; everything else always to a person.
        outcome = handler(acting_user=acting_user, user=user, target=target if kind == "customers" else others,
                          to_pool=to_pool and kind == "customers")
        moved, skipped = outcome if isinstance(outcome, tuple) else (outcome, 0)
        result[kind] = moved
        if skipped:
            result[f"{kind}_skipped"] = skipped
    return result
