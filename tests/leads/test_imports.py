"""Leads through the import registry: rows written by `lead_create` (normalisation, owner, audit),
a refused row logged with its field and reason, external ids skipped, dry run, undo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kehu.imports import engine, services
from kehu.imports.models import ImportBatch, ImportRowLog
from kehu.leads.models import Lead
from tests.factories import UserFactory
from tests.imports.helpers import write_csv

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    return settings.DATA_DIR


def run(user: Any, path: Path, *, dry_run: bool = False, **options: Any) -> ImportBatch:
    stored = services.store_upload(path, original_name=path.name)
    batch = services.import_batch_create(acting_user=user, kind="leads", path=stored, original_name=path.name,
                                         options=options, dry_run=dry_run)
    return services.import_run(batch)


def test_leads_kind_is_registered() -> None:
    assert {"name", "company", "mobile", "email", "source", "campaign", "owner"} <= set(
        engine.import_kinds()["leads"].targets())


def test_import_leads_with_a_problem_per_bad_row_dry_run_and_undo(manager_user, tmp_path) -> None:
    rep = UserFactory(display_name="李销售", department=manager_user.department)
    path = write_csv(tmp_path / "leads.csv", [
        ["姓名", "公司", "手机", "邮箱", "来源", "市场活动", "负责人", "外部编号"],
        ["张先生", "分扬科技", "138 1234 5678", "zw@fenyang.cn", "展会", "春季展", "李销售", "L-1"],
        ["", "", "13900001111", "", "", "", "", "L-2"],
        ["王芳", "", "12", "", "", "", "", "L-3"],
        ["赵敏", "某某公司", "", "", "不存在的来源", "", "", "L-4"],
    ])
    dry = run(manager_user, path, dry_run=True)
    assert (dry.created, dry.rejected) == (1, 3) and not Lead.objects.exists()
    batch = run(manager_user, path)
    assert (batch.created, batch.rejected) == (1, 3)
    lead = Lead.objects.get()
    assert (lead.name, lead.salutation, lead.mobile_e164, lead.owner, lead.campaign, lead.external_id) == (
        "张", "先生", "+8613812345678", rep, "春季展", "L-1")
    problems = dict(ImportRowLog.objects.filter(batch=batch, action="rejected").values_list("row_number", "problems"))
    assert [p[0] for p in problems[3]] == ["name"]
    assert [p[0] for p in problems[4]] == ["mobile"]
    assert [p[0] for p in problems[5]] == ["source"]
    again = run(manager_user, path)
    assert again.skipped == 1 and Lead.objects.count() == 1
    services.import_undo(acting_user=manager_user, batch=batch)
    assert not Lead.objects.exists()
