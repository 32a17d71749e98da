from __future__ import annotations

import pytest

from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.core.models import AuditEvent, Job
from kehu.customers import search
from kehu.customers.models import Customer, SearchToken
from kehu.customers.services import customer_create
from kehu.dataquality.models import MatchKey
from kehu.imports import services
from kehu.imports.models import ImportBatch, ImportRowLog
from tests.factories import CustomerFactory, UserFactory, option
from tests.imports.helpers import credit_code, error_rows, run_import, write_csv, write_xlsx

pytestmark = pytest.mark.django_db

HEADERS = ["名称", "电话", "邮箱", "统一社会信用代码", "城市", "来源"]
MAPPING = {0: "name", 1: "phones", 2: "emails", 3: "credit_code", 4: "city", 5: "source"}


def test_bom_csv_creates_customers_with_canonical_values_audit_search_and_quality(admin_user, tmp_path):
    path = write_csv(tmp_path / "c.csv", [
        HEADERS,
        ["北京分扬科技有限公司", "138 1234 5678", "Info@Fenyang.COM", credit_code(1), "北京", "百度"],
        ["上海启明贸易有限公司", "021-65529988", "", "", "上海", ""],
    ], encoding="utf-8-sig")
    batch = run_import(admin_user, path, mapping=MAPPING)
    assert batch.status == ImportBatch.Status.DONE
    assert batch.counts() == {"rows": 2, "created": 2, "updated": 0, "skipped": 0, "flagged": 0, "rejected": 0}
    first = Customer.objects.get(name="北京分扬科技有限公司")
    assert first.phones == ["13812345678"] and first.phones_e164 == ["+8613812345678"]
    assert first.emails == ["Info@fenyang.com"]  # the local part keeps its case
    assert first.city == "北京市" and first.province == "北京市"
    assert first.source == option("source", "baidu_ads")
    assert first.owner == admin_user and first.created_by == admin_user and first.version == 1
    assert first.name_core and first.name_pinyin
    assert first.quality_score is not None
    assert MatchKey.objects.filter(customer=first, kind="credit_code", value=credit_code(1)).exists()
    assert AuditEvent.objects.filter(object_type="customer", object_id=first.pk, action="create").count() == 1
    assert [h.customer.pk for h in search.search(user=admin_user, query="分扬")] == [first.pk]
    assert SearchToken.objects.filter(customer=first, token="r:8765").exists() or \
        SearchToken.objects.filter(customer=first).count() > 5
    assert batch.error_file == "" and batch.stored_path == ""
    assert list(services.uploads_dir().iterdir()) == []  # the upload is gone once the job finished


def test_gbk_csv_and_xlsx_read_the_same(admin_user, tmp_path):
    rows = [HEADERS, ["杭州西湖茶叶有限公司", "13912345678", "", "", "杭州", "展会"]]
    gbk = write_csv(tmp_path / "gbk.csv", rows, encoding="gbk")
    xlsx = write_xlsx(tmp_path / "x.xlsx", [HEADERS, ["苏州园林设计有限公司", 13912345679, "", "", "苏州", "官网"]])
    assert run_import(admin_user, gbk, mapping=MAPPING).created == 1
    batch = run_import(admin_user, xlsx, mapping=MAPPING)
    assert batch.created == 1 and batch.file_format == "xlsx"
    assert Customer.objects.get(name="杭州西湖茶叶有限公司").city == "杭州市"
    assert Customer.objects.get(name="苏州园林设计有限公司").phones == ["13912345679"]  # a number cell, no ".0"


def test_blank_rows_are_skipped_and_rejected_rows_go_to_the_error_file(admin_user, tmp_path):
    path = write_csv(tmp_path / "c.csv", [
        HEADERS,
        ["好公司有限公司", "13812345678", "", "", "", ""],
        ["", "", "", "", "", ""],
        ["", "13812345679", "", "", "", ""],  # no name
        ["坏代码有限公司", "", "", "91110108MA01234567", "", "不存在的来源"],
    ])
    batch = run_import(admin_user, path, mapping=MAPPING)
    assert batch.counts() == {"rows": 3, "created": 1, "updated": 0, "skipped": 0, "flagged": 0, "rejected": 2}
    rows = error_rows(batch)
    assert rows[0] == [*HEADERS, "行号", "字段", "原因"]
    assert rows[1][:6] == ["", "13812345679", "", "", "", ""]
    assert rows[1][6:] == ["4", "名称", "名称为必填项"]
    assert rows[2][6] == "5"
    assert rows[2][7] == "来源渠道; 统一社会信用代码"  # the order customer_create reports them in
    assert "统一社会信用代码校验位不正确" in rows[2][8] and "未知的选项：不存在的来源" in rows[2][8]
    problems = batch.job.result["problems"]
    assert [(p["row"], p["field"]) for p in problems] == [(4, "name"), (5, "source"), (5, "credit_code")]


def test_error_file_is_english_for_an_english_user(admin_user, tmp_path):
    from django.utils import translation

    path = write_csv(tmp_path / "c.csv", [HEADERS, ["", "13812345679", "", "", "", ""]])
    with translation.override("en"):
        batch = run_import(admin_user, path, mapping=MAPPING)
    assert error_rows(batch)[0][-3:] == ["Row", "Field", "Reason"]


def test_formula_cells_round_trip_and_html_stays_text(admin_user, tmp_path):
    path = write_csv(tmp_path / "c.csv", [
        ["名称", "备注"],
        ["'@分扬公司", "'=HYPERLINK(\"http://x\")"],
        ["<script>alert`1`</script>有限公司", "<b>粗体</b>"],
    ])
    batch = run_import(admin_user, path, mapping={0: "name", 1: "notes"})
    assert batch.created == 2
    formula = Customer.objects.get(name="@分扬公司")
    assert formula.notes == '=HYPERLINK("http://x")'
    html = Customer.objects.get(notes="<b>粗体</b>")
    assert html.name == "<script>alert`1`</script>有限公司"  # stored as typed; templates escape it


def test_error_file_escapes_formulas_again(admin_user, tmp_path):
    path = write_csv(tmp_path / "c.csv", [["名称", "来源"], ["'=1+2", "坏来源"]])
    batch = run_import(admin_user, path, mapping={0: "name", 1: "source"})
    assert batch.rejected == 1
    assert error_rows(batch)[1][0] == "'=1+2"


@pytest.mark.parametrize("data", [
    {"name": "北京分扬科技有限公司（北京）", "phones": "13812345678；010-65529988转123", "emails": "A@QQ.COM",
     "city": "BJ", "address": "朝阳区建国路88号", "credit_code": credit_code(7), "source": "baidu"},
    {"kind": "person", "name": "张伟先生", "phones": "+86 139-1234-5678", "id_number": "11010519491231002X"},
    {"name": "坏数据有限公司", "credit_code": "123", "industry": "不存在", "birthday": "1990-01-01"},
    {"kind": "person", "name": "李四", "credit_code": credit_code(8), "emails": "x@qq.con"},
])
def test_same_canonical_values_and_errors_as_customer_create(admin_user, tmp_path, data):
    keys = list(data)
    fields = ["kind", "name", "name_core", "name_pinyin", "name_initials", "salutation", "phones", "phones_e164",
              "emails", "province", "city", "district", "address", "credit_code", "id_number", "birthday", "gender",
              "source_id", "industry_id", "owner_id", "department_id", "website", "custom"]
    try:
        created = customer_create(acting_user=admin_user, data=data)
    except ValidationFailed as exc:
        expected_errors = [(e.field, str(e.message)) for e in exc.errors]
        expected = None
    else:
        expected = {f: getattr(created, f) for f in fields}
        created.delete()  # its credit code would clash with the imported copy
    path = write_csv(tmp_path / "c.csv", [keys, [data[k] for k in keys]])
    batch = run_import(admin_user, path, mapping=dict(enumerate(keys)))
    log = ImportRowLog.objects.get(batch=batch)
    if expected is None:
        assert log.action == "rejected"
        assert [tuple(p) for p in log.problems] == expected_errors
    else:
        assert log.action == "created"
        imported = Customer.objects.get(pk=log.object_id)
        assert {f: getattr(imported, f) for f in fields} == expected


def test_credit_code_unique_rule_rejects_clashes_with_the_archive_and_earlier_rows(admin_user, tmp_path):
    CustomerFactory(name="已有公司有限公司", credit_code=credit_code(3))
    from kehu.dataquality.quality import customers_quality_refresh

    customers_quality_refresh(list(Customer.objects.all()))
    path = write_csv(tmp_path / "c.csv", [
        ["名称", "信用代码"],
        ["新公司甲有限公司", credit_code(3)],
        ["新公司乙有限公司", credit_code(4)],
        ["新公司丙有限公司", credit_code(4)],
    ])
    batch = run_import(admin_user, path, mapping={0: "name", 1: "credit_code"}, match_by=["external_id"])
    assert (batch.created, batch.rejected) == (1, 2)
    logs = {log.row_number: log for log in ImportRowLog.objects.filter(batch=batch)}
    assert "已有公司有限公司" in logs[2].problems[0][1]
    assert logs[4].problems == [["credit_code", f"统一社会信用代码 {credit_code(4)} 与第 3 行重复"]]


def _existing(**fields):  # type: ignore[no-untyped-def]
    from kehu.dataquality.quality import customers_quality_refresh

    customer = CustomerFactory(**fields)
    customers_quality_refresh([customer])
    return customer


@pytest.mark.parametrize(("match_by", "column", "value"), [
    ("mobile", "phones", "13812340001"),
    ("email", "emails", "boss@Example.COM"),
    ("credit_code", "credit_code", credit_code(11)),
    ("external_id", "external_id", "CRM-0001"),
])
def test_update_mode_matches_by_each_key(admin_user, tmp_path, match_by, column, value):
    existing = _existing(name="老客户有限公司", phones=["13812340001"], phones_e164=["+8613812340001"],
                         emails=["boss@example.com"], credit_code=credit_code(11), external_id="CRM-0001")
    path = write_csv(tmp_path / "c.csv", [[column, "网站", "名称"], [value, "www.example.com", ""],
                                          ["nothing-matches@x.com" if column == "emails" else "zzz", "a.com", ""]])
    batch = run_import(admin_user, path, mapping={0: column, 1: "website", 2: "name"}, mode="update",
                       match_by=[match_by])
    assert (batch.updated, batch.skipped, batch.created, batch.rejected) == (1, 1, 0, 0)
    existing.refresh_from_db()
    assert existing.website == "https://www.example.com"
    assert existing.name == "老客户有限公司"  # a blank cell never clears a stored value
    assert existing.version == 2 and existing.updated_by == admin_user
    log = ImportRowLog.objects.get(batch=batch, action="updated")
    assert log.before == {"website": ""} and log.version_after == 2
    event = AuditEvent.objects.get(object_id=existing.pk, action="update")
    assert event.changes == [{"field": "website", "old": "", "new": "https://www.example.com"}]


def test_upsert_creates_or_updates_and_insert_duplicate_policies(admin_user, tmp_path):
    existing = _existing(name="老客户有限公司", external_id="E1")
    rows = [["编号", "名称", "备注"], ["E1", "老客户有限公司", "更新了"], ["E2", "新客户有限公司", "新的"]]
    path = write_csv(tmp_path / "c.csv", rows)
    mapping = {0: "external_id", 1: "name", 2: "notes"}
    upsert = run_import(admin_user, path, mapping=mapping, mode="upsert", match_by=["external_id"])
    assert (upsert.created, upsert.updated) == (1, 1)
    existing.refresh_from_db()
    assert existing.notes == "更新了"

    rows2 = [["编号", "名称", "备注"], ["E1", "老客户有限公司", "再次"], ["E3", "第三有限公司", ""]]
    skip = run_import(admin_user, write_csv(tmp_path / "d.csv", rows2), mapping=mapping, match_by=["external_id"])
    assert (skip.created, skip.skipped) == (1, 1)
    flag = run_import(admin_user, write_csv(tmp_path / "e.csv", rows2[:2]), mapping=mapping,
                      match_by=["external_id"], duplicates="flag")
    assert flag.flagged == 1 and Customer.objects.filter(external_id="E1").count() == 2
    assert error_rows(flag)[1][-1].startswith("可能与已有客户重复")
    update = run_import(admin_user, write_csv(tmp_path / "f.csv", [rows2[0], ["E3", "第三有限公司", "改"]]),
                        mapping=mapping, match_by=["external_id"], duplicates="update")
    assert update.updated == 1 and Customer.objects.get(external_id="E3").notes == "改"


def test_rows_matching_a_record_created_earlier_in_the_file_update_it(admin_user, tmp_path):
    rows = [["编号", "名称", "备注"], ["X1", "甲有限公司", "一"], ["X1", "甲有限公司", "二"]]
    path = write_csv(tmp_path / "c.csv", rows)
    batch = run_import(admin_user, path, mapping={0: "external_id", 1: "name", 2: "notes"}, mode="upsert",
                       match_by=["external_id"])
    assert (batch.created, batch.updated) == (1, 1)
    customer = Customer.objects.get(external_id="X1")
    assert customer.notes == "二" and customer.version == 2


def test_ambiguous_match_is_rejected(admin_user, tmp_path):
    _existing(name="甲有限公司", emails=["same@example.com"])
    _existing(name="乙有限公司", emails=["same@example.com"])
    path = write_csv(tmp_path / "c.csv", [["邮箱", "备注"], ["same@example.com", "x"]])
    batch = run_import(admin_user, path, mapping={0: "emails", 1: "notes"}, mode="update", match_by=["email"])
    assert batch.rejected == 1
    assert "匹配到多个已有客户" in ImportRowLog.objects.get(batch=batch).problems[0][1]


def test_owner_column_policy_and_round_robin(admin_user, tmp_path):
    rep = UserFactory(username="wang", display_name="王五", email="wang@corp.cn")
    other = UserFactory(username="li")
    path = write_csv(tmp_path / "c.csv", [["名称", "负责人"], ["甲有限公司", "王五"], ["乙有限公司", "WANG@corp.cn"],
                                          ["丙有限公司", ""], ["丁有限公司", "nobody"]])
    batch = run_import(admin_user, path, mapping={0: "name", 1: "owner"})
    assert (batch.created, batch.rejected) == (3, 1)
    owners = dict(Customer.objects.values_list("name", "owner_id"))
    assert owners == {"甲有限公司": rep.pk, "乙有限公司": rep.pk, "丙有限公司": admin_user.pk}
    assert Customer.objects.get(name="甲有限公司").department_id == rep.department_id

    path2 = write_csv(tmp_path / "d.csv", [["名称"], ["A有限公司"], ["B有限公司"], ["C有限公司"]])
    run_import(admin_user, path2, mapping={0: "name"}, owner_policy="round_robin", owner_users=[rep.pk, other.pk])
    assert sorted(Customer.objects.filter(name__in=["A有限公司", "B有限公司", "C有限公司"])
                  .values_list("owner_id", flat=True)) == sorted([rep.pk, other.pk, rep.pk])
    path3 = write_csv(tmp_path / "e.csv", [["名称"], ["公海有限公司"]])
    run_import(admin_user, path3, mapping={0: "name"}, owner_policy="pool")
    assert Customer.objects.get(name="公海有限公司").owner_id is None


def test_dry_run_writes_nothing_and_reports_counts_and_problems(admin_user, tmp_path):
    _existing(name="老客户有限公司", external_id="E1")
    before = (Customer.objects.count(), AuditEvent.objects.count(), SearchToken.objects.count(),
              MatchKey.objects.count())
    path = write_csv(tmp_path / "c.csv", [["编号", "名称", "来源"], ["E1", "老客户有限公司", ""],
                                          ["E2", "新有限公司", ""], ["E2", "新有限公司", ""], ["E3", "", ""],
                                          ["E4", "坏有限公司", "坏"]])
    batch = run_import(admin_user, path, mapping={0: "external_id", 1: "name", 2: "source"}, dry_run=True,
                       mode="upsert", match_by=["external_id"])
    # E1 matches but changes nothing (skipped); the second E2 row would update the first one's record.
    assert batch.counts() == {"rows": 5, "created": 1, "updated": 1, "skipped": 1, "flagged": 0, "rejected": 2}
    assert (Customer.objects.count(), AuditEvent.objects.count(), SearchToken.objects.count(),
            MatchKey.objects.count()) == before
    assert [p["row"] for p in batch.job.result["problems"]] == [5, 6]
    assert len(error_rows(batch)) == 3


def test_only_admins_and_managers_import(sales_user, manager_user, tmp_path):
    path = write_csv(tmp_path / "c.csv", [["名称"], ["甲有限公司"]])
    with pytest.raises(PermissionDenied):
        run_import(sales_user, path, mapping={0: "name"})
    assert ImportBatch.objects.count() == 0
    assert run_import(manager_user, path, mapping={0: "name"}).created == 1


def test_unknown_mapping_target_and_options_are_refused(admin_user, tmp_path):
    path = write_csv(tmp_path / "c.csv", [["名称"], ["甲有限公司"]])
    with pytest.raises(ValidationFailed):
        run_import(admin_user, path, mapping={0: "nonsense"})
    with pytest.raises(ValidationFailed):
        run_import(admin_user, path, mapping={0: "name"}, mode="replace")


def test_cancel_stops_at_a_chunk_boundary(admin_user, tmp_path, monkeypatch):
    from kehu.imports import engine

    monkeypatch.setattr(engine, "CHUNK_ROWS", 2)
    rows = [["名称"]] + [[f"客户{i}有限公司"] for i in range(6)]
    stored = services.store_upload(write_csv(tmp_path / "c.csv", rows), original_name="c.csv")
    batch = services.import_batch_create(acting_user=admin_user, kind="customers", path=stored,
                                         original_name="c.csv", mapping={0: "name"})

    def cancel_after_first(b, job):  # type: ignore[no-untyped-def]
        Job.objects.filter(pk=job.pk).update(cancel_requested=True)

    original = engine.run_rows

    def small_chunks(**kwargs):  # type: ignore[no-untyped-def]
        return original(**kwargs, chunk_rows=2)

    monkeypatch.setattr(engine, "run_rows", small_chunks)
    batch = services.import_run(batch, on_progress=cancel_after_first)
    assert batch.status == ImportBatch.Status.CANCELLED
    assert batch.created == 2 and batch.last_row == 3 and Customer.objects.count() == 2


def test_automatic_mapping_from_headers_with_original_creation_time_and_department(admin_user, tmp_path):
    from tests.factories import DepartmentFactory

    sales = DepartmentFactory(name="华东销售部")
    path = write_csv(tmp_path / "c.csv", [
        ["客户名称", "手机", "所属部门", "创建时间", "备注", "备注2"],
        ["甲有限公司", "13812345678", "华东销售部", "2019-05-06 10:11:12", "第一行", "第二行"],
    ])
    batch = run_import(admin_user, path)
    assert batch.mapping == {"0": "name", "1": "phones", "2": "department", "3": "created_at", "4": "notes",
                             "5": "notes"}
    customer = Customer.objects.get()
    assert customer.department == sales and customer.phones == ["13812345678"]
    assert customer.created_at.year == 2019 and customer.notes == "第一行\n第二行"


def test_a_manager_cannot_update_customers_outside_their_scope(manager_user, tmp_path):
    outsider = _existing(name="别人的客户有限公司", external_id="OUT1", owner=UserFactory())
    path = write_csv(tmp_path / "c.csv", [["编号", "备注"], ["OUT1", "改"]])
    batch = run_import(manager_user, path, mapping={0: "external_id", 1: "notes"}, mode="update",
                       match_by=["external_id"])
    assert batch.rejected == 1
    assert ImportRowLog.objects.get(batch=batch).problems == [["", "匹配到的客户不在你的数据范围内，不能更新"]]
    outsider.refresh_from_db()
    assert outsider.notes == "" and outsider.version == 1


def test_flag_policy_flags_name_variants_the_matching_engine_finds(admin_user, tmp_path):
    from kehu.customers import services as customer_services

    existing = customer_services.customer_create(acting_user=admin_user, data={
        "kind": "company", "name": "北京分扬科技有限公司", "phones": ["13812345678"], "city": "北京"})
    rows = [["名称", "手机"], ["分扬科技", "138 1234 5678"], ["上海远航物流有限公司", "13987654321"]]
    batch = run_import(admin_user, write_csv(tmp_path / "v.csv", rows), mapping={0: "name", 1: "phones"},
                       match_by=["external_id"], duplicates="flag")
    assert (batch.created, batch.flagged) == (1, 1)  # both written; the variant flagged for review
    flagged = error_rows(batch)[1]
    assert flagged[0] == "分扬科技" and f"#{existing.pk} 北京分扬科技有限公司" in flagged[-1]
    assert "138****5678" in flagged[-1]
    skip = run_import(admin_user, write_csv(tmp_path / "w.csv", rows[:2]), mapping={0: "name", 1: "phones"},
                      match_by=["external_id"], duplicates="skip")
    assert skip.created == 1 and skip.flagged == 0  # only "flag" pays for the engine's lookups
