"""Web pages of the contracts app: the list with filters and totals, the contract form, the detail
page (plan, payments, attachments), "生成合同" from a won deal and the number rule settings.
Views stay thin: parse input, call one service or selector, render; service errors become form
errors or messages. Attachments are streamed only after the contract was found through `restrict()`."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kehu.accounts.selectors import users_assignable
from kehu.core.errors import ValidationFailed, VersionConflict
from kehu.core.params import query_date, query_int
from kehu.customers import selectors as customer_selectors
from kehu.customers.views import admin_required, not_found_as_404
from kehu.sales import selectors as sales_selectors

from . import selectors, services
from .forms import AttachmentForm, ContractForm, NumberRuleForm, PaymentForm
from .models import Contract, ContractStatus

LIST_PAGE = 50
RECENT = 200
FILTER_KEYS = ("status", "owner", "customer", "q", "signed_from", "signed_to", "expiring", "overdue")


def list_filters(params: QueryDict, user: Any) -> selectors.ContractFilter:
    owner = params.get("owner", "")
    return selectors.ContractFilter(
        status=params.get("status", "") if params.get("status") in ContractStatus.values else "",
        owner=user.pk if owner == "me" else query_int(owner),
        customer=query_int(params.get("customer")),
        q=params.get("q", "").strip()[:100],
        signed_from=query_date(params.get("signed_from")),
        signed_to=query_date(params.get("signed_to")),
        expiring_days=query_int(params.get("expiring")),
        overdue=params.get("overdue") in ("1", "on", "true"),
    )


def _query(params: QueryDict) -> str:
    kept = QueryDict(mutable=True)
    for key in FILTER_KEYS:
        if params.get(key):
            kept[key] = params[key]
    return kept.urlencode()


@login_required
@require_GET
@not_found_as_404
def contract_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    rows = selectors.contracts_filtered(user=user, filters=list_filters(request.GET, user))
    page = Paginator(rows, LIST_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "totals": selectors.contract_totals(rows), "query": _query(request.GET),
               "params": request.GET, "today": timezone.localdate()}
    if request.headers.get("HX-Request") == "true":
        return render(request, "contracts/partials/list_results.html", context)
    context.update({
        "users": list(users_assignable(acting_user=user)), "statuses": ContractStatus.choices,
        "owners": selectors.receivables_by_owner(user=user),
        "overdue_items": list(selectors.overdue_instalments(user=user)[:10]),
        "expiring": list(selectors.contracts_expiring(user=user)[:10]),
    })
    return render(request, "contracts/pages/list.html", context)


def _form(request: HttpRequest, *, data: Any = None, initial: dict | None = None, contract: Contract | None = None,
          customer_id: int | None = None) -> ContractForm:
    user = request.user
    customers = list(customer_selectors.customers_visible(user=user).order_by("-updated_at", "-id")
                     .only("pk", "name")[:RECENT])
    wanted = customer_id or (contract.customer_id if contract else None)
    if wanted and all(c.pk != wanted for c in customers):
        extra = customer_selectors.customers_visible(user=user).filter(pk=wanted).first()
        if extra is not None:
            customers.insert(0, extra)
    opportunities = sales_selectors.opportunities_visible(user=user)
    opportunities = opportunities.filter(customer_id=wanted) if wanted else opportunities.none()
    users = list(users_assignable(acting_user=user))
    if contract is not None and contract.owner and all(u.pk != contract.owner_id for u in users):
        users.insert(0, contract.owner)
    return ContractForm(data=data, initial=initial, customers=customers, opportunities=opportunities[:RECENT],
                        users=users, editing=contract is not None)


@login_required
@require_http_methods(["GET", "POST"])
@not_found_as_404
def contract_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = _form(request, data=request.POST, customer_id=query_int(request.POST.get("customer")))
        if form.is_valid():
            try:
                contract = services.contract_create(acting_user=request.user, data=form.data_for_service())
            except ValidationFailed as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("已创建合同 %(n)s") % {"n": contract.number})
                return redirect("contracts:detail", pk=contract.pk)
    else:
        initial: dict[str, Any] = {"owner": request.user.pk, "currency": "CNY", "status": ContractStatus.DRAFT,
                                   "customer": query_int(request.GET.get("customer"))}
        opportunity_id = query_int(request.GET.get("opportunity"))
        if opportunity_id:
            deal = sales_selectors.opportunity_get(user=request.user, opportunity_id=opportunity_id)
            initial.update({"title": deal.name, "customer": deal.customer_id, "opportunity": deal.pk,
                            "amount": deal.amount, "currency": deal.currency, "owner": deal.owner_id,
                            "signed_on": timezone.localdate().isoformat()})
        form = _form(request, initial=initial, customer_id=initial["customer"])
    return render(request, "contracts/pages/form.html", {"form": form, "contract": None},
                  status=422 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
@not_found_as_404
def contract_edit(request: HttpRequest, pk: int) -> HttpResponse:
    contract = selectors.contract_get(user=request.user, contract_id=pk)
    status = 200
    if request.method == "POST":
        form = _form(request, data=request.POST, contract=contract, customer_id=query_int(request.POST.get("customer")))
        if form.is_valid():
            try:
                services.contract_update(acting_user=request.user, contract_id=pk, data=form.data_for_service(),
                                         expected_version=query_int(request.POST.get("version")))
            except ValidationFailed as exc:
                form.add_service_errors(exc)
                status = 422
            except VersionConflict as exc:
                form.add_error(None, exc.message)
                status = 409
            else:
                messages.success(request, _("已保存"))
                return redirect("contracts:detail", pk=pk)
        else:
            status = 422
    else:
        form = _form(request, contract=contract, initial={
            "number": contract.number, "title": contract.title, "customer": contract.customer_id,
            "opportunity": contract.opportunity_id, "owner": contract.owner_id, "amount": contract.amount,
            "currency": contract.currency, "signed_on": contract.signed_on, "starts_on": contract.starts_on,
            "ends_on": contract.ends_on, "notes": contract.notes})
    return render(request, "contracts/pages/form.html", {"form": form, "contract": contract}, status=status)


def _detail(request: HttpRequest, contract: Contract, *, payment_form: PaymentForm | None = None,
            attachment_error: str = "", plan_errors: list[str] | None = None,
            plan_values: list[dict[str, Any]] | None = None, status: int = 200) -> HttpResponse:
    rows = selectors.plan_rows(contract)
    if plan_values is None:
        plan_values = [{"due_date": r.item.due_date.isoformat(), "amount": r.item.amount, "note": r.item.note}
                       for r in rows]
    plan_values = plan_values + [{"due_date": "", "amount": "", "note": ""} for _i in range(2)]
    return render(request, "contracts/pages/detail.html", {
        "contract": contract, "plan": rows, "payments": selectors.payments_of(contract),
        "payment_form": payment_form or PaymentForm(plan_items=[r.item for r in rows],
                                                    initial={"received_on": timezone.localdate().isoformat()}),
        "attachment_form": AttachmentForm(), "attachment_error": attachment_error,
        "attachments": list(contract.attachments.select_related("uploaded_by")),
        "plan_errors": plan_errors or [], "plan_values": plan_values, "statuses": ContractStatus.choices,
        "today": timezone.localdate(),
    }, status=status)


@login_required
@require_GET
@not_found_as_404
def contract_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, selectors.contract_get(user=request.user, contract_id=pk))


@login_required
@require_POST
@not_found_as_404
def contract_status(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        contract = services.contract_set_status(acting_user=request.user, contract_id=pk,
                                                status=request.POST.get("status", ""),
                                                expected_version=query_int(request.POST.get("version")))
    except (ValidationFailed, VersionConflict) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("合同状态已改为“%(s)s”") % {"s": contract.get_status_display()})
    return redirect("contracts:detail", pk=pk)


@login_required
@require_POST
@not_found_as_404
def contract_delete(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.contract_delete(acting_user=request.user, contract_id=pk)
    except ValidationFailed as exc:
        messages.error(request, exc.message)
        return redirect("contracts:detail", pk=pk)
    messages.success(request, _("已删除合同"))
    return redirect("contracts:list")


@login_required
@require_POST
@not_found_as_404
def plan_save(request: HttpRequest, pk: int) -> HttpResponse:
    """The plan table: rows of due date, amount and note; rows left blank are dropped."""
    dues, amounts, notes = (request.POST.getlist(k) for k in ("due_date", "amount", "note"))
    values = [{"due_date": d.strip(), "amount": a.strip(), "note": n.strip()}
              for d, a, n in zip(dues, amounts, notes + [""] * (len(dues) - len(notes)), strict=False)]
    values = [v for v in values if v["due_date"] or v["amount"] or v["note"]]
    try:
        services.plan_set(acting_user=request.user, contract_id=pk, items=values)
    except ValidationFailed as exc:
        contract = selectors.contract_get(user=request.user, contract_id=pk)
        return _detail(request, contract, plan_errors=[str(e.message) for e in exc.errors], plan_values=values,
                       status=422)
    messages.success(request, _("回款计划已保存"))
    return redirect("contracts:detail", pk=pk)


@login_required
@require_POST
@not_found_as_404
def payment_create(request: HttpRequest, pk: int) -> HttpResponse:
    contract = selectors.contract_get(user=request.user, contract_id=pk)
    form = PaymentForm(request.POST, plan_items=contract.plan_items.order_by("sequence"))
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.payment_record(acting_user=request.user, contract_id=pk, received_on=data["received_on"],
                                    amount=data["amount"], method=data["method"] or "bank",
                                    reference=data["reference"], plan_item=data["plan_item"] or None)
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("已记录回款"))
            return redirect("contracts:detail", pk=pk)
    return _detail(request, contract, payment_form=form, status=422)


@login_required
@require_POST
@not_found_as_404
def payment_delete(request: HttpRequest, pk: int, payment_pk: int) -> HttpResponse:
    services.payment_delete(acting_user=request.user, contract_id=pk, payment_id=payment_pk)
    messages.success(request, _("已删除回款记录"))
    return redirect("contracts:detail", pk=pk)


@login_required
@require_POST
@not_found_as_404
def attachment_upload(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.attachment_add(acting_user=request.user, contract_id=pk, upload=request.FILES.get("file"))
    except ValidationFailed as exc:
        contract = selectors.contract_get(user=request.user, contract_id=pk)
        return _detail(request, contract, attachment_error="；".join(str(e.message) for e in exc.errors), status=422)
    messages.success(request, _("已上传附件"))
    return redirect("contracts:detail", pk=pk)


@login_required
@require_GET
@not_found_as_404
def attachment_download(request: HttpRequest, pk: int, attachment_pk: int) -> HttpResponse:
    """The file, streamed only for a contract the user may see (files have no public URL)."""
    contract = selectors.contract_get(user=request.user, contract_id=pk)
    attachment = contract.attachments.filter(pk=attachment_pk).first()
    if attachment is None or not attachment.file.storage.exists(attachment.file.name):
        raise Http404("attachment")
    return FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.name)


@login_required
@require_POST
@not_found_as_404
def attachment_delete(request: HttpRequest, pk: int, attachment_pk: int) -> HttpResponse:
    services.attachment_delete(acting_user=request.user, contract_id=pk, attachment_id=attachment_pk)
    messages.success(request, _("已删除附件"))
    return redirect("contracts:detail", pk=pk)


@login_required
@require_POST
@not_found_as_404
def from_opportunity(request: HttpRequest, opp_id: int) -> HttpResponse:
    """"生成合同" on a won deal's page: one step, then the new contract's page."""
    try:
        contract = services.contract_from_opportunity(acting_user=request.user, opportunity_id=opp_id)
    except ValidationFailed as exc:
        messages.error(request, exc.message)
        return redirect("sales:detail", pk=opp_id)
    messages.success(request, _("已生成合同 %(n)s") % {"n": contract.number})
    return redirect("contracts:detail", pk=contract.pk)


@admin_required
@require_http_methods(["GET", "POST"])
def number_rule(request: HttpRequest) -> HttpResponse:
    rule = services.number_rule()
    if request.method == "POST":
        form = NumberRuleForm(request.POST)
        if form.is_valid():
            try:
                services.number_rule_save(acting_user=request.user, data=form.cleaned_data)
            except ValidationFailed as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, _("合同编号规则已保存"))
                return redirect("contracts:settings")
    else:
        form = NumberRuleForm(initial={"prefix": rule.prefix, "date_part": rule.date_part,
                                       "sequence_width": rule.sequence_width, "reset": rule.reset})
    return render(request, "contracts/pages/settings.html", {"form": form, "rule": rule},
                  status=422 if form.errors else 200)


@login_required
@require_GET
def contract_export(request: HttpRequest, what: str = "contracts") -> HttpResponse:
    """The list's contracts (export/), their payments (export/payments/) or their payment plans
    (export/payment_plans/) as CSV/XLSX (`format`): the list's filters from the query string, the
    user's scope, audited."""
    from kehu.core.exporting import export_response, requested_columns

    if what not in ("contracts", "payments", "payment_plans"):
        raise Http404
    kind = what
    return export_response(kind, user=request.user, params=request.GET, fmt=request.GET.get("format", "csv"),
                           columns=requested_columns(request.GET))
