"""Leads (线索): people or companies not yet customers, captured by hand, the API, imports and the
public web form, worked through a short status flow and converted in one step to a customer, a
contact and an opportunity. Scoped like customers: by owner and department."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kehu.core.models import TrackedModel
from kehu.customers.models import PicklistKind


class LeadStatus(models.TextChoices):
    NEW = "new", _("新线索")
    CONTACTED = "contacted", _("已联系")
    QUALIFIED = "qualified", _("有效线索")
    DISQUALIFIED = "disqualified", _("无效线索")
    CONVERTED = "converted", _("已转化")


class Lead(TrackedModel):
    scope_owner_field = "owner"
    scope_department_field = "department"

    name = models.CharField(_("姓名"), max_length=100, blank=True)
    salutation = models.CharField(_("称呼"), max_length=20, blank=True)
    company = models.CharField(_("公司"), max_length=200, blank=True)
    title = models.CharField(_("职务"), max_length=100, blank=True)
    mobile = models.CharField(_("手机"), max_length=30, blank=True)
    mobile_e164 = models.CharField(max_length=20, blank=True, editable=False, db_index=True)
    phone = models.CharField(_("座机"), max_length=30, blank=True)
    phone_e164 = models.CharField(max_length=20, blank=True, editable=False)
    email = models.CharField(_("邮箱"), max_length=254, blank=True, db_index=True)
    wechat = models.CharField(_("微信"), max_length=100, blank=True)
    province = models.CharField(_("省份"), max_length=50, blank=True)
    city = models.CharField(_("城市"), max_length=50, blank=True)
    source = models.ForeignKey(
        "customers.PicklistOption", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        limit_choices_to={"kind": PicklistKind.SOURCE}, verbose_name=_("来源渠道"),
    )
    campaign = models.CharField(_("市场活动"), max_length=100, blank=True, db_index=True)
    status = models.CharField(_("状态"), max_length=20, choices=LeadStatus.choices, default=LeadStatus.NEW)
    disqualify_reason = models.CharField(_("无效原因"), max_length=300, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_leads",
        verbose_name=_("负责人"),
    )
    department = models.ForeignKey(
        "accounts.Department", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("所属部门"),
    )
    notes = models.TextField(_("备注"), blank=True)
    custom = models.JSONField(_("自定义字段"), default=dict, blank=True)
    external_id = models.CharField(_("外部编号"), max_length=100, blank=True, db_index=True)
    # The public form a lead came in through (empty for leads typed in, imported or sent by the API).
    web_form = models.ForeignKey("leads.LeadForm", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="leads", verbose_name=_("网页表单"))
    converted_at = models.DateTimeField(_("转化时间"), null=True, blank=True)
    converted_customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="converted_leads",
        verbose_name=_("转化客户"),
    )
    converted_contact = models.ForeignKey(
        "customers.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="converted_leads",
        verbose_name=_("转化联系人"),
    )
    converted_opportunity = models.ForeignKey(
        "sales.Opportunity", null=True, blank=True, on_delete=models.SET_NULL, related_name="converted_leads",
        verbose_name=_("转化商机"),
    )

    class Meta:
        verbose_name = _("线索")
        verbose_name_plural = _("线索")
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["updated_at", "id"], name="lead_updated_id"),
            models.Index(fields=["created_at", "id"], name="lead_created_id"),
            models.Index(fields=["owner", "status", "updated_at"], name="lead_owner_status"),
            models.Index(fields=["department", "updated_at"], name="lead_dept_updated"),
            models.Index(fields=["status", "updated_at"], name="lead_status_updated"),
        ]

    def __str__(self) -> str:
        if self.name and self.company:
            return f"{self.name}（{self.company}）"
        return self.name or self.company or f"#{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status not in (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED)


class LeadFormField(models.TextChoices):
    """Fields a public web form may show (name is always shown)."""

    COMPANY = "company", _("公司")
    TITLE = "title", _("职务")
    MOBILE = "mobile", _("手机")
    PHONE = "phone", _("座机")
    EMAIL = "email", _("邮箱")
    WECHAT = "wechat", _("微信")
    PROVINCE = "province", _("省份")
    CITY = "city", _("城市")
    NOTES = "notes", _("留言")


class LeadForm(models.Model):
    """A public web form (官网留资表单) at /leads/form/<slug>/: anyone may submit it, no login; its
    leads get the default owner, source and campaign set here."""

    slug = models.SlugField(_("标识"), max_length=50, unique=True)
    title = models.CharField(_("标题"), max_length=100)
    intro = models.TextField(_("说明"), blank=True)
    fields = models.JSONField(_("显示字段"), default=list, blank=True)
    default_owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+", verbose_name=_("默认负责人"))
    default_source = models.ForeignKey(
        "customers.PicklistOption", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        limit_choices_to={"kind": PicklistKind.SOURCE}, verbose_name=_("默认来源"),
    )
    campaign = models.CharField(_("市场活动"), max_length=100, blank=True)
    thank_you = models.TextField(_("提交后显示"), blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        verbose_name = _("线索表单")
        verbose_name_plural = _("线索表单")

    def __str__(self) -> str:
        return self.title

    @property
    def shown_fields(self) -> list[str]:
        return [f for f in (self.fields or []) if f in LeadFormField.values]
