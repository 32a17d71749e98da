"""The built-in mail templates the automation rule templates use ("welcome" for a new lead or
customer, "birthday" for the birthday greeting), in 中文 and English; admins edit them freely."""

from django.db import migrations

SIGN = "{% firstof sender.name customer.owner_name %}"
GREETING_ZH = "{% firstof contact.salutation customer.salutation customer.name %}"
GREETING_EN = "{% firstof contact.salutation contact.name customer.salutation customer.name %}"

TEMPLATES = [
    ("welcome", "zh-hans", "欢迎邮件", "感谢您的信任，{{ customer.short_name|default:customer.name }}",
     GREETING_ZH + "，您好！\n\n感谢您对我们的信任。我是您的专属顾问 " + SIGN + "，今后有任何需要，欢迎随时与我联系"
     "{% if customer.owner_email %}（{{ customer.owner_email }}）{% endif %}。\n\n祝好！\n" + SIGN + "\n"
     "{{ today|date:'Y年n月j日' }}\n"),
    ("welcome", "en", "Welcome", "Thank you, {{ customer.short_name|default:customer.name }}",
     "Dear " + GREETING_EN + ",\n\nThank you for your trust. I am " + SIGN + ", your account manager; "
     "feel free to contact me any time{% if customer.owner_email %} ({{ customer.owner_email }}){% endif %}."
     "\n\nBest regards,\n" + SIGN + "\n"),
    ("birthday", "zh-hans", "生日祝福", "生日快乐，{% firstof contact.salutation contact.name customer.name %}！",
     GREETING_ZH + "，您好！\n\n今天是您的生日，" + SIGN + " 和全体同事祝您生日快乐，身体健康，万事如意！\n\n"
     "{{ today|date:'Y年n月j日' }}\n"),
    ("birthday", "en", "Birthday greeting", "Happy birthday, {% firstof contact.name customer.name %}!",
     "Dear " + GREETING_EN + ",\n\nAll of us wish you a very happy birthday and a wonderful year ahead.\n\n"
     "Best regards,\n" + SIGN + "\n"),
]


def seed(apps, schema_editor):  # type: ignore[no-untyped-def]
    template = apps.get_model("mailing", "MailTemplate")
    for key, language, name, subject, body in TEMPLATES:
        template.objects.get_or_create(key=key, language=language,
                                       defaults={"name": name, "subject": subject, "body": body})


class Migration(migrations.Migration):
    dependencies = [("mailing", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
