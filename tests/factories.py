"""factory_boy factories shared by every test module."""

from __future__ import annotations

import factory

from kehu.accounts.models import Department, Role, User
from kehu.customers.models import Contact, Customer, PicklistOption, Tag


def role(code: str) -> Role:
    """Default roles come from a data migration: admin, manager, sales, service, marketing."""
    return Role.objects.get(code=code)


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    name = factory.Sequence(lambda n: f"部门{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Sequence(lambda n: f"用户{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    role = factory.LazyFunction(lambda: role("sales"))
    department = factory.SubFactory(DepartmentFactory)
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):  # type: ignore[no-untyped-def]
        if create:
            instance.save()


class AdminFactory(UserFactory):
    role = factory.LazyFunction(lambda: role("admin"))


class ManagerFactory(UserFactory):
    role = factory.LazyFunction(lambda: role("manager"))


def option(kind: str, code: str) -> PicklistOption:
    return PicklistOption.objects.get(kind=kind, code=code)


class CustomerFactory(factory.django.DjangoModelFactory):
    """A row inserted directly (no service): use `kehu.customers.services.customer_create` when the
    test is about the write path; this factory is for arranging existing data."""

    class Meta:
        model = Customer
        skip_postgeneration_save = True

    kind = "company"
    name = factory.Sequence(lambda n: f"测试客户{n}有限公司")
    owner = factory.SubFactory(UserFactory)
    department = factory.LazyAttribute(lambda c: c.owner.department if c.owner else None)
    phones = factory.LazyFunction(list)
    emails = factory.LazyFunction(list)

    @factory.post_generation
    def index(obj, create, extracted, **kwargs):  # type: ignore[no-untyped-def]  # noqa: N805
        if create:
            from kehu.customers.search import index_customer

            index_customer(obj)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact
        skip_postgeneration_save = True

    customer = factory.SubFactory(CustomerFactory)
    name = factory.Sequence(lambda n: f"联系人{n}")

    @factory.post_generation
    def index(obj, create, extracted, **kwargs):  # type: ignore[no-untyped-def]  # noqa: N805
        if create:
            from kehu.customers.search import index_contact

            index_contact(obj)


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"标签{n}")
