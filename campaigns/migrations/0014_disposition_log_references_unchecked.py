"""The log's references to numbers and accounts go unchecked by the database (as the
contacts' are): deleting a campaign of a million numbers spent 39 s at commit probing the
log once per number, though the deletion removes the log first (docs/profiles/workspace.md)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0013_lead_search_indexes'),
    ]

    operations = [
        migrations.AlterField(
            model_name='disposition',
            name='account',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='dispositions', to='campaigns.account'),
        ),
        migrations.AlterField(
            model_name='disposition',
            name='phone',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='dispositions', to='campaigns.campaignphone'),
        ),
    ]
