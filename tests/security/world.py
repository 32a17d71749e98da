"""The permission matrix's fixture world: departments A (with A1) and B, one user per built-in role
in A, a colleague in A, a rep in A1, a rep in B and a rep with no department, and a bundle of
records owned by each of them. Built once per module (inside one transaction the module rolls back).

Relations, from the acting user's point of view:
- own: the actor's own records;
- same_dept: records of a sales colleague in the actor's department A;
- sub_dept: records of a rep in A's sub-department A1;
- other_dept: records of a rep in department B;
- private: records of a rep with no department, i.e. private to that rep (only the owner and
  "all"-scope roles may see them);
- shared: records of a rep in department B whose customer, opportunity and lead are shared read-only
  with every actor (RecordShare without can_edit): readable, never writable.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model
from django.utils import timezone

from kehu.accounts.models import Department, User
from kehu.accounts.services import api_token_create, roles_ensure_defaults
from tests.factories import DepartmentFactory, UserFactory

ROLES = ("admin", "manager", "sales", "service", "marketing")
RELATIONS = ("own", "same_dept", "sub_dept", "other_dept", "private", "shared")
MISSING_ID = 987654321


@dataclass
class Ref:
    """One record in a bundle: the id that goes into the URL, and the scoped row whose visibility
    decides access (the record itself, or its customer/contract), or the user it belongs to."""

    pk: Any
    scoped: Model | None = None
    belongs_to: int | None = None  # user-bound rows (tokens, notifications, saved views)
    visible: Any = None  # rows with a scope rule of their own: user → bool (recycle-bin entries)


@dataclass
class World:
    users: dict[str, User] = field(default_factory=dict)  # role code → actor; plus colleague etc.
    bundles: dict[int, dict[str, Ref]] = field(default_factory=dict)  # owner id → record key → Ref
    owners: dict[str, dict[str, User]] = field(default_factory=dict)  # actor role → relation → owner
    globals: dict[str, Any] = field(default_factory=dict)  # key → id/slug of shared rows
    tokens: dict[str, str] = field(default_factory=dict)  # role → API token secret

    def owner(self, role: str, relation: str) -> User:
        return self.owners[role][relation]

    def bundle(self, role: str, relation: str) -> dict[str, Ref]:
        return self.bundles[self.owner(role, relation).pk]


def _bundle(owner: User, n: int, globals_: dict[str, Any]) -> dict[str, Ref]:
    """A customer with contact, note, consent, follow-up, task, opportunity, lead, contract with a
    payment, a sent mail, a notification, an API token and a saved view, all owned by `owner`."""
    from kehu.activities.models import FollowUp, FollowUpKind, Task
    from kehu.contracts.models import Contract, Payment
    from kehu.customers.models import Note, SavedView
    from kehu.imports.models import ImportBatch
    from kehu.leads.models import Lead
    from kehu.mailing.models import SentMail
    from kehu.notifications.models import Notification
    from kehu.privacy.models import Consent
    from kehu.recyclebin.selectors import visible_entries
    from kehu.recyclebin.services import move_to_bin
    from kehu.sales.models import Opportunity
    from tests.factories import ContactFactory, CustomerFactory

    customer = CustomerFactory(owner=owner, department=owner.department, name=f"矩阵客户{n}有限公司")
    contact = ContactFactory(customer=customer, name=f"矩阵联系人{n}")
    note = Note.objects.create(customer=customer, body="备注", author=owner)
    consent = Consent.objects.create(customer_id=customer.pk, purpose="marketing", source="web", recorded_by=owner)
    kind = FollowUpKind.objects.order_by("pk").first()
    followup = FollowUp.objects.create(customer=customer, kind=kind, content="电话沟通", owner=owner,
                                       occurred_at=timezone.now() - dt.timedelta(hours=1))
    task = Task.objects.create(title="回访", assignee=owner, created_by=owner, customer=customer,
                               due_at=timezone.now() + dt.timedelta(days=1))
    stage = globals_["stage_obj"]
    opportunity = Opportunity.objects.create(name=f"矩阵商机{n}", customer=customer, owner=owner,
                                             department=owner.department, pipeline=stage.pipeline, stage=stage,
                                             amount=1000)
    lead = Lead.objects.create(name=f"矩阵线索{n}", company=f"线索公司{n}", owner=owner, department=owner.department)
    contract = Contract.objects.create(number=f"HT-M-{n}", title="矩阵合同", customer=customer, owner=owner,
                                       department=owner.department, amount=10000)
    payment = Payment.objects.create(contract=contract, amount=100, received_on=timezone.localdate())
    mail = SentMail.objects.create(to=f"m{n}@example.com", subject="你好", customer=customer, sent_by=owner)
    notification = Notification.objects.create(user=owner, title="提醒")
    token, _secret = api_token_create(user=owner, name=f"matrix-{n}")
    view = SavedView.objects.create(owner=owner, name=f"视图{n}", params={})
    batch = ImportBatch.objects.create(kind="customers", created_by=owner)
    # A deleted customer in the recycle bin (through the real service, so its snapshot is real).
    doomed = CustomerFactory(owner=owner, department=owner.department, name=f"已删除客户{n}有限公司")
    entry = move_to_bin(doomed, acting_user=owner)
    return {
        "customer": Ref(customer.pk, customer),
        "contact": Ref(contact.pk, contact),
        "note": Ref(note.pk, customer),
        "consent": Ref(consent.pk, customer),
        "followup": Ref(followup.pk, followup),
        "task": Ref(task.pk, task),
        "opportunity": Ref(opportunity.pk, opportunity),
        "lead": Ref(lead.pk, lead),
        "contract": Ref(contract.pk, contract),
        "payment": Ref(payment.pk, contract),
        "mail": Ref(mail.pk, customer, belongs_to=owner.pk),  # retry: its sender (or an admin)
        "notification": Ref(notification.pk, belongs_to=owner.pk),
        "token": Ref(token.pk, belongs_to=owner.pk),
        "saved_view": Ref(view.pk, belongs_to=owner.pk),
        "import_batch": Ref(batch.pk, belongs_to=owner.pk),
        "bin_entry": Ref(entry.pk, visible=lambda user, pk=entry.pk: visible_entries(user=user).filter(pk=pk).exists()),
    }


def _globals() -> dict[str, Any]:
    """Shared configuration rows the settings routes need an id of."""
    from kehu.sales.models import LostReason, Pipeline, Stage

    pipeline = Pipeline.objects.filter(is_default=True).first() or Pipeline.objects.first()
    stage = Stage.objects.filter(pipeline=pipeline).order_by("pk").first()
    found: dict[str, Any] = {"pipeline": pipeline.pk, "stage": stage.pk, "stage_obj": stage}
    found["lost_reason"] = getattr(LostReason.objects.first(), "pk", MISSING_ID)
    return found


def build_world() -> World:
    roles = roles_ensure_defaults()
    world = World()
    dept_a = DepartmentFactory(name="矩阵A部")
    dept_a1 = DepartmentFactory(name="矩阵A1组", parent=dept_a)
    dept_b = DepartmentFactory(name="矩阵B部")
    for code in ROLES:
        world.users[code] = UserFactory(username=f"matrix_{code}", role=roles[code], department=dept_a)
    world.users["colleague"] = UserFactory(username="matrix_colleague", role=roles["sales"], department=dept_a)
    world.users["sub"] = UserFactory(username="matrix_sub", role=roles["sales"], department=dept_a1)
    world.users["other"] = UserFactory(username="matrix_other", role=roles["sales"], department=dept_b)
    world.users["loner"] = UserFactory(username="matrix_loner", role=roles["sales"], department=None)
    world.users["sharer"] = UserFactory(username="matrix_sharer", role=roles["sales"], department=dept_b)
    Department.objects.filter(pk__in=[dept_a.pk, dept_a1.pk, dept_b.pk])  # paths are set on save
    world.globals = _globals()
    for n, user in enumerate(world.users.values()):
        world.bundles[user.pk] = _bundle(user, n, world.globals)
    others = {"same_dept": "colleague", "sub_dept": "sub", "other_dept": "other", "private": "loner",
              "shared": "sharer"}
    _share_read_only(world)
    for code in ROLES:
        world.owners[code] = {"own": world.users[code]} | {rel: world.users[key] for rel, key in others.items()}
        _token, world.tokens[code] = api_token_create(user=world.users[code], name="matrix-client")
    world.globals.update(_more_globals(world))
    return world


def _share_read_only(world: World) -> None:
    from kehu.accounts.models import RecordShare

    bundle = world.bundles[world.users["sharer"].pk]
    for code in ROLES:
        for key in ("customer", "opportunity", "lead"):
            row = bundle[key].scoped
            RecordShare.objects.create(object_type=row._meta.label_lower, object_id=row.pk, user=world.users[code],
                                       can_edit=False, created_by=world.users["sharer"])


def _more_globals(world: World) -> dict[str, Any]:
    """Config rows for settings routes (created only where cheap; the rest get MISSING_ID)."""
    from kehu.automation.models import Rule
    from kehu.customers.models import CustomFieldDefinition, PicklistOption, Tag
    from kehu.dataquality.models import CityAlias, ValidationRule
    from kehu.leads.models import LeadForm
    from kehu.mailing.models import MailTemplate
    from kehu.sales.models import Product

    out: dict[str, Any] = {}
    out["picklist"] = PicklistOption.objects.order_by("pk").first().pk
    out["tag"] = Tag.objects.create(name="矩阵标签").pk
    out["custom_field"] = CustomFieldDefinition.objects.create(target="customer", key="matrix_field",
                                                               label_zh="矩阵字段", field_type="text").pk
    out["rule"] = Rule.objects.create(name="矩阵规则", trigger="created", is_active=False).pk
    out["mail_template"] = MailTemplate.objects.create(key="matrix-template", name="矩阵模板", subject="你好",
                                                       body="正文").pk
    out["city_alias"] = CityAlias.objects.create(alias="矩阵市", canonical="北京市").pk
    out["validation_rule"] = ValidationRule.objects.create(field="email", rule_type="required").pk
    out["lead_form"] = LeadForm.objects.create(slug="matrix-form", title="矩阵表单").pk
    out["lead_form_slug"] = "matrix-form"
    out["product"] = Product.objects.create(code="MATRIX-1", name="矩阵产品").pk
    out["user"] = world.users["colleague"].pk
    from kehu.accounts.models import Role

    out["role"] = Role.objects.create(code="matrix_custom", name_zh="矩阵角色", name_en="Matrix role").pk
    return out
