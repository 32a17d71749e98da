"""Writes of the customer pool (公海): release, claim, assign and the nightly auto-return scan.

A customer in a pool has no owner and no department (so `restrict()` hides it from reps and
department managers) and one `PoolEntry`. Every move writes a `PoolMove` (the history the limits
are counted from) and an `AuditEvent` with the customer's id (the audit log and the timeline)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import Department, User
from kehu.accounts.permissions import has_operation
from kehu.core import audit, bulk
from kehu.core.errors import ErrorCode, FieldError, NotFound, PermissionDenied, ValidationFailed
from kehu.core.models import AuditEvent
from kehu.core.scoping import restrict
from kehu.customers import search
from kehu.customers.models import Customer
from kehu.pool.models import CustomerPool, MoveAction, PoolEntry, PoolMove, ReturnReminder

CHUNK = 5000
HOLD_ACTIONS = (MoveAction.CLAIM, MoveAction.ASSIGN)  # a fresh owner gets the full period again
LEAVE_ACTIONS = (MoveAction.RELEASE, MoveAction.AUTO_RETURN)


def _fail(field: str, code: ErrorCode, message: str) -> ValidationFailed:
    return ValidationFailed([FieldError(field=field, code=code, message=message)])


# Membership -----------------------------------------------------------------------------------


def member_user_ids(pool: CustomerPool) -> set[int]:
    """Active users who belong to the pool: listed members and users of member departments (and below)."""
    ids = set(pool.members.filter(is_active=True).values_list("pk", flat=True))
    paths = list(pool.member_departments.values_list("path", flat=True))
    if paths:
        condition = Q()
        for path in paths:
            condition |= Q(department__path__startswith=path)
        ids |= set(User.objects.filter(condition, is_active=True).values_list("pk", flat=True))
    return ids


def is_member(user: Any, pool: CustomerPool) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if pool.members.filter(pk=user.pk).exists():
        return True
    department: Department | None = user.department
    if department is None:
        return False
    return any(department.path.startswith(path) for path in pool.member_departments.values_list("path", flat=True))


def is_pool_admin(user: Any, pool: CustomerPool) -> bool:
    """Kehu admins, the pool's admins, and managers (department scope) who are members."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if has_operation(user, "pool.manage") or pool.admins.filter(pk=user.pk).exists():
        return True
    return user.data_scope != "own" and is_member(user, pool)


def _pool_for_release(user: User | None, pool_id: int | None) -> CustomerPool:
    pools = CustomerPool.objects.filter(is_active=True)
    if pool_id is not None:
        pool = pools.filter(pk=pool_id).first()
        if pool is None:
            raise NotFound(_("公海不存在"))
        return pool
    if user is not None:  # the owner's own pool first, then the default one
        for pool in pools:
            if is_member(user, pool):
                return pool
    pool = pools.filter(is_default=True).first() or pools.first()
    if pool is None:
        raise _fail("pool", ErrorCode.INVALID, _("还没有启用的公海，请联系管理员"))
    return pool


# Moves ----------------------------------------------------------------------------------------


def _record(*, acting_user: User | None, customer: Customer, pool: CustomerPool, action: str,
            previous_owner: User | None, new_owner: User | None, reason: str, now: dt.datetime) -> PoolMove:
    move = PoolMove.objects.create(customer_id=customer.pk, pool=pool, action=action, user=acting_user,
                                   previous_owner=previous_owner, at=now, reason=reason)
    audit.record_event(actor=acting_user, action="create", obj=move, customer_id=customer.pk, changes=[
        {"field": "owner", "old": audit.audit_value(previous_owner), "new": audit.audit_value(new_owner)},
        {"field": "pool_action", "old": None, "new": action},
        {"field": "reason", "old": None, "new": reason},
    ])
    return move


def _set_owner(customer: Customer, owner: User | None, acting_user: User | None, now: dt.datetime) -> None:
    Customer.objects.filter(pk=customer.pk).update(
        owner=owner, department=owner.department if owner else None, version=F("version") + 1,
        updated_at=now, updated_by=acting_user)
    customer.refresh_from_db()
    search.index_customer(customer)  # the tokens carry the owner (a rep's search uses them)


@transaction.atomic
def pool_release(*, acting_user: User, customer_id: int, reason: str, pool_id: int | None = None,
                 now: dt.datetime | None = None) -> PoolEntry:
    """The owner (or a manager/admin who can see the customer) puts it back in the pool; a reason is required."""
    now = now or timezone.now()
    reason = (reason or "").strip()[:300]
    customer = restrict(Customer.objects.select_for_update(of=("self",)), acting_user).filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(_("客户不存在或无权查看"))
    if PoolEntry.objects.filter(customer_id=customer.pk).exists():
        raise _fail("customer_id", ErrorCode.INVALID, _("该客户已在公海中"))
    if customer.owner_id != acting_user.pk and not has_operation(acting_user, "customer.assign"):
        raise PermissionDenied(_("只有负责人或主管可以退回该客户"))
    if not reason:
        raise _fail("reason", ErrorCode.REQUIRED, _("请填写退回原因"))
    previous = customer.owner
    pool = _pool_for_release(previous, pool_id)
    entry = PoolEntry.objects.create(customer=customer, pool=pool, entered_at=now, reason=reason,
                                     previous_owner=previous)
    _set_owner(customer, None, acting_user, now)
    _record(acting_user=acting_user, customer=customer, pool=pool, action=MoveAction.RELEASE,
            previous_owner=previous, new_owner=None, reason=reason, now=now)
    return entry


def _local_day_start(now: dt.datetime) -> dt.datetime:
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _locked_entry(customer_id: int, pool_id: int | None) -> tuple[Customer, PoolEntry]:
    customer = Customer.objects.select_for_update(of=("self",)).filter(pk=customer_id).first()
    entry = PoolEntry.objects.select_related("pool").filter(customer_id=customer_id).first()
    if customer is None or entry is None or customer.owner_id is not None or pool_id not in (None, entry.pool_id):
        raise NotFound(_("公海中没有该客户"))
    return customer, entry


@transaction.atomic
def pool_claim(*, acting_user: User, customer_id: int, pool_id: int | None = None,
               now: dt.datetime | None = None) -> Customer:
    """A member takes a customer from the pool, within the holding cap, the daily limit and the cool-down."""
    now = now or timezone.now()
    # Lock the claimer's row first: two claims of one rep at once must not both pass the limits.
    User.objects.select_for_update().filter(pk=acting_user.pk).first()
    customer, entry = _locked_entry(customer_id, pool_id)
    pool = entry.pool
    if not pool.is_active or not is_member(acting_user, pool):
        raise NotFound(_("公海中没有该客户"))  # a non-member can't tell the customer exists
    if pool.holding_cap and Customer.objects.filter(owner=acting_user).count() >= pool.holding_cap:
        raise _fail("customer_id", ErrorCode.INVALID,
                    _("你负责的客户已达上限 %(cap)s 个，请先退回一些客户") % {"cap": pool.holding_cap})
    if pool.daily_claim_limit:
        today = PoolMove.objects.filter(user=acting_user, action=MoveAction.CLAIM, at__gte=_local_day_start(now),
                                        at__lte=now).count()
        if today >= pool.daily_claim_limit:
            raise _fail("customer_id", ErrorCode.INVALID,
                        _("今天已领取 %(count)s 个客户，达到每日上限") % {"count": today})
    if pool.reclaim_cooldown_days:
        since = now - dt.timedelta(days=pool.reclaim_cooldown_days)
        last = (PoolMove.objects.filter(customer_id=customer.pk, previous_owner=acting_user, action__in=LEAVE_ACTIONS,
                                        at__gt=since).order_by("-at").first())
        if last is not None:
            until = timezone.localtime(last.at + dt.timedelta(days=pool.reclaim_cooldown_days))
            raise _fail("customer_id", ErrorCode.INVALID,
                        _("你刚退回过该客户，%(date)s 之后才能重新领取") % {"date": f"{until:%Y-%m-%d %H:%M}"})
    entry.delete()
    _set_owner(customer, acting_user, acting_user, now)
    _record(acting_user=acting_user, customer=customer, pool=pool, action=MoveAction.CLAIM,
            previous_owner=None, new_owner=acting_user, reason="", now=now)
    return customer


@transaction.atomic
def pool_assign(*, acting_user: User, customer_id: int, user_id: int, pool_id: int | None = None,
                now: dt.datetime | None = None) -> Customer:
    """A pool admin or manager gives a pool customer to a user; rep limits don't apply, inactive users can't own."""
    now = now or timezone.now()
    customer, entry = _locked_entry(customer_id, pool_id)
    pool = entry.pool
    if not is_pool_admin(acting_user, pool):
        if is_member(acting_user, pool):
            raise PermissionDenied(_("只有公海管理员或主管可以分配客户"))
        raise NotFound(_("公海中没有该客户"))
    owner = User.objects.filter(pk=user_id, is_active=True).select_related("department").first()
    if owner is None:
        raise _fail("user_id", ErrorCode.INVALID, _("用户不存在或已停用"))
    entry.delete()
    _set_owner(customer, owner, acting_user, now)
    _record(acting_user=acting_user, customer=customer, pool=pool, action=MoveAction.ASSIGN,
            previous_owner=None, new_owner=owner, reason="", now=now)
    return customer


@transaction.atomic
def pool_save(*, acting_user: User, pool: CustomerPool | None, data: dict[str, Any],
              members: Any = None, member_departments: Any = None, admins: Any = None) -> CustomerPool:
    """Create or change a pool and its rules (Kehu admins only)."""
    if not has_operation(acting_user, "pool.manage"):
        raise PermissionDenied(_("只有管理员可以执行此操作"))
    pool = pool or CustomerPool()
    for key, value in data.items():
        setattr(pool, key, value)
    if not (pool.name or "").strip():
        raise _fail("name", ErrorCode.REQUIRED, _("请填写名称"))
    pool.save()
    if pool.is_default:  # one default pool
        CustomerPool.objects.exclude(pk=pool.pk).filter(is_default=True).update(is_default=False)
    if members is not None:
        pool.members.set(members)
    if member_departments is not None:
        pool.member_departments.set(member_departments)
    if admins is not None:
        pool.admins.set(admins)
    return pool


# Auto-return ----------------------------------------------------------------------------------


@dataclass
class ScanResult:
    pools: int = 0
    returned: int = 0
    reminded: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _rule_q(pool: CustomerPool, at: dt.datetime) -> Q | None:
    """Customers that break a rule of `pool` at moment `at` (before exemptions)."""
    conditions = Q(pk__in=[])
    active = False
    if pool.return_no_followup_days:
        cut = at - dt.timedelta(days=pool.return_no_followup_days)
        held = PoolMove.objects.filter(customer_id=OuterRef("pk"), action__in=HOLD_ACTIONS, at__gte=cut)
        conditions |= Q(_anchor__lt=cut) & ~Exists(held)
        active = True
    if pool.return_no_won_days:
        from kehu.sales.models import Opportunity, StageKind

        cut = at - dt.timedelta(days=pool.return_no_won_days)
        won = Opportunity.objects.filter(customer_id=OuterRef("pk"), stage__kind=StageKind.WON, closed_at__gte=cut)
        held = PoolMove.objects.filter(customer_id=OuterRef("pk"), action__in=HOLD_ACTIONS, at__gte=cut)
        conditions |= Q(created_at__lt=cut) & ~Exists(won) & ~Exists(held)
        active = True
    return conditions if active else None


def _exempt_q(pool: CustomerPool, now: dt.datetime) -> Q:
    condition = Q()
    if pool.exempt_open_opportunity:
        from kehu.sales.models import Opportunity, StageKind

        condition &= ~Exists(Opportunity.objects.filter(customer_id=OuterRef("pk"), stage__kind=StageKind.OPEN))
    if pool.exempt_live_contract:
        from kehu.contracts.models import Contract, ContractStatus

        today = timezone.localdate(now)
        condition &= ~Exists(Contract.objects.filter(customer_id=OuterRef("pk"), status=ContractStatus.ACTIVE,
                                                     ends_on__gte=today))
    return condition


def _owned_by(owner_ids: set[int]) -> QuerySet[Customer]:
    return (Customer.objects.filter(owner_id__in=sorted(owner_ids))
            .annotate(_anchor=Coalesce("last_activity_at", "created_at")))


def stale_customers(pool: CustomerPool, *, now: dt.datetime, owner_ids: set[int] | None = None) -> QuerySet[Customer]:
    """Owned customers of the pool's members that go back to the pool at `now` (one set query)."""
    rules = _rule_q(pool, now)
    owner_ids = member_user_ids(pool) if owner_ids is None else owner_ids
    if rules is None or not owner_ids:
        return Customer.objects.none()
    return _owned_by(owner_ids).filter(rules).filter(_exempt_q(pool, now))


def _due_at(pool: CustomerPool, row: dict[str, Any]) -> dt.datetime:
    """When the customer returns if nothing changes: the earliest rule that fires."""
    dues = []
    held = row["_held"]
    if pool.return_no_followup_days:
        anchor = max(x for x in (row["_anchor"], held) if x is not None)
        dues.append(anchor + dt.timedelta(days=pool.return_no_followup_days))
    if pool.return_no_won_days:
        anchor = max(x for x in (row["created_at"], row["_won"], held) if x is not None)
        dues.append(anchor + dt.timedelta(days=pool.return_no_won_days))
    return min(dues)


def _remind(pool: CustomerPool, owner_ids: set[int], now: dt.datetime) -> int:
    """Reminders for customers that will return within K days (once per customer, owner and due date)."""
    from django.db.models import Max, Subquery

    from kehu.sales.models import Opportunity, StageKind

    rules_later = _rule_q(pool, now + dt.timedelta(days=pool.remind_days_before))
    if rules_later is None or not owner_ids:
        return 0
    reminded = ReturnReminder.objects.filter(customer_id=OuterRef("pk"), owner_id=OuterRef("owner_id"),
                                             due_at__gt=now)
    won = (Opportunity.objects.filter(customer_id=OuterRef("pk"), stage__kind=StageKind.WON)
           .values("customer_id").annotate(m=Max("closed_at")).values("m"))
    held = (PoolMove.objects.filter(customer_id=OuterRef("pk"), action__in=HOLD_ACTIONS)
            .values("customer_id").annotate(m=Max("at")).values("m"))
    rows = list(
        # Customers stale already were returned just before (the scan is one transaction), exempt ones stay exempt.
        _owned_by(owner_ids).filter(rules_later).filter(_exempt_q(pool, now))
        .filter(~Exists(reminded))
        .annotate(_won=Subquery(won), _held=Subquery(held))
        .values("pk", "owner_id", "created_at", "_anchor", "_won", "_held")
    )
    reminders = [{"customer_id": r["pk"], "owner_id": r["owner_id"], "pool_id": pool.pk, "due_at": _due_at(pool, r),
                  "created_at": now, "notified": False} for r in rows]
    # core.bulk's executemany/COPY: the ORM's bulk_create spent ~2 s of Python on 60,000 objects. No
    # conflicts are possible: the selection above skips reminded customers, inside this transaction.
    bulk.fast_insert(ReturnReminder, reminders)
    bulk.fast_insert(PoolMove, [
        {"customer_id": r["customer_id"], "pool_id": pool.pk, "action": MoveAction.REMINDER.value, "user_id": None,
         "previous_owner_id": r["owner_id"], "at": now,
         "reason": _("将于 %(date)s 退回公海") % {"date": f"{timezone.localtime(r['due_at']):%Y-%m-%d}"}}
        for r in reminders])
    return len(reminders)


def _return_pool(pool: CustomerPool, owner_ids: set[int], now: dt.datetime) -> int:
    rows = list(stale_customers(pool, now=now, owner_ids=owner_ids).values_list("pk", "owner_id"))
    if not rows:
        return 0
    names = {u.pk: str(u) for u in User.objects.filter(pk__in={owner for _pk, owner in rows})}
    reason = _("自动退回：超过规则期限未跟进或未成交")
    repr_ = f"{MoveAction.AUTO_RETURN.label} {pool.name}"[:300]
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        ids = [pk for pk, _owner in chunk]
        # owner_id__isnull guards against a claim/assign that committed since the selection.
        Customer.objects.filter(pk__in=ids, owner_id__isnull=False).update(
            owner=None, department=None, version=F("version") + 1, updated_at=now)
        # The search tokens keep their copied owner here: search re-checks every hit against
        # `restrict()` (the copy only narrows a rep's candidates), and a claim or assign re-indexes the
        # customer. Clearing ~45 tokens per customer cost 4 of the 9 s of returning 20,000 customers.
        # core.bulk's executemany/COPY: the ORM's bulk_create spent ~4 s of Python on 80,000 objects.
        bulk.fast_insert(PoolEntry, [{"customer_id": pk, "pool_id": pool.pk, "entered_at": now, "reason": reason,
                                      "previous_owner_id": owner} for pk, owner in chunk])
        bulk.fast_insert(PoolMove, [{"customer_id": pk, "pool_id": pool.pk, "action": MoveAction.AUTO_RETURN.value,
                                     "user_id": None, "previous_owner_id": owner, "at": now, "reason": reason}
                                    for pk, owner in chunk])
        moves = (PoolMove.objects.filter(customer_id__in=ids, at=now, action=MoveAction.AUTO_RETURN, pool=pool)
                 .values_list("pk", "customer_id", "previous_owner_id"))
        bulk.fast_insert(AuditEvent, [
            {"at": now, "actor_id": None, "actor_name": "", "ip": None, "action": "create", "object_type": "poolmove",
             "object_id": move_id, "object_repr": repr_, "customer_id": customer_id, "changes": [
                 {"field": "owner", "old": names.get(owner, ""), "new": None},
                 {"field": "pool_action", "old": None, "new": MoveAction.AUTO_RETURN.value},
                 {"field": "reason", "old": None, "new": reason}]}
            for move_id, customer_id, owner in moves])
    return len(rows)


@transaction.atomic
def auto_return_scan(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Every active pool: return its members' stale customers and remind owners K days ahead."""
    now = now or timezone.now()
    result = ScanResult()
    claimed: set[int] = set()  # a user in two pools: the first pool (default first) owns their customers
    for pool in CustomerPool.objects.filter(is_active=True).prefetch_related("members", "member_departments"):
        owner_ids = member_user_ids(pool) - claimed
        claimed |= owner_ids
        result.pools += 1
        result.returned += _return_pool(pool, owner_ids, now)
        if pool.remind_days_before:
            result.reminded += _remind(pool, owner_ids, now)
    return result.as_dict()


@transaction.atomic
def auto_return_run(*, acting_user: User, now: dt.datetime | None = None) -> dict[str, int]:
    """The scan on demand (API/admin page): Kehu admins only."""
    if not has_operation(acting_user, "pool.manage"):
        raise PermissionDenied(_("只有管理员可以执行此操作"))
    return auto_return_scan(now=now)
