"""What the notifications app tells the lower apps in `NotificationsConfig.ready()`: notifications
about a customer follow it when it is merged (and come back on an unmerge); its demo data."""

from __future__ import annotations

from django.utils.translation import gettext_lazy


def register() -> None:
    from kehu.dataquality.merging.registry import register_related
    from kehu.notifications.models import Notification

    register_related(Notification, "customer", label=gettext_lazy("通知"))

    from kehu.core.registries import demo_loaders
    from kehu.notifications.demo import load_demo_notifications

    if load_demo_notifications not in demo_loaders:
        demo_loaders.append(load_demo_notifications)
