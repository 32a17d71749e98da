"""Sales: pipelines of ordered stages (data, not code), products, opportunities with their lines and
contacts, and the history of every stage change.

Amounts are `Decimal` with two places in the opportunity's currency (CNY by default); the weighted
amount of an opportunity is its amount × its stage's win probability. An opportunity belongs to a
customer and is scoped like it: by its own owner and department (`scope_owner_field`), so a rep
sees the deals they own even on a colleague's customer.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from kehu.core.models import TrackedModel


def _localised(zh: str, en: str) -> str:
    return en if (get_language() or "").startswith("en") and en else zh


class Pipeline(models.Model):
    """A sales process (新客户销售, 续约, 渠道) with its own ordered stages."""

    name_zh = models.CharField(_("中文名"), max_length=100)
    name_en = models.CharField(_("英文名"), max_length=100, blank=True)
    position = models.PositiveIntegerField(_("排序"), default=0)
    is_default = models.BooleanField(_("默认"), default=False)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("销售流程")
        verbose_name_plural = _("销售流程")

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return _localised(self.name_zh, self.name_en)


class StageKind(models.TextChoices):
    OPEN = "open", pgettext_lazy("stage kind", "进行中")
    WON = "won", _("赢单")
    LOST = "lost", _("输单")


class Stage(models.Model):
    """One column of a pipeline: its order, the win probability used for the weighted forecast,
    whether it is open, won or lost, and the opportunity fields that must be filled to enter it."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages", verbose_name=_("销售流程"))
    name_zh = models.CharField(_("中文名"), max_length=100)
    name_en = models.CharField(_("英文名"), max_length=100, blank=True)
    position = models.PositiveIntegerField(_("排序"), default=0)
    probability = models.PositiveSmallIntegerField(_("赢单概率（%）"), default=0)
    color = models.CharField(_("颜色"), max_length=20, blank=True)
    kind = models.CharField(_("类型"), max_length=10, choices=StageKind.choices, default=StageKind.OPEN)
    required_fields = models.JSONField(_("进入此阶段必填的字段"), default=list, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["pipeline", "position", "id"]
        verbose_name = _("销售阶段")
        verbose_name_plural = _("销售阶段")

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return _localised(self.name_zh, self.name_en)

    @property
    def is_closed(self) -> bool:
        return self.kind != StageKind.OPEN


class LostReason(models.Model):
    label_zh = models.CharField(_("中文名"), max_length=100)
    label_en = models.CharField(_("英文名"), max_length=100, blank=True)
    position = models.PositiveIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("输单原因")
        verbose_name_plural = _("输单原因")

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return _localised(self.label_zh, self.label_en)


class ProductCategory(models.Model):
    name = models.CharField(_("名称"), max_length=100, unique=True)
    position = models.PositiveIntegerField(_("排序"), default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("产品分类")
        verbose_name_plural = _("产品分类")

    def __str__(self) -> str:
        return self.name


class Product(TrackedModel):
    code = models.CharField(_("编号"), max_length=50, unique=True)
    name = models.CharField(_("名称"), max_length=200)
    category = models.ForeignKey(ProductCategory, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="products", verbose_name=_("分类"))
    unit = models.CharField(_("单位"), max_length=20, blank=True)
    list_price = models.DecimalField(_("标准价"), max_digits=14, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(_("币种"), max_length=3, default="CNY")
    description = models.TextField(_("说明"), blank=True)
    is_active = models.BooleanField(_("在售"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("产品")
        verbose_name_plural = _("产品")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Opportunity(TrackedModel):
    """A deal (商机). `stage_entered_at` is when it entered its current stage (for durations and
    "stuck" filters); `closed_at` is set when it enters a won or lost stage and cleared on reopen."""

    scope_owner_field = "owner"
    scope_department_field = "department"

    name = models.CharField(_("商机名称"), max_length=200)
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="opportunities",
                                 verbose_name=_("客户"))
    contacts = models.ManyToManyField("customers.Contact", through="OpportunityContact", blank=True,
                                      related_name="opportunities", verbose_name=_("联系人"))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="opportunities", verbose_name=_("负责人"))
    department = models.ForeignKey("accounts.Department", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("部门"))
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="opportunities",
                                 verbose_name=_("销售流程"))
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="opportunities", verbose_name=_("阶段"))
    amount = models.DecimalField(_("金额"), max_digits=14, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(_("币种"), max_length=3, default="CNY")
    expected_close_date = models.DateField(_("预计成交日期"), null=True, blank=True)
    next_step = models.CharField(_("下一步"), max_length=300, blank=True)
    description = models.TextField(_("说明"), blank=True)
    lost_reason = models.ForeignKey(LostReason, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("输单原因"))
    lost_note = models.CharField(_("输单说明"), max_length=300, blank=True)
    stage_entered_at = models.DateTimeField(_("进入当前阶段"), default=timezone.now)
    # The furthest open or won stage position reached, for the funnel (a deal that skips a stage
    # passes through it); -1 before the first stage is counted.
    reached_position = models.IntegerField(default=-1, editable=False)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    position = models.FloatField(_("看板排序"), default=0.0)
    custom = models.JSONField(_("自定义字段"), default=dict, blank=True)
    external_id = models.CharField(_("外部编号"), max_length=100, blank=True, db_index=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name = _("商机")
        verbose_name_plural = _("商机")
        indexes = [
            # The kanban: a pipeline's column, in board order.
            models.Index(fields=["stage", "position", "id"], name="opportunity_board"),
            # Deals by close date (overdue this month, lists); the stage makes the overdue count an
            # index-only read (1M deals: 110 ms with table lookups, 7 ms without).
            models.Index(fields=["pipeline", "expected_close_date", "stage"], name="opportunity_pipeline_close"),
            models.Index(fields=["owner", "stage"], name="opportunity_owner_stage"),
            models.Index(fields=["customer"], name="opportunity_customer"),
        ]

    def __str__(self) -> str:
        return self.name


class OpportunityContact(models.Model):
    """A contact of the customer involved in the deal. Not unique per (opportunity, contact): a
    contact merge re-points the merged contact's links to the survivor, which may already have one
    (the reads show each contact once); the service never adds a second link itself."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="contact_links")
    contact = models.ForeignKey("customers.Contact", on_delete=models.CASCADE, related_name="opportunity_links")
    role = models.CharField(_("角色"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("商机联系人")
        verbose_name_plural = _("商机联系人")

    def __str__(self) -> str:
        return f"{self.opportunity_id}:{self.contact_id}"


class OpportunityLine(models.Model):
    """A product on an opportunity, at a price that may differ from the list price."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+", verbose_name=_("产品"))
    quantity = models.DecimalField(pgettext_lazy("product line", "数量"), max_digits=12, decimal_places=2,
                                   default=Decimal("1"))
    unit_price = models.DecimalField(_("单价"), max_digits=14, decimal_places=2, default=Decimal("0"))
    discount_percent = models.DecimalField(_("折扣（%）"), max_digits=5, decimal_places=2, default=Decimal("0"))
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("商机产品")
        verbose_name_plural = _("商机产品")

    def __str__(self) -> str:
        return f"{self.product_id} × {self.quantity}"

    @property
    def total(self) -> Decimal:
        gross = self.quantity * self.unit_price
        return (gross * (Decimal("100") - self.discount_percent) / Decimal("100")).quantize(Decimal("0.01"))


class StageChange(models.Model):
    """One move of an opportunity between stages (the first row: entering the first stage on
    creation), with how long it had stayed in the previous stage."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now, db_index=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    seconds_in_previous = models.BigIntegerField(null=True, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [models.Index(fields=["opportunity", "changed_at"], name="stage_change_opportunity")]
        verbose_name = _("阶段变更")
        verbose_name_plural = _("阶段变更")

    def __str__(self) -> str:
        return f"{self.opportunity_id}: {self.from_stage_id} → {self.to_stage_id}"


class OpportunityRollup(models.Model):
    """Running totals of opportunities per (stage, owner, department, expected close month), kept
    by the services in the same transaction as every write, so the kanban's column totals, the
    forecast by month × owner and the win rate read a few hundred rows instead of a million.

    Plain integers and strings, no NULLs (0 = none, "" = no close date), so the upsert's conflict
    target matches: NULLs never conflict in a unique index. The weighted amount is not stored: the
    stage is fixed within a row, so it is `amount × stage.probability` at read time, and editing a
    stage's probability needs no recount. `cycle_seconds` sums created → closed of the closed
    opportunities in the row (the average sales cycle)."""

    pipeline_id = models.BigIntegerField()
    stage_id = models.BigIntegerField()
    owner_id = models.BigIntegerField(default=0)
    department_id = models.BigIntegerField(default=0)
    close_month = models.CharField(max_length=7, default="")  # "2026-11"
    count = models.BigIntegerField(default=0)
    amount = models.DecimalField(max_digits=20, decimal_places=2, default=Decimal("0"))
    cycle_seconds = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["stage_id", "owner_id", "department_id", "close_month"], name="opportunity_rollup_key")]
        indexes = [models.Index(fields=["pipeline_id", "close_month"], name="opportunity_rollup_pipeline")]

    def __str__(self) -> str:
        return f"{self.stage_id}/{self.owner_id}/{self.close_month}: {self.count}"


class StageReach(models.Model):
    """How many opportunities ever reached each stage (per owner, department and month created):
    the funnel and its conversion rate per stage, kept like `OpportunityRollup`."""

    pipeline_id = models.BigIntegerField()
    stage_id = models.BigIntegerField()
    owner_id = models.BigIntegerField(default=0)
    department_id = models.BigIntegerField(default=0)
    created_month = models.CharField(max_length=7)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["stage_id", "owner_id", "department_id", "created_month"], name="stage_reach_key")]
        indexes = [models.Index(fields=["pipeline_id", "created_month"], name="stage_reach_pipeline")]

    def __str__(self) -> str:
        return f"{self.stage_id}/{self.owner_id}/{self.created_month}: {self.count}"
