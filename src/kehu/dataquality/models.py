"""Data the admins edit to steer cleaning (aliases, synonyms, rules, settings) and what the
quality checks find (issues, daily snapshots, match keys for uniqueness)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class CityAlias(models.Model):
    """An extra name for a province or city (BJ, 帝都, Peking → 北京市), merged over the built-in
    aliases of `normalize.addresses.DEFAULT_CITY_ALIASES` on every write path."""

    alias = models.CharField(_("别名"), max_length=50, unique=True)
    canonical = models.CharField(_("标准名称"), max_length=50)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["alias"]
        verbose_name = _("地名别名")
        verbose_name_plural = _("地名别名")

    def __str__(self) -> str:
        return f"{self.alias} → {self.canonical}"


class PicklistSynonym(models.Model):
    """A raw value that means a picklist entry (百度, baidu, 百度推广 → 百度推广). `key` is the
    folded form (case, width and spaces removed) so lookups don't depend on how it was typed."""

    option = models.ForeignKey(
        "customers.PicklistOption", on_delete=models.CASCADE, related_name="synonyms", verbose_name=_("选项")
    )
    kind = models.CharField(_("类型"), max_length=30, editable=False)
    text = models.CharField(_("同义词"), max_length=100)
    key = models.CharField(max_length=100, editable=False)

    class Meta:
        ordering = ["kind", "key"]
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="picklist_synonym_kind_key_unique")]
        verbose_name = _("选项同义词")
        verbose_name_plural = _("选项同义词")

    def __str__(self) -> str:
        return f"{self.text} → {self.option}"


class RuleType(models.TextChoices):
    REQUIRED = "required", _("必填")
    UNIQUE = "unique", _("唯一")
    VALID = "valid", _("格式有效")
    PATTERN = "pattern", _("匹配正则")
    RANGE = "range", _("取值范围")


class RuleSeverity(models.TextChoices):
    ERROR = "error", _("阻止保存")
    WARNING = "warning", _("保存并标记")


class RuleTarget(models.TextChoices):
    CUSTOMER = "customer", _("客户")
    CONTACT = "contact", _("联系人")


class ValidationRule(models.Model):
    """A rule admins define as data; `dataquality.rules.check_rules()` enforces it in the services,
    so the web form, the API and the import all answer the same value with the same error.

    `field` names a record field (`phones`, `credit_code`, `city`, ...) or a custom field as
    `custom.<key>`. Rules may apply to one customer kind and/or one lifecycle stage only."""

    target = models.CharField(_("对象"), max_length=20, choices=RuleTarget.choices, default=RuleTarget.CUSTOMER)
    field = models.CharField(_("字段"), max_length=80)
    rule_type = models.CharField(_("规则"), max_length=20, choices=RuleType.choices)
    severity = models.CharField(_("处理"), max_length=10, choices=RuleSeverity.choices, default=RuleSeverity.ERROR)
    customer_kind = models.CharField(_("仅限客户类型"), max_length=10, blank=True)
    stage = models.ForeignKey(
        "customers.PicklistOption",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("仅限生命周期阶段"),
    )
    # pattern: {"regex": "..."}; range: {"min": 0, "max": 100} (numbers) or {"min": "2000-01-01"} (dates)
    params = models.JSONField(_("参数"), default=dict, blank=True)
    message_zh = models.CharField(_("提示（中文）"), max_length=200, blank=True)
    message_en = models.CharField(_("提示（英文）"), max_length=200, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["target", "position", "id"]
        verbose_name = _("校验规则")
        verbose_name_plural = _("校验规则")

    def __str__(self) -> str:
        return f"{self.get_target_display()} {self.field} {self.get_rule_type_display()}"

    @property
    def message(self) -> str:
        if (get_language() or "").startswith("en") and self.message_en:
            return self.message_en
        return self.message_zh


class QualitySettings(models.Model):
    """One row (pk=1) of cleaning settings admins can change."""

    stale_days = models.PositiveIntegerField(_("多少天未更新视为陈旧"), default=90)
    # Which fields count for completeness, per customer kind; editable so each team weighs its own.
    key_fields_company = models.JSONField(
        default=list, blank=True, verbose_name=_("企业客户关键字段")
    )
    key_fields_person = models.JSONField(default=list, blank=True, verbose_name=_("个人客户关键字段"))

    class Meta:
        verbose_name = _("数据质量设置")
        verbose_name_plural = _("数据质量设置")

    def __str__(self) -> str:
        return str(_("数据质量设置"))


class QualityIssue(models.Model):
    """One problem found on a record: an invalid phone, a missing key field, an unknown picklist
    value, a bounced e-mail. Rebuilt for a customer whenever it is saved or re-checked; the review
    queues are indexed reads of this table."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="quality_issues", db_index=False
    )
    contact = models.ForeignKey(
        "customers.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    code = models.CharField(max_length=60)
    field = models.CharField(max_length=80, blank=True)
    value = models.CharField(max_length=300, blank=True)
    hint = models.CharField(max_length=300, blank=True)
    found_at = models.DateTimeField(default=timezone.now)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["code", "customer"], name="quality_issue_code_customer"),
            models.Index(fields=["customer"], name="quality_issue_customer"),
        ]
        verbose_name = _("数据问题")
        verbose_name_plural = _("数据问题")

    def __str__(self) -> str:
        return f"{self.code} {self.field} {self.value}"


class BouncedEmail(models.Model):
    """An address the mail server rejected; mail delivery (a later issue) writes these and every
    record carrying the address gets an `email.bounced` issue."""

    email = models.CharField(max_length=254, unique=True)
    reason = models.CharField(max_length=300, blank=True)
    bounced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("退信邮箱")
        verbose_name_plural = _("退信邮箱")

    def __str__(self) -> str:
        return self.email


class MatchKey(models.Model):
    """Normalised identifying values (mobile E.164, e-mail, credit code) of customers and their
    contacts, one row each, so uniqueness checks and duplicate candidates are index lookups."""

    kind = models.CharField(max_length=20)
    value = models.CharField(max_length=254)
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+", db_index=False)
    contact = models.ForeignKey(
        "customers.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )

    class Meta:
        indexes = [
            models.Index(fields=["kind", "value"], name="match_key_kind_value"),
            models.Index(fields=["customer"], name="match_key_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class QualitySnapshot(models.Model):
    """The archive's quality on one day, for the trend chart."""

    day = models.DateField(unique=True)
    customers = models.PositiveIntegerField(default=0)
    average_score = models.FloatField(default=0)
    issue_counts = models.JSONField(default=dict)
    score_buckets = models.JSONField(default=dict)

    class Meta:
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day} {self.average_score:.1f}"
