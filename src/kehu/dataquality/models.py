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
    # Off by default: a warning lets the user decide; on, a certain match refuses the save everywhere.
    duplicate_block_certain = models.BooleanField(_("确定重复时禁止保存"), default=False)

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
            models.Index(fields=["contact"], name="quality_issue_contact", condition=models.Q(contact__isnull=False)),
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
            # Deleting or merging a contact removes its rows: without this, a scan of every key.
            models.Index(fields=["contact"], name="match_key_contact", condition=models.Q(contact__isnull=False)),
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


# Merge and unmerge -------------------------------------------------------------------------------


class MergeRecord(models.Model):
    """What a customer merge and a contact merge both keep: when and by whom, the snapshot the undo
    writes back, and when and by whom it was undone."""

    created_at = models.DateTimeField(_("合并时间"), default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    snapshot = models.JSONField(default=dict)
    undone_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]


class DistinctRecords(models.Model):
    """Two records a user said are different (smaller id first); plain ids so the decision survives
    merges and their undo."""

    low_id = models.BigIntegerField()
    high_id = models.BigIntegerField(db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        abstract = True


class CustomerMerge(MergeRecord):
    """One merge of duplicate customers into a survivor, with everything needed to undo it.

    Ids are plain integers, not foreign keys: the merged customers no longer exist while the merge
    stands, and the record must outlive a later deletion of the survivor as history. `snapshot`
    holds every column and the tags of each customer before the merge, the survivor's columns
    after it, and for each related row (contacts, notes, ... every kind in
    `dataquality.merging.registry`) the customer it pointed to and its values before and after."""

    survivor_id = models.BigIntegerField(_("保留的客户"), db_index=True)
    merged_ids = models.JSONField(_("被合并的客户"), default=list)

    class Meta(MergeRecord.Meta):
        verbose_name = _("客户合并")
        verbose_name_plural = _("客户合并")

    def __str__(self) -> str:
        return f"merge#{self.pk} {self.merged_ids} → {self.survivor_id}"


class MergedCustomerId(models.Model):
    """An id that a standing merge absorbed: old links and API ids resolve to the survivor through
    this index. Removed when the merge is undone."""

    customer_id = models.BigIntegerField(unique=True)
    merge = models.ForeignKey(CustomerMerge, on_delete=models.CASCADE, related_name="absorbed")

    def __str__(self) -> str:
        return f"{self.customer_id} → merge#{self.merge_id}"


class DistinctPair(DistinctRecords):
    """Two customers a user said are not duplicates; the matching engine never suggests them again.
    Stored as (smaller id, larger id); plain ids so the decision survives a merge and its undo."""

    class Meta:
        constraints = [models.UniqueConstraint(fields=["low_id", "high_id"], name="distinct_pair_unique")]
        verbose_name = _("非重复客户对")
        verbose_name_plural = _("非重复客户对")

    def __str__(self) -> str:
        return f"{self.low_id} ≠ {self.high_id}"


# Duplicate scan and review queue -----------------------------------------------------------------


class DedupeKey(models.Model):
    """One blocking key of a customer (`matching.blocking_keys`: phone, e-mail, credit code, company
    core, name + city ...), stored as a 64-bit hash so the table stays small and its index narrow.
    Customers that share a key are compared; a new or edited customer finds its candidates with one
    indexed lookup, which is what makes the scan incremental. A hash collision only adds a candidate
    that the scoring then rejects."""

    key = models.BigIntegerField()
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+", db_index=False)

    class Meta:
        indexes = [
            models.Index(fields=["key"], name="dedupe_key_key"),
            models.Index(fields=["customer"], name="dedupe_key_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.key}:{self.customer_id}"


class DuplicateStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    DISMISSED = "dismissed", _("不是重复")
    MERGED = "merged", _("已合并")


class DuplicatePair(models.Model):
    """Two customers the scan judged likely the same, with the score and the reasons (codes and
    masked arguments, rendered in the reader's language). Plain ids, smaller first, like
    `DistinctPair`: a merge deletes one of the two, and the pair must outlive it as "merged".
    `cluster_id` is the smallest customer id of the pair's connected group of open pairs."""

    low_id = models.BigIntegerField()
    high_id = models.BigIntegerField(db_index=True)
    score = models.FloatField()
    verdict = models.CharField(max_length=10)  # certain | review
    reasons = models.JSONField(default=list)  # [[code, [args], weight], ...], strongest first
    status = models.CharField(max_length=10, choices=DuplicateStatus.choices, default=DuplicateStatus.OPEN)
    cluster_id = models.BigIntegerField(default=0)
    found_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["low_id", "high_id"], name="duplicate_pair_unique")]
        indexes = [
            models.Index(fields=["status", "-score"], name="duplicate_pair_status_score"),
            models.Index(fields=["cluster_id"], name="duplicate_pair_cluster"),
        ]
        verbose_name = _("疑似重复客户")
        verbose_name_plural = _("疑似重复客户")

    def __str__(self) -> str:
        return f"{self.low_id} ~ {self.high_id} ({self.score:.1f})"


class DedupeScan(models.Model):
    """The state of the duplicate scan, one row (pk=1): when the last full scan ran, the
    `customers.updated_at` up to which the stored keys are current (the next incremental scan
    re-keys only customers changed after it), and the figures of the last run."""

    full_scan_at = models.DateTimeField(null=True, blank=True)
    watermark = models.DateTimeField(null=True, blank=True)
    last_scan_at = models.DateTimeField(null=True, blank=True)
    last_full = models.BooleanField(default=False)
    last_figures = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("查重扫描状态")
        verbose_name_plural = _("查重扫描状态")

    def __str__(self) -> str:
        return f"dedupe scan {self.last_scan_at}"


# Contacts: duplicates within one customer, their merge and its undo ------------------------------


class ContactDuplicatePair(models.Model):
    """Two contacts of one customer that are likely the same person (张伟 entered twice, once with
    the mobile and once with the e-mail). Found by `contact_duplicates.contact_duplicates_refresh`
    whenever the customer's contacts change and by the archive scan. Plain ids like
    `DuplicatePair`: the merge deletes one contact and the pair must outlive it as "merged"."""

    customer_id = models.BigIntegerField(db_index=True)
    low_id = models.BigIntegerField()
    high_id = models.BigIntegerField(db_index=True)
    score = models.FloatField()
    verdict = models.CharField(max_length=10)  # certain | review
    reasons = models.JSONField(default=list)  # [[code, [args], weight], ...], strongest first
    status = models.CharField(max_length=10, choices=DuplicateStatus.choices, default=DuplicateStatus.OPEN)
    found_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["low_id", "high_id"], name="contact_pair_unique")]
        indexes = [models.Index(fields=["status", "-score"], name="contact_pair_status_score")]
        verbose_name = _("疑似重复联系人")
        verbose_name_plural = _("疑似重复联系人")

    def __str__(self) -> str:
        return f"contact {self.low_id} ~ {self.high_id} ({self.score:.1f})"


class DistinctContactPair(DistinctRecords):
    """Two contacts a user said are different people; never suggested again."""

    class Meta:
        constraints = [models.UniqueConstraint(fields=["low_id", "high_id"], name="distinct_contact_pair_unique")]
        verbose_name = _("非重复联系人对")
        verbose_name_plural = _("非重复联系人对")

    def __str__(self) -> str:
        return f"contact {self.low_id} ≠ {self.high_id}"


class ContactMerge(MergeRecord):
    """One merge of duplicate contacts of a customer into a surviving contact, with what the undo
    needs: every column of each contact before, the survivor's after, and each related row that was
    re-pointed (`merging.registry.contact_registry`)."""

    customer_id = models.BigIntegerField(_("客户"), db_index=True)
    survivor_id = models.BigIntegerField(_("保留的联系人"), db_index=True)
    merged_ids = models.JSONField(_("被合并的联系人"), default=list)

    class Meta(MergeRecord.Meta):
        verbose_name = _("联系人合并")
        verbose_name_plural = _("联系人合并")

    def __str__(self) -> str:
        return f"contact merge#{self.pk} {self.merged_ids} → {self.survivor_id}"


class MergedContactId(models.Model):
    """A contact id a standing merge absorbed, so old links resolve to the surviving contact."""

    contact_id = models.BigIntegerField(unique=True)
    merge = models.ForeignKey(ContactMerge, on_delete=models.CASCADE, related_name="absorbed")

    def __str__(self) -> str:
        return f"contact {self.contact_id} → merge#{self.merge_id}"
