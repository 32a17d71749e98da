# Indexes for "no follow-up for N days": the pool's nightly auto-return (per owner) and automation rules.

import django.db.models.functions.comparison
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0005_external_id'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(django.db.models.functions.comparison.Coalesce('last_activity_at', 'created_at'), name='customer_idle_since'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(models.F('owner'), django.db.models.functions.comparison.Coalesce('last_activity_at', 'created_at'), name='customer_owner_idle_since'),
        ),
    ]
