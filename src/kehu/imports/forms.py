"""Forms of the import wizard: the upload (file, kind) and the run options. The per-column
mapping is dynamic (one select per header) and read by the view from `col_<index>` fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from kehu.imports.engine import ImportOptions

ALLOWED_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls", ".ods")
DEFAULT_MAX_BYTES = 200 * 1024 * 1024

KIND_CHOICES = [("customers", _("客户")), ("contacts", _("联系人")), ("notes", _("跟进记录"))]


def kind_choices() -> list[tuple[str, str]]:
    """The built-in kinds first, then whatever later apps registered (products, opportunities …)."""
    from kehu.imports.engine import import_kinds

    builtin = [key for key, _label in KIND_CHOICES]
    registered = import_kinds()
    return list(KIND_CHOICES) + [(key, str(kind.label)) for key, kind in registered.items() if key not in builtin]
MODE_CHOICES = [("insert", _("只新增")), ("update", _("只更新已有记录")), ("upsert", _("新增或更新"))]
MATCH_CHOICES = [("external_id", _("外部编号")), ("mobile", _("手机")), ("email", _("邮箱")),
                 ("credit_code", _("统一社会信用代码"))]
DUPLICATE_CHOICES = [("skip", _("跳过")), ("update", _("更新已有记录")), ("flag", _("导入并标记待查"))]
OWNER_CHOICES = [("column", _("按文件中的负责人列")), ("round_robin", _("在选定用户间轮流分配")),
                 ("pool", _("放入公海（无负责人）")), ("importer", _("分配给我"))]


def max_upload_bytes() -> int:
    return int(getattr(settings, "KEHU_IMPORT_MAX_BYTES", DEFAULT_MAX_BYTES))


class UploadForm(forms.Form):
    file = forms.FileField(label=_("文件"), help_text=_("Excel（.xlsx/.xls）或 CSV，最大 200 MB"))
    kind = forms.ChoiceField(label=_("导入对象"), choices=kind_choices, initial="customers")

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if Path(upload.name or "").suffix.lower() not in ALLOWED_SUFFIXES:
            raise forms.ValidationError(_("只支持 Excel（.xlsx、.xls）和 CSV 文件"))
        if upload.size > max_upload_bytes():
            raise forms.ValidationError(_("文件太大（上限 %(mb)s MB）") % {"mb": max_upload_bytes() // (1024 * 1024)})
        return upload


class OptionsForm(forms.Form):
    mode = forms.ChoiceField(label=_("导入模式"), choices=MODE_CHOICES, initial="insert")
    match_by = forms.MultipleChoiceField(label=_("匹配已有记录"), choices=MATCH_CHOICES, required=False,
                                         widget=forms.CheckboxSelectMultiple,
                                         initial=["external_id", "credit_code"])
    duplicates = forms.ChoiceField(label=_("遇到已有记录（只新增模式）"), choices=DUPLICATE_CHOICES, initial="skip")
    owner_policy = forms.ChoiceField(label=_("负责人"), choices=OWNER_CHOICES, initial="column")
    owner_users = forms.ModelMultipleChoiceField(label=_("轮流分配给"), required=False,
                                                 queryset=get_user_model().objects.none(),
                                                 widget=forms.CheckboxSelectMultiple)
    template_name = forms.CharField(label=_("保存为映射模板"), max_length=100, required=False,
                                    help_text=_("填写名称即可在下次导入时直接套用"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner_users"].queryset = get_user_model().objects.filter(is_active=True).order_by("username")

    def options(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"mode": data["mode"], "match_by": list(data.get("match_by") or []), "duplicates": data["duplicates"],
                "owner_policy": data["owner_policy"], "owner_users": [u.pk for u in data.get("owner_users") or []]}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            from kehu.imports.engine import ImportOptionsError

            try:
                ImportOptions.from_dict(self.options())
            except ImportOptionsError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return data
