from __future__ import annotations

import datetime as dt

import pytest
from django.utils.timezone import localtime

from kehu.customers.models import Customer, Note
from kehu.imports import services
from kehu.imports.models import ImportRowLog
from tests.factories import CustomerFactory, UserFactory
from tests.imports.helpers import write_csv

pytestmark = pytest.mark.django_db


def test_notes_keep_their_original_author_and_date_and_undo_removes_them(admin_user, tmp_path):
    customer = CustomerFactory(name="甲科技有限公司", external_id="C1")
    rep = UserFactory(username="wang", display_name="王五")
    path = write_csv(tmp_path / "n.csv", [
        ["客户外部编号", "跟进内容", "跟进人", "跟进时间"],
        ["C1", "电话沟通，客户有意向", "王五", "2021-03-04 09:30"],
        ["C1", "第二次拜访", "", "2021-05-06"],
        ["C1", "", "王五", ""],
        ["C9", "找不到客户", "", ""],
    ])
    stored = services.store_upload(path, original_name=path.name)
    batch = services.import_batch_create(acting_user=admin_user, kind="notes", path=stored, original_name=path.name)
    batch = services.import_run(batch)
    assert (batch.created, batch.rejected) == (2, 2)
    first, second = Note.objects.order_by("created_at")
    assert (first.body, first.author) == ("电话沟通，客户有意向", rep)
    assert localtime(first.created_at).date() == dt.date(2021, 3, 4)
    assert (second.author, localtime(second.created_at).date()) == (admin_user, dt.date(2021, 5, 6))
    customer.refresh_from_db()
    assert customer.last_activity_at == second.created_at
    problems = dict(ImportRowLog.objects.filter(batch=batch, action="rejected").values_list("row_number", "problems"))
    assert problems[4] == [["body", "备注内容不能为空"]]
    assert "找不到所属客户" in problems[5][0][1]

    services.import_undo(acting_user=admin_user, batch=batch)
    assert Note.objects.count() == 0
    assert Customer.objects.get().pk == customer.pk
