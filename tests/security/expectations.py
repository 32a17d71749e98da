"""What every route needs, keyed like `routes.py` keys them. The matrix computes who may pass from
these entries with `has_operation()` and `restrict()`, so it follows role and scope changes; a route
missing here fails the matrix ("add an expectation for …").

- PUBLIC: anyone, signed in or not (login page, public lead form).
- AUTH: any signed-in user (own settings, own tokens, own notifications, my day).
- ADMIN: Kehu administrators only (users, roles).
- op(code): users whose role holds operation `code` ("customer.export").
- rec(record, code): `code` and the record (a key of the world's bundles: "customer", "contract" …)
  visible under `restrict()`; the URL's `arg` parameter carries it.
- mine(record): a row that belongs to a user (token, notification, saved view): only its owner.
`write=` gives the operation for POST/PUT/PATCH/DELETE of a web view whose GET needs another one.
`params` fills the other URL parameters from the record's bundle or the world's shared rows.
`missing=True`: the world has no such row (yet), so an allowed request may answer 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Expect:
    need: str  # public | auth | admin | op | record | mine
    code: str | None = None
    write: str | None = None
    record: str | None = None
    arg: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    missing: bool = False
    admin_ok: bool = False  # mine(): admins may act on anyone's row too
    owner_or: str | None = None  # record: its owner, or a holder of this operation (sharing)
    reveal: tuple[str, str] | None = None  # (object, field): readable in full, or masked + the reveal operation
    body: dict | None = None  # API: the JSON body to send instead of the one built from the schema
    # A refused request may answer 422 because the body can't be built here (a multipart upload):
    # the request never reached the handler.
    unreached_ok: bool = False
    # Whether the record must be writable (not just readable, e.g. through a read-only share). None:
    # derived — writing operations on the record's own object ("customer.edit" on a customer) need
    # it; creating child rows ("followup.create" on a customer) and reads don't.
    write_scope: bool | None = None

    def code_for(self, method: str) -> str | None:
        return self.write if self.write and method not in {"GET", "HEAD"} else self.code


PUBLIC = Expect("public")
AUTH = Expect("auth")
ADMIN = Expect("admin")
SETTINGS = Expect("op", "settings.manage")


def op(code: str, write: str | None = None, *, missing: bool = False, **params: str) -> Expect:
    return Expect("op", code, write, params=params, missing=missing)


def rec(record: str, code: str, arg: str = "pk", write: str | None = None, **params: str) -> Expect:
    return Expect("record", code, write, record=record, arg=arg, params=params)


def mine(record: str, arg: str = "pk", code: str | None = None, admin_ok: bool = False) -> Expect:
    return Expect("mine", code, record=record, arg=arg, admin_ok=admin_ok)


def share(code: str, owner_or: str, missing: bool = False, **params: str) -> Expect:
    """The record's sharing: visible to the user, who owns it or holds `owner_or` on a record they may
    change (not one only shared with them read-only); admins always."""
    return Expect("record", code, record="customer", arg="object_id", params={"kind": "lit:customers", **params},
                  missing=missing, owner_or=owner_or)


def settings(missing: bool = False, **params: str) -> Expect:
    return Expect("op", "settings.manage", params=params, missing=missing)


_M_WEB = "lit:987654321"  # an id no row has

WEB: dict[str, Expect] = {
    # accounts
    "accounts:login": PUBLIC,
    "accounts:logout": PUBLIC,
    "accounts:password_change": AUTH,
    "accounts:two_factor_verify": PUBLIC,
    "accounts:two_factor_setup": AUTH,
    "accounts:two_factor_start": AUTH,
    "accounts:two_factor_confirm": AUTH,
    "accounts:two_factor_recovery_codes": AUTH,
    "accounts:two_factor_disable": AUTH,
    "accounts:tokens": AUTH,
    "accounts:token_revoke": mine("token", "token_id", admin_ok=True),
    "accounts:users": ADMIN,
    "accounts:unlock": ADMIN,
    "accounts:user_deactivate": Expect("admin", params={"user_id": "user"}),
    "accounts:user_reactivate": Expect("admin", params={"user_id": "user"}),
    "accounts:two_factor_reset": Expect("admin", params={"user_id": "user"}),
    "accounts:roles": ADMIN,
    "accounts:role_create": ADMIN,
    "accounts:role_edit": Expect("admin", params={"role_id": "role"}),
    "accounts:role_delete": Expect("admin", params={"role_id": "role"}),
    "accounts:share_create": share("customer.view", "customer.assign"),
    "accounts:share_revoke": share("customer.view", "customer.assign", missing=True,
                                   share_id="lit:987654321"),
    # customers
    "customers:list": op("customer.view"),
    "customers:search": op("customer.view"),
    "customers:columns": op("customer.view"),
    "customers:export": op("customer.export"),
    "customers:bulk": op("customer.view", "customer.edit"),
    "customers:saved_view_create": op("customer.view"),
    "customers:saved_view_delete": mine("saved_view"),
    "customers:create": op("customer.create"),
    "customers:duplicate_check": op("customer.view"),
    "customers:detail": rec("customer", "customer.view"),
    "customers:edit": rec("customer", "customer.edit"),
    "customers:delete": rec("customer", "customer.delete"),
    "customers:timeline": rec("customer", "customer.view"),
    "customers:archive": rec("customer", "customer.export", fmt="lit:json"),
    "customers:note_create": rec("customer", "customer.view", write="followup.create"),
    "customers:contacts": rec("customer", "contact.view"),
    "customers:contact_create": rec("customer", "contact.create"),
    "customers:contact_edit": rec("contact", "contact.edit"),
    "customers:contact_delete": rec("contact", "contact.delete"),
    "customers:field_history": rec("customer", "customer.view"),
    "customers:reveal": Expect("record", "customer.view", record="customer", arg="pk",
                               params={"object_type": "lit:customer", "field": "lit:id_number"},
                               reveal=("customer", "id_number")),
    "customers:settings": SETTINGS,
    "customers:settings_picklists": SETTINGS,
    "customers:settings_picklist_edit": settings(pk="picklist"),
    "customers:settings_fields": SETTINGS,
    "customers:settings_field_create": SETTINGS,
    "customers:settings_field_edit": settings(pk="custom_field"),
    "customers:settings_tags": SETTINGS,
    "customers:settings_tag_edit": settings(pk="tag"),
    # data quality
    "dataquality:overview": op("customer.view"),
    "dataquality:queue": op("customer.view", key="lit:invalid_phones"),
    "dataquality:queue_action": op("customer.edit", key="lit:invalid_phones"),
    "dataquality:customer_mark_reviewed": rec("customer", "customer.edit"),
    "dataquality:settings": SETTINGS,
    "dataquality:settings_aliases": SETTINGS,
    "dataquality:settings_alias_delete": settings(pk="city_alias"),
    "dataquality:settings_synonyms": SETTINGS,
    "dataquality:settings_synonym_delete": settings(missing=True, pk="lit:987654321"),
    "dataquality:settings_rules": SETTINGS,
    "dataquality:settings_rule_create": SETTINGS,
    "dataquality:settings_rule_edit": settings(pk="validation_rule"),
    "dataquality:settings_rule_delete": settings(pk="validation_rule"),
    "dataquality:normalize_start": SETTINGS,
    "dataquality:job_progress": settings(missing=True, pk="lit:987654321"),
    "dataquality:job_report": settings(missing=True, pk="lit:987654321"),
    "dataquality:merge_compare": op("customer.merge"),
    "dataquality:merge_pick": rec("customer", "customer.merge"),
    "dataquality:merge_record": op("customer.merge", missing=True, pk="lit:987654321"),
    "dataquality:merge_undo": op("customer.merge", missing=True, pk="lit:987654321"),
    "dataquality:not_duplicate": op("customer.merge"),
    "dataquality:duplicates": op("customer.merge"),
    "dataquality:duplicate_dismiss": op("customer.merge", missing=True, pk="lit:987654321"),
    "dataquality:duplicates_scan_start": SETTINGS,
    "dataquality:duplicates_scan_progress": settings(missing=True, pk="lit:987654321"),
    "dataquality:contact_duplicates": op("contact.merge"),
    "dataquality:contact_pair_dismiss": op("contact.merge", missing=True, pk="lit:987654321"),
    "dataquality:contact_merge_compare": op("contact.merge"),
    "dataquality:contact_not_duplicate": op("contact.merge"),
    "dataquality:contact_merge_record": op("contact.merge", missing=True, pk="lit:987654321"),
    "dataquality:contact_merge_undo": op("contact.merge", missing=True, pk="lit:987654321"),
    # imports
    "imports:index": op("customer.import"),
    "imports:upload": op("customer.import"),
    "imports:map": op("customer.import", missing=True, token="lit:no-such-upload"),
    "imports:detail": mine("import_batch", code="customer.import", admin_ok=True),
    "imports:progress": mine("import_batch", code="customer.import", admin_ok=True),
    "imports:cancel": mine("import_batch", code="customer.import", admin_ok=True),
    "imports:confirm": mine("import_batch", code="customer.import", admin_ok=True),
    "imports:undo": mine("import_batch", code="customer.import", admin_ok=True),
    "imports:error_file": Expect("mine", "customer.import", record="import_batch", arg="pk", admin_ok=True,
                                  params={"fmt": "lit:csv"}, missing=True),  # the batch has no error file
    # sales
    "sales:board": op("opportunity.view"),
    "sales:column_more": op("opportunity.view", stage_id="stage"),
    "sales:list": op("opportunity.view"),
    "sales:export": op("opportunity.export"),
    "sales:forecast": op("opportunity.view"),
    "sales:create": op("opportunity.create"),
    "sales:contacts": op("opportunity.view"),
    "sales:detail": rec("opportunity", "opportunity.view", write="opportunity.edit"),
    "sales:move": rec("opportunity", "opportunity.edit"),
    "sales:delete": rec("opportunity", "opportunity.delete"),
    "sales:settings": SETTINGS,
    "sales:pipeline_create": SETTINGS,
    "sales:pipeline_edit": settings(pk="pipeline"),
    "sales:stage_create": settings(pipeline_pk="pipeline"),
    "sales:stage_edit": settings(pk="stage"),
    "sales:lost_reason_create": SETTINGS,
    "sales:lost_reason_edit": settings(pk="lost_reason"),
    "sales:product_create": op("product.create"),
    "sales:product_edit": op("product.edit", pk="product"),
    # leads
    "leads:list": op("lead.view"),
    "leads:create": op("lead.create"),
    "leads:export": op("lead.export"),
    "leads:duplicate_check": op("lead.view"),
    "leads:forms": SETTINGS,
    "leads:form_edit": settings(pk="lead_form"),
    "leads:public_form": Expect("public", params={"slug": "lead_form_slug"}),
    "leads:detail": rec("lead", "lead.view"),
    "leads:edit": rec("lead", "lead.edit"),
    "leads:status": rec("lead", "lead.edit"),
    "leads:convert": rec("lead", "lead.edit"),
    "leads:delete": rec("lead", "lead.delete"),
    # contracts
    "contracts:list": op("contract.view"),
    "contracts:create": op("contract.create"),
    "contracts:export": op("contract.export"),
    "contracts:export_kind": op("contract.export", what="lit:contracts"),
    "contracts:settings": SETTINGS,
    "contracts:from_opportunity": rec("opportunity", "contract.create", arg="opp_id"),
    "contracts:detail": rec("contract", "contract.view"),
    "contracts:edit": rec("contract", "contract.edit"),
    "contracts:status": rec("contract", "contract.edit"),
    "contracts:delete": rec("contract", "contract.delete"),
    "contracts:plan": rec("contract", "contract.edit"),
    "contracts:payment_create": rec("contract", "payment.create"),
    "contracts:payment_delete": rec("contract", "payment.delete", payment_pk="payment"),
    "contracts:attachment_upload": rec("contract", "contract.edit"),
    "contracts:attachment_download": Expect("record", "contract.view", record="contract", arg="pk",
                                            params={"attachment_pk": "lit:987654321"}, missing=True),
    "contracts:attachment_delete": Expect("record", "contract.edit", record="contract", arg="pk",
                                          params={"attachment_pk": "lit:987654321"}, missing=True),
    # pool
    "pool:list": op("pool.view"),
    "pool:claim": op("pool.assign", missing=True, pool_id="lit:987654321", customer_id="lit:987654321"),
    "pool:assign": op("pool.manage", missing=True, pool_id="lit:987654321", customer_id="lit:987654321"),
    "pool:release": Expect("record", "pool.assign", record="customer", arg="customer_id", write_scope=True),
    "pool:settings": Expect("op", "pool.manage"),
    "pool:settings_edit": op("pool.manage", missing=True, pool_id="lit:987654321"),
    "pool:run_scan": Expect("op", "pool.manage"),
    # activities
    "activities:my_day": AUTH,
    "activities:calendar": op("task.view"),
    "activities:feed_regenerate": AUTH,
    "activities:feed_revoke": AUTH,
    "activities:ical": Expect("public", params={"token": "lit:no-such-feed"}, missing=True),
    "activities:followups": op("followup.view"),
    "activities:followup_new": op("followup.create"),
    "activities:followup_edit": rec("followup", "followup.edit", arg="followup_id"),
    "activities:followup_delete": rec("followup", "followup.delete", arg="followup_id"),
    "activities:tasks": op("task.view"),
    "activities:task_new": op("task.create"),
    "activities:task_edit": rec("task", "task.edit", arg="task_id"),
    "activities:task_complete": rec("task", "task.edit", arg="task_id"),
    "activities:task_reopen": rec("task", "task.edit", arg="task_id"),
    "activities:task_cancel": rec("task", "task.edit", arg="task_id"),
    "activities:kinds": SETTINGS,
    # mail
    "mailing:sent": op("mail.view"),
    "mailing:sent_detail": rec("mail", "mail.view"),
    "mailing:sent_retry": Expect("mine", "mail.create", record="mail", arg="pk", admin_ok=True),
    "mailing:templates": SETTINGS,
    "mailing:template_create": SETTINGS,
    "mailing:template_edit": settings(pk="mail_template"),
    "mailing:template_delete": settings(pk="mail_template"),
    "mailing:preview": op("mail.create"),
    "mailing:compose": rec("customer", "mail.create", arg="customer_id"),
    # notifications
    "notifications:list": AUTH,
    "notifications:badge": AUTH,
    "notifications:read_all": AUTH,
    "notifications:read": mine("notification"),
    "notifications:open": mine("notification"),
    # automation
    "automation:list": op("automation.view"),
    "automation:create": op("automation.manage"),
    "automation:from_template": op("automation.manage", key="lit:no-such-template", missing=True),
    "automation:trigger_fields": op("automation.manage"),
    "automation:action_row": op("automation.manage"),
    "automation:audience": op("automation.manage"),
    "automation:from_list": op("automation.manage", object_type="lit:customer"),
    "automation:edit": op("automation.view", "automation.manage", rule_id="rule"),
    "automation:dry_run": op("automation.manage", rule_id="rule"),
    "automation:toggle": op("automation.manage", rule_id="rule"),
    "automation:run_now": op("automation.manage", rule_id="rule"),
    "automation:delete": op("automation.manage", rule_id="rule"),
    "automation:runs": op("automation.view", rule_id="rule"),
    # audit
    "audit:list": op("audit.view"),
    # privacy (exporting and erasing personal data is an admin's job)
    "privacy:customer": rec("customer", "customer.view", arg="customer_id"),
    "privacy:consent_add": rec("customer", "customer.edit", arg="customer_id"),
    "privacy:consent_withdraw": rec("consent", "customer.edit", arg="consent_id"),
    "privacy:export": Expect("admin", record="customer", arg="customer_id", params={"fmt": "lit:json"}),
    "privacy:erase": Expect("admin", record="customer", arg="customer_id"),
    # recycle bin
    "recyclebin:list": AUTH,
    "recyclebin:restore": Expect("record", "customer.restore", record="bin_entry", arg="entry_id"),
    "recyclebin:purge": Expect("admin", record="bin_entry", arg="entry_id"),
    # the site root redirects to the customer list
    "unnamed:": PUBLIC,
}

_M = "lit:987654321"  # an id no row has

API: dict[str, Expect] = {
    # not in the OpenAPI document
    "ANY /api/v1/": PUBLIC,
    "ANY /api/v1/<path:rest>": Expect("public", params={"rest": "lit:no/such/path"}, missing=True),
    "ANY /api/v1/docs": PUBLIC,
    "ANY /api/v1/openapi.json": PUBLIC,
    "GET /api/v1/me": AUTH,
    # customers, contacts
    "GET /api/v1/customers": op("customer.view"),
    "POST /api/v1/customers": op("customer.create"),
    "POST /api/v1/customers/duplicate-check": op("customer.view"),
    "GET /api/v1/customers/{customer_id}": rec("customer", "customer.view", "customer_id"),
    "PATCH /api/v1/customers/{customer_id}": rec("customer", "customer.edit", "customer_id"),
    "DELETE /api/v1/customers/{customer_id}": rec("customer", "customer.delete", "customer_id"),
    "GET /api/v1/customers/{customer_id}/notes": rec("customer", "customer.view", "customer_id"),
    "POST /api/v1/customers/{customer_id}/notes": rec("customer", "followup.create", "customer_id"),
    "GET /api/v1/customers/{customer_id}/timeline": rec("customer", "customer.view", "customer_id"),
    "GET /api/v1/customers/export": op("customer.export"),
    "GET /api/v1/customers/{customer_id}/archive": rec("customer", "customer.export", "customer_id"),
    "POST /api/v1/customers/bulk/tags": op("customer.edit"),
    "POST /api/v1/customers/bulk/owner": op("customer.assign"),
    "GET /api/v1/contacts": op("contact.view"),
    "POST /api/v1/contacts": op("contact.create"),
    "GET /api/v1/contacts/{contact_id}": rec("contact", "contact.view", "contact_id"),
    "PATCH /api/v1/contacts/{contact_id}": rec("contact", "contact.edit", "contact_id"),
    "DELETE /api/v1/contacts/{contact_id}": rec("contact", "contact.delete", "contact_id"),
    "GET /api/v1/search": op("customer.view"),
    "GET /api/v1/tags": AUTH,
    "POST /api/v1/tags": AUTH,  # by design: tagging a customer with a new name creates the tag too
    "GET /api/v1/tags/{tag_id}": op("customer.view", tag_id="tag"),
    "PATCH /api/v1/tags/{tag_id}": settings(tag_id="tag"),
    "DELETE /api/v1/tags/{tag_id}": settings(tag_id="tag"),
    "GET /api/v1/picklists": AUTH,
    "POST /api/v1/picklists": SETTINGS,
    "GET /api/v1/picklists/{option_id}": Expect("auth", params={"option_id": "picklist"}),
    "PATCH /api/v1/picklists/{option_id}": settings(option_id="picklist"),
    "DELETE /api/v1/picklists/{option_id}": settings(option_id="picklist"),
    "GET /api/v1/custom-fields": AUTH,
    "POST /api/v1/custom-fields": SETTINGS,
    "GET /api/v1/custom-fields/{field_id}": Expect("auth", params={"field_id": "custom_field"}),
    "PATCH /api/v1/custom-fields/{field_id}": settings(field_id="custom_field"),
    "DELETE /api/v1/custom-fields/{field_id}": settings(field_id="custom_field"),
    "POST /api/v1/customers/{customer_id}/contacts/duplicate-check": rec("customer", "contact.view", "customer_id"),
    # data quality
    "GET /api/v1/quality/overview": op("customer.view"),
    "GET /api/v1/quality/queues": op("customer.view"),
    "GET /api/v1/quality/queues/{key}": op("customer.view", key="lit:invalid_phones"),
    "GET /api/v1/quality/customers/{customer_id}": rec("customer", "customer.view", "customer_id"),
    "POST /api/v1/quality/actions/mark-reviewed": op("customer.edit"),
    # The OpenAPI document describes this body with the pool's AssignIn (two schemas share the name).
    "POST /api/v1/quality/actions/assign-to-owner": Expect("op", "customer.assign", body={"ids": []}),
    "POST /api/v1/quality/actions/apply-email-fixes": op("customer.edit"),
    "GET /api/v1/quality/city-aliases": SETTINGS,
    "POST /api/v1/quality/city-aliases": SETTINGS,
    "PUT /api/v1/quality/city-aliases/{alias_id}": settings(alias_id="city_alias"),
    "DELETE /api/v1/quality/city-aliases/{alias_id}": settings(alias_id="city_alias"),
    "GET /api/v1/quality/synonyms": SETTINGS,
    "POST /api/v1/quality/synonyms": SETTINGS,
    "DELETE /api/v1/quality/synonyms/{synonym_id}": settings(missing=True, synonym_id=_M),
    "GET /api/v1/quality/rules": SETTINGS,
    "POST /api/v1/quality/rules": SETTINGS,
    "PUT /api/v1/quality/rules/{rule_id}": settings(rule_id="validation_rule"),
    "DELETE /api/v1/quality/rules/{rule_id}": settings(rule_id="validation_rule"),
    "GET /api/v1/quality/settings": SETTINGS,
    "PUT /api/v1/quality/settings": SETTINGS,
    "POST /api/v1/quality/normalize": SETTINGS,
    "GET /api/v1/quality/jobs/{job_id}": settings(missing=True, job_id=_M),
    "GET /api/v1/quality/jobs/{job_id}/report": settings(missing=True, job_id=_M),
    "POST /api/v1/quality/merge/preview": op("customer.merge"),
    "POST /api/v1/quality/merge": op("customer.merge"),
    "GET /api/v1/quality/merges/{merge_id}": op("customer.merge", missing=True, merge_id=_M),
    "POST /api/v1/quality/merges/{merge_id}/undo": op("customer.merge", missing=True, merge_id=_M),
    "POST /api/v1/quality/not-duplicate": op("customer.merge"),
    "GET /api/v1/quality/duplicates": op("customer.merge"),
    "POST /api/v1/quality/duplicates/{pair_id}/dismiss": op("customer.merge", missing=True, pair_id=_M),
    "POST /api/v1/quality/duplicates/scan": SETTINGS,
    "GET /api/v1/quality/duplicates/scan/{job_id}": settings(missing=True, job_id=_M),
    "GET /api/v1/quality/contact-duplicates": op("contact.merge"),
    "POST /api/v1/quality/contact-duplicates/{pair_id}/dismiss": op("contact.merge", missing=True, pair_id=_M),
    "POST /api/v1/quality/contact-merge/preview": op("contact.merge"),
    "POST /api/v1/quality/contact-merge": op("contact.merge"),
    "GET /api/v1/quality/contact-merges/{merge_id}": op("contact.merge", missing=True, merge_id=_M),
    "POST /api/v1/quality/contact-merges/{merge_id}/undo": op("contact.merge", missing=True, merge_id=_M),
    # imports
    "POST /api/v1/imports": Expect("op", "customer.import", unreached_ok=True),
    "GET /api/v1/imports/{batch_id}": mine("import_batch", "batch_id", "customer.import", admin_ok=True),
    "POST /api/v1/imports/{batch_id}/undo": mine("import_batch", "batch_id", "customer.import", admin_ok=True),
    # sales
    "GET /api/v1/opportunities": op("opportunity.view"),
    "POST /api/v1/opportunities": op("opportunity.create"),
    "GET /api/v1/opportunities/{opportunity_id}": rec("opportunity", "opportunity.view", "opportunity_id"),
    "PATCH /api/v1/opportunities/{opportunity_id}": rec("opportunity", "opportunity.edit", "opportunity_id"),
    "DELETE /api/v1/opportunities/{opportunity_id}": rec("opportunity", "opportunity.delete", "opportunity_id"),
    "POST /api/v1/opportunities/{opportunity_id}/move": rec("opportunity", "opportunity.edit", "opportunity_id"),
    "GET /api/v1/opportunities/{opportunity_id}/stage-history": rec("opportunity", "opportunity.view",
                                                                    "opportunity_id"),
    "GET /api/v1/sales/board": op("opportunity.view"),
    "GET /api/v1/sales/board/columns/{stage_id}": op("opportunity.view", stage_id="stage"),
    "GET /api/v1/sales/forecast": op("opportunity.view"),
    "GET /api/v1/sales/funnel": op("opportunity.view"),
    "GET /api/v1/sales/figures": op("opportunity.view"),
    "GET /api/v1/sales/pipelines": AUTH,
    "POST /api/v1/sales/pipelines": SETTINGS,
    "PUT /api/v1/sales/pipelines/{pipeline_id}": settings(pipeline_id="pipeline"),
    "POST /api/v1/sales/pipelines/{pipeline_id}/stages": settings(pipeline_id="pipeline"),
    "PUT /api/v1/sales/pipelines/{pipeline_id}/stages/{stage_id}": settings(pipeline_id="pipeline", stage_id="stage"),
    "GET /api/v1/sales/lost-reasons": AUTH,
    "POST /api/v1/sales/lost-reasons": SETTINGS,
    "PUT /api/v1/sales/lost-reasons/{reason_id}": settings(reason_id="lost_reason"),
    "GET /api/v1/sales/products": op("product.view"),
    "POST /api/v1/sales/products": op("product.create"),
    "PUT /api/v1/sales/products/{product_id}": op("product.edit", product_id="product"),
    "GET /api/v1/opportunities/export": op("opportunity.export"),
    "GET /api/v1/products/export": op("product.export"),
    # leads
    "GET /api/v1/leads": op("lead.view"),
    "POST /api/v1/leads": op("lead.create"),
    "POST /api/v1/leads/duplicate-check": op("lead.view"),
    "GET /api/v1/leads/{lead_id}": rec("lead", "lead.view", "lead_id"),
    "PATCH /api/v1/leads/{lead_id}": rec("lead", "lead.edit", "lead_id"),
    "DELETE /api/v1/leads/{lead_id}": rec("lead", "lead.delete", "lead_id"),
    "POST /api/v1/leads/{lead_id}/status": rec("lead", "lead.edit", "lead_id"),
    "POST /api/v1/leads/{lead_id}/convert": rec("lead", "lead.edit", "lead_id"),
    "GET /api/v1/leads/export": op("lead.export"),
    # contracts
    "GET /api/v1/contracts": op("contract.view"),
    "POST /api/v1/contracts": op("contract.create"),
    "POST /api/v1/contracts/from-opportunity": op("contract.create"),
    "GET /api/v1/contracts/receivables": op("contract.view"),
    "GET /api/v1/contracts/receivables/by-owner": op("contract.view"),
    "GET /api/v1/contracts/overdue": op("contract.view"),
    "GET /api/v1/contracts/expiring": op("contract.view"),
    "GET /api/v1/contracts/{contract_id}": rec("contract", "contract.view", "contract_id"),
    "PATCH /api/v1/contracts/{contract_id}": rec("contract", "contract.edit", "contract_id"),
    "DELETE /api/v1/contracts/{contract_id}": rec("contract", "contract.delete", "contract_id"),
    "PUT /api/v1/contracts/{contract_id}/plan": rec("contract", "contract.edit", "contract_id"),
    "POST /api/v1/contracts/{contract_id}/payments": rec("contract", "payment.create", "contract_id"),
    "DELETE /api/v1/contracts/{contract_id}/payments/{payment_id}": rec("contract", "payment.delete", "contract_id",
                                                                       payment_id="payment"),
    "GET /api/v1/contracts/export": op("contract.export"),
    "GET /api/v1/payments/export": op("payment.export"),
    "GET /api/v1/payment-plans/export": op("contract.export"),
    # pool
    "GET /api/v1/pools": op("pool.view"),
    "GET /api/v1/pools/{pool_id}/customers": op("pool.view", missing=True, pool_id=_M),
    "POST /api/v1/pools/{pool_id}/claim": op("pool.assign", missing=True, pool_id=_M),
    "POST /api/v1/pools/{pool_id}/assign": op("pool.manage", missing=True, pool_id=_M),
    "POST /api/v1/pool/release": op("pool.assign"),
    "POST /api/v1/pool/auto-return": op("pool.manage"),
    "GET /api/v1/pool/reminders": op("pool.view"),
    # activities
    "GET /api/v1/followup-kinds": AUTH,
    "GET /api/v1/followups": op("followup.view"),
    "POST /api/v1/followups": op("followup.create"),
    "GET /api/v1/followups/{followup_id}": rec("followup", "followup.view", "followup_id"),
    "PATCH /api/v1/followups/{followup_id}": rec("followup", "followup.edit", "followup_id"),
    "DELETE /api/v1/followups/{followup_id}": rec("followup", "followup.delete", "followup_id"),
    "GET /api/v1/tasks": op("task.view"),
    "POST /api/v1/tasks": op("task.create"),
    "GET /api/v1/tasks/{task_id}": rec("task", "task.view", "task_id"),
    "PATCH /api/v1/tasks/{task_id}": rec("task", "task.edit", "task_id"),
    "POST /api/v1/tasks/{task_id}/complete": rec("task", "task.edit", "task_id"),
    "POST /api/v1/tasks/{task_id}/reopen": rec("task", "task.edit", "task_id"),
    "GET /api/v1/me/day": AUTH,
    # mail
    "GET /api/v1/mail/templates": op("mail.create"),
    "POST /api/v1/mail/preview": op("mail.create"),
    "POST /api/v1/mail/send": op("mail.create"),
    "GET /api/v1/mail/sent": op("mail.view"),
    "GET /api/v1/mail/sent/{mail_id}": rec("mail", "mail.view", "mail_id"),
    # notifications
    "GET /api/v1/notifications": AUTH,
    "GET /api/v1/notifications/unread-count": AUTH,
    "POST /api/v1/notifications/read-all": AUTH,
    "POST /api/v1/notifications/{notification_id}/read": mine("notification", "notification_id"),
    # automation
    "GET /api/v1/automation/rules": op("automation.view"),
    "POST /api/v1/automation/rules": op("automation.manage"),
    "GET /api/v1/automation/rules/{rule_id}": op("automation.view", rule_id="rule"),
    "PATCH /api/v1/automation/rules/{rule_id}": op("automation.manage", rule_id="rule"),
    "DELETE /api/v1/automation/rules/{rule_id}": op("automation.manage", rule_id="rule"),
    "POST /api/v1/automation/rules/{rule_id}/pause": op("automation.manage", rule_id="rule"),
    "POST /api/v1/automation/rules/{rule_id}/resume": op("automation.manage", rule_id="rule"),
    "POST /api/v1/automation/rules/{rule_id}/dry-run": op("automation.manage", rule_id="rule"),
    "GET /api/v1/automation/rules/{rule_id}/runs": op("automation.view", rule_id="rule"),
    "GET /api/v1/automation/rules/{rule_id}/logs": op("automation.view", rule_id="rule"),
    # audit
    "GET /api/v1/audit": op("audit.view"),
    # privacy
    "GET /api/v1/customers/{customer_id}/consents": rec("customer", "customer.view", "customer_id"),
    "POST /api/v1/customers/{customer_id}/consents": rec("customer", "customer.edit", "customer_id"),
    "POST /api/v1/consents/{consent_id}/withdraw": rec("consent", "customer.edit", "consent_id"),
    "GET /api/v1/customers/{customer_id}/personal-data": Expect("admin", record="customer", arg="customer_id"),
    "POST /api/v1/customers/{customer_id}/erase": Expect("admin", record="customer", arg="customer_id"),
    # field history, masking
    "GET /api/v1/customers/{customer_id}/history": rec("customer", "customer.view", "customer_id"),
    "POST /api/v1/customers/{customer_id}/reveal": Expect("record", "customer.view", record="customer",
                                                          arg="customer_id", reveal=("customer", "id_number"),
                                                          body={"field": "id_number"}),
    "POST /api/v1/contacts/{contact_id}/reveal": Expect("record", "contact.view", record="contact", arg="contact_id",
                                                        reveal=("contact", "mobile"), body={"field": "mobile"}),
    # roles, sharing
    "GET /api/v1/roles": ADMIN,
    "POST /api/v1/roles": ADMIN,
    "GET /api/v1/roles/{role_id}": Expect("admin", params={"role_id": "role"}),
    "PUT /api/v1/roles/{role_id}": Expect("admin", params={"role_id": "role"}),
    "DELETE /api/v1/roles/{role_id}": Expect("admin", params={"role_id": "role"}),
    "GET /api/v1/{kind}/{object_id}/shares": rec("customer", "customer.view", "object_id", kind="lit:customers"),
    "POST /api/v1/{kind}/{object_id}/shares": share("customer.view", "customer.assign"),
    "DELETE /api/v1/{kind}/{object_id}/shares/{share_id}": share("customer.view", "customer.assign", missing=True,
                                                                 share_id=_M),
    # recycle bin
    "GET /api/v1/recyclebin": AUTH,
    "POST /api/v1/recyclebin/{entry_id}/restore": Expect("record", "customer.restore", record="bin_entry",
                                                        arg="entry_id"),
    "DELETE /api/v1/recyclebin/{entry_id}": Expect("admin", record="bin_entry", arg="entry_id"),
}

EXPECTATIONS: dict[str, Expect] = {**WEB, **API}
