from __future__ import annotations

from typing import NamedTuple

from django.conf import settings
from django.db import models
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from kehu.core.fields import EncryptedCharField
from kehu.core.models import TrackedModel


class PicklistKind(models.TextChoices):
    INDUSTRY = "industry", _("行业")
    SOURCE = "source", _("来源渠道")
    LEVEL = "level", _("客户级别")
    STAGE = "stage", _("生命周期阶段")
    CONTACT_ROLE = "contact_role", _("决策角色")


class PicklistOption(models.Model):
    """A value of a picklist (industry, source, level, lifecycle stage, contact role).
    Options are data with labels in both languages so admins can rename and reorder them."""

    kind = models.CharField(_("类型"), max_length=30, choices=PicklistKind.choices, db_index=True)
    code = models.SlugField(_("代码"), max_length=50)
    label_zh = models.CharField(_("中文名"), max_length=100)
    label_en = models.CharField(_("英文名"), max_length=100)
    position = models.PositiveIntegerField(_("排序"), default=0)
    color = models.CharField(_("颜色"), max_length=20, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["kind", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["kind", "code"], name="picklist_kind_code_unique")]
        verbose_name = _("选项")
        verbose_name_plural = _("选项")

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return self.label_en if (get_language() or "").startswith("en") else self.label_zh


class Tag(models.Model):
    name = models.CharField(_("名称"), max_length=50, unique=True)
    color = models.CharField(_("颜色"), max_length=20, default="#1677ff")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("标签")
        verbose_name_plural = _("标签")

    def __str__(self) -> str:
        return self.name


class TagLabel(NamedTuple):
    """What a row of a list shows of a tag; far cheaper to build than a Tag instance."""

    id: int
    name: str
    color: str


class CustomFieldTarget(models.TextChoices):
    CUSTOMER = "customer", _("客户")
    CONTACT = "contact", _("联系人")


class CustomFieldType(models.TextChoices):
    TEXT = "text", _("单行文本")
    LONG_TEXT = "long_text", _("多行文本")
    NUMBER = "number", _("数字")
    MONEY = "money", _("金额")
    DATE = "date", _("日期")
    CHOICE = "choice", _("单选")
    MULTI_CHOICE = "multi_choice", _("多选")
    BOOLEAN = "boolean", _("是/否")
    USER = "user", _("用户")


class CustomFieldDefinition(models.Model):
    """An admin-defined field. Values live in the record's `custom` JSON under `key`;
    services validate them on every write path."""

    target = models.CharField(_("对象"), max_length=20, choices=CustomFieldTarget.choices)
    key = models.SlugField(_("键"), max_length=50)
    label_zh = models.CharField(_("中文名"), max_length=100)
    label_en = models.CharField(_("英文名"), max_length=100, blank=True)
    field_type = models.CharField(_("类型"), max_length=20, choices=CustomFieldType.choices)
    # For choice fields: [{"value": "a", "label_zh": "甲", "label_en": "A"}, ...]
    choices = models.JSONField(_("选项"), default=list, blank=True)
    required = models.BooleanField(_("必填"), default=False)
    show_in_list = models.BooleanField(_("列表中显示"), default=False)
    position = models.PositiveIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["target", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["target", "key"], name="custom_field_target_key_unique")]
        verbose_name = _("自定义字段")
        verbose_name_plural = _("自定义字段")

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        if (get_language() or "").startswith("en") and self.label_en:
            return self.label_en
        return self.label_zh

    def choice_label(self, value: str) -> str:
        english = (get_language() or "").startswith("en")
        for choice in self.choices:
            if choice.get("value") == value:
                return (choice.get("label_en") if english else None) or choice.get("label_zh") or value
        return value


class Gender(models.TextChoices):
    MALE = "male", _("男")
    FEMALE = "female", _("女")


class CustomerKind(models.TextChoices):
    COMPANY = "company", _("企业")
    PERSON = "person", _("个人")


class Customer(TrackedModel):
    scope_owner_field = "owner"
    scope_department_field = "department"

    kind = models.CharField(_("类型"), max_length=10, choices=CustomerKind.choices, default=CustomerKind.COMPANY)
    name = models.CharField(_("名称"), max_length=200)
    short_name = models.CharField(_("简称"), max_length=100, blank=True)
    name_pinyin = models.CharField(max_length=400, blank=True, editable=False)
    name_initials = models.CharField(max_length=100, blank=True, editable=False)
    # Company core name (no region, legal form or branch: 北京分扬科技有限公司 → 分扬科技) for matching.
    name_core = models.CharField(_("核心名称"), max_length=200, blank=True, editable=False)
    # A person customer's honorific split off the name on entry (张先生 → 张 + 先生).
    salutation = models.CharField(_("称呼"), max_length=20, blank=True)
    industry = models.ForeignKey(
        PicklistOption,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"kind": PicklistKind.INDUSTRY},
        verbose_name=_("行业"),
    )
    level = models.ForeignKey(
        PicklistOption,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"kind": PicklistKind.LEVEL},
        verbose_name=_("级别"),
    )
    stage = models.ForeignKey(
        PicklistOption,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"kind": PicklistKind.STAGE},
        verbose_name=_("生命周期阶段"),
    )
    source = models.ForeignKey(
        PicklistOption,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"kind": PicklistKind.SOURCE},
        verbose_name=_("来源渠道"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="owned_customers",
        verbose_name=_("负责人"),
    )
    department = models.ForeignKey(
        "accounts.Department",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="customers",
        verbose_name=_("所属部门"),
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="customers", verbose_name=_("标签"))
    # Display forms as normalised (13812345678, 010-65529988 转 123); invalid numbers kept as typed.
    phones = models.JSONField(_("电话"), default=list, blank=True)
    # E.164 of each entry of `phones`, same order; "" where the number is invalid.
    phones_e164 = models.JSONField(default=list, blank=True, editable=False)
    emails = models.JSONField(_("邮箱"), default=list, blank=True)
    website = models.CharField(_("网站"), max_length=200, blank=True)
    province = models.CharField(_("省份"), max_length=50, blank=True)
    city = models.CharField(_("城市"), max_length=50, blank=True, db_index=True)
    district = models.CharField(_("区县"), max_length=50, blank=True)
    address = models.CharField(_("详细地址"), max_length=300, blank=True)
    birthday = models.DateField(_("生日"), null=True, blank=True)
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, blank=True, db_index=True)
    # Encrypted at rest (kehu.core.crypto); max_length is the plaintext's, as the services clamp it.
    id_number = EncryptedCharField(_("身份证号"), max_length=30, blank=True)
    gender = models.CharField(_("性别"), max_length=10, choices=Gender.choices, blank=True)
    notes = models.TextField(_("备注"), blank=True)
    custom = models.JSONField(_("自定义字段"), default=dict, blank=True)
    # The record's id in the system it was imported from (another CRM, an ERP): imports match on it.
    external_id = models.CharField(_("外部编号"), max_length=100, blank=True, db_index=True)
    # Last follow-up, note or other contact with the customer; feeds freshness and stale review.
    last_activity_at = models.DateTimeField(_("最近跟进"), null=True, blank=True)
    # When someone last confirmed the record is current (the quarterly check), without editing it.
    reviewed_at = models.DateTimeField(_("最近复核"), null=True, blank=True)
    quality_score = models.PositiveSmallIntegerField(_("数据质量分"), null=True, blank=True)
    quality_checked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("客户")
        verbose_name_plural = _("客户")
        indexes = [
            # Keyset pagination: every sortable column is indexed together with id.
            models.Index(fields=["updated_at", "id"], name="customer_updated_id"),
            models.Index(fields=["created_at", "id"], name="customer_created_id"),
            models.Index(fields=["name", "id"], name="customer_name_id"),
            models.Index(fields=["owner", "updated_at", "id"], name="customer_owner_updated"),
            models.Index(fields=["department", "updated_at", "id"], name="customer_dept_updated"),
            models.Index(fields=["stage", "updated_at", "id"], name="customer_stage_updated"),
            models.Index(fields=["quality_score", "id"], name="customer_quality_id"),
            # "No follow-up since" windows of automation rules: a range over the expression.
            models.Index(Coalesce("last_activity_at", "created_at"), name="customer_idle_since"),
            # The pool's nightly "no follow-up for N days" per owner: one range per pool member reads only
            # that owner's idle customers; on (owner) alone SQLite read every customer of the members.
            models.Index(F("owner"), Coalesce("last_activity_at", "created_at"), name="customer_owner_idle_since"),
        ]

    def __str__(self) -> str:
        return self.name

    def tag_list(self) -> list[TagLabel]:
        """Tags sorted by name; list pages attach them in one query as `listed_tags`."""
        listed = self.__dict__.get("listed_tags")
        if listed is None:
            listed = sorted((TagLabel(t.pk, t.name, t.color) for t in self.tags.all()), key=lambda t: t.name)
        return listed


class Contact(TrackedModel):
    scope_owner_field = "customer__owner"
    scope_department_field = "customer__department"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts", verbose_name=_("客户"))
    name = models.CharField(_("姓名"), max_length=100)
    name_pinyin = models.CharField(max_length=300, blank=True, editable=False)
    name_initials = models.CharField(max_length=50, blank=True, editable=False)
    salutation = models.CharField(_("称呼"), max_length=20, blank=True)
    title = models.CharField(_("职务"), max_length=100, blank=True)
    decision_role = models.ForeignKey(
        PicklistOption,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"kind": PicklistKind.CONTACT_ROLE},
        verbose_name=_("决策角色"),
    )
    mobile = models.CharField(_("手机"), max_length=30, blank=True)
    phone = models.CharField(_("座机"), max_length=30, blank=True)
    mobile_e164 = models.CharField(max_length=20, blank=True, editable=False)
    phone_e164 = models.CharField(max_length=20, blank=True, editable=False)
    email = models.CharField(_("邮箱"), max_length=254, blank=True)
    wechat = models.CharField(_("微信"), max_length=100, blank=True)
    birthday = models.DateField(_("生日"), null=True, blank=True)
    is_primary = models.BooleanField(_("首要联系人"), default=False)
    notes = models.TextField(_("备注"), blank=True)
    custom = models.JSONField(_("自定义字段"), default=dict, blank=True)
    external_id = models.CharField(_("外部编号"), max_length=100, blank=True, db_index=True)

    class Meta:
        verbose_name = _("联系人")
        verbose_name_plural = _("联系人")
        ordering = ["-is_primary", "id"]

    def __str__(self) -> str:
        return self.name


class Note(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="customer_notes")
    body = models.TextField(_("内容"))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("备注")
        verbose_name_plural = _("备注")

    def __str__(self) -> str:
        return self.body[:50]


class SavedView(models.Model):
    """A named list filter (我的客户, 本周新增 ...). `params` is the list's query string as a dict;
    shared views (owner null) are visible to everyone."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="saved_views"
    )
    name = models.CharField(_("名称"), max_length=100)
    params = models.JSONField(default=dict)
    columns = models.JSONField(default=list, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class SearchToken(models.Model):
    """Inverted index for the search box: one row per (token, customer[, contact]).

    Tokens are normalised fragments (Chinese 1-2 grams, pinyin of the name from each character,
    initials, reversed phone digits, e-mail parts, credit code) so every query kind is an indexed
    equality or prefix lookup on both SQLite and PostgreSQL instead of a `LIKE '%q%'` scan.

    `rank` (the record's last update as Unix seconds) and `owner` are copied from the customer so
    a common token ("科技", 100k+ rows) returns its most recent rows straight from the index, and
    a sales rep's own-scope search is one index range, not a scan of everybody's postings."""

    token = models.CharField(max_length=64)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+",
        db_index=False, db_constraint=False,
    )
    rank = models.BigIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["token", "rank"], name="search_token_rank"),
            models.Index(fields=["owner", "token", "rank"], name="search_owner_token_rank"),
            models.Index(fields=["customer"], name="search_customer"),
            models.Index(
                fields=["contact"], name="search_contact", condition=models.Q(contact__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return self.token
