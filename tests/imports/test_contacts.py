from __future__ import annotations

import pytest

from kehu.core.errors import ValidationFailed
from kehu.core.models import AuditEvent
from kehu.customers import search
from kehu.customers.models import Contact
from kehu.customers.services import contact_create
from kehu.imports import services
from kehu.imports.models import ImportRowLog
from tests.factories import CustomerFactory
from tests.imports.helpers import credit_code, write_csv

pytestmark = pytest.mark.django_db


def _run(user, path, **options):  # type: ignore[no-untyped-def]
    stored = services.store_upload(path, original_name=path.name)
    mapping = options.pop("mapping", None)
    batch = services.import_batch_create(acting_user=user, kind="contacts", path=stored, original_name=path.name,
                                         mapping=mapping, options=options)
    return services.import_run(batch)


def test_contacts_link_to_their_customer_by_credit_code_external_id_or_name(admin_user, tmp_path):
    by_code = CustomerFactory(name="甲科技有限公司", credit_code=credit_code(1))
    by_ext = CustomerFactory(name="乙科技有限公司", external_id="C-2")
    by_name = CustomerFactory(name="北京丙科技有限公司")
    path = write_csv(tmp_path / "c.csv", [
        ["客户统一社会信用代码", "客户外部编号", "客户名称", "姓名", "手机", "邮箱", "职务", "决策角色"],
        [credit_code(1), "", "", "张伟先生", "138 1234 5678", "ZW@Example.com", "总经理", ""],
        ["", "C-2", "", "李娜", "13912345678", "", "", ""],
        ["", "", "北京丙科技有限公司", "王芳", "", "", "", ""],
        ["", "", "不存在有限公司", "赵六", "", "", "", ""],
        ["", "", "", "孙七", "", "", "", ""],
    ])
    batch = _run(admin_user, path)
    assert (batch.created, batch.rejected) == (3, 2)
    zhang = Contact.objects.get(customer=by_code)
    assert (zhang.name, zhang.salutation, zhang.mobile, zhang.mobile_e164, zhang.email, zhang.title) == (
        "张伟", "先生", "13812345678", "+8613812345678", "ZW@example.com", "总经理")
    assert zhang.is_primary
    assert Contact.objects.get(customer=by_ext).name == "李娜"
    assert Contact.objects.get(customer=by_name).name == "王芳"
    problems = dict(ImportRowLog.objects.filter(batch=batch, action="rejected").values_list("row_number", "problems"))
    assert "找不到所属客户" in problems[5][0][1] and "需要所属客户" in problems[6][0][1]
    assert AuditEvent.objects.filter(object_type="contact", action="create").count() == 3
    assert [h.customer.pk for h in search.search(user=admin_user, query="1381234")] == [by_code.pk]


def test_contact_cleaning_matches_contact_create(admin_user, tmp_path):
    customer = CustomerFactory(name="甲科技有限公司", external_id="C1")
    data = {"name": "Dr. 王五", "mobile": "010-65529988", "email": "bad@", "title": "经理"}
    try:
        expected = contact_create(acting_user=admin_user, customer=customer, data=data)
        values = {f: getattr(expected, f) for f in ("name", "salutation", "mobile", "mobile_e164", "email", "title",
                                                   "name_pinyin")}
        expected.delete()
        errors = None
    except ValidationFailed as exc:
        errors = [[e.field, str(e.message)] for e in exc.errors]
    path = write_csv(tmp_path / "c.csv", [["客户外部编号", *data], ["C1", *data.values()]])
    batch = _run(admin_user, path, mapping={0: "customer_external_id", 1: "name", 2: "mobile", 3: "email",
                                            4: "title"})
    log = ImportRowLog.objects.get(batch=batch)
    if errors is not None:
        assert log.problems == errors
    else:
        contact = Contact.objects.get(pk=log.object_id)
        assert {f: getattr(contact, f) for f in values} == values


def test_contacts_update_by_mobile_and_undo(admin_user, tmp_path):
    customer = CustomerFactory(name="甲科技有限公司", external_id="C1")
    existing = contact_create(acting_user=admin_user, customer=customer, data={"name": "张三", "mobile": "13812345678"})
    path = write_csv(tmp_path / "c.csv", [["客户外部编号", "手机", "职务"], ["C1", "13812345678", "采购经理"]])
    batch = _run(admin_user, path, mode="upsert", match_by=["mobile"])
    assert batch.updated == 1
    existing.refresh_from_db()
    assert existing.title == "采购经理" and existing.version == 2
    services.import_undo(acting_user=admin_user, batch=batch)
    existing.refresh_from_db()
    assert existing.title == ""


def test_flag_policy_flags_a_person_already_a_contact_of_another_customer(admin_user, tmp_path):
    from kehu.customers.services import customer_create

    known = customer_create(acting_user=admin_user, data={"name": "北京分扬科技有限公司", "city": "北京"})
    contact_create(acting_user=admin_user, customer=known, data={"name": "张伟", "mobile": "13812345678"})
    target = CustomerFactory(name="上海远航物流有限公司", external_id="T1")
    path = write_csv(tmp_path / "f.csv", [
        ["客户外部编号", "姓名", "手机"], ["T1", "张伟", "138-1234-5678"], ["T1", "李娜", "13987654321"]])
    # Matched by e-mail only (the rows have none): the flag comes from the duplicate engine.
    batch = _run(admin_user, path, match_by=["email"], duplicates="flag")
    assert (batch.created, batch.flagged) == (1, 1)
    flagged = ImportRowLog.objects.get(batch=batch, action="flagged")
    assert flagged.row_number == 2
    assert "其他客户下登记" in flagged.problems[0][1] and f"#{known.pk} 北京分扬科技有限公司" in flagged.problems[0][1]
    assert Contact.objects.filter(customer=target).count() == 2  # flagged rows are imported too


def test_flag_policy_flags_the_same_person_entered_again_under_the_same_customer(admin_user, tmp_path):
    from kehu.dataquality.models import ContactDuplicatePair

    target = CustomerFactory(name="上海远航物流有限公司", external_id="T1")
    known = contact_create(acting_user=admin_user, customer=target, data={"name": "张伟", "mobile": "13812345678"})
    path = write_csv(tmp_path / "f.csv", [["客户外部编号", "姓名", "手机"], ["T1", "张先生", "138-1234-5678"]])
    batch = _run(admin_user, path, match_by=["email"], duplicates="flag")
    assert (batch.created, batch.flagged) == (0, 1)
    flagged = ImportRowLog.objects.get(batch=batch, action="flagged")
    assert f"已有的联系人“张伟”（#{known.pk}）" in flagged.problems[0][1] and "138****5678" in flagged.problems[0][1]
    # The imported row is in the review queue as a pair with the known contact, and leaves it on undo.
    pair = ContactDuplicatePair.objects.get()
    assert (pair.customer_id, pair.low_id, pair.high_id) == (target.pk, known.pk, flagged.object_id)
    services.import_undo(acting_user=admin_user, batch=batch)
    assert not ContactDuplicatePair.objects.exists()
