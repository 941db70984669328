from django.db import migrations, models


class Migration(migrations.Migration):
    """Each lead's zone key, and the queue index by key: the next lead reads the leads
    inside their calling window from the index (docs/dialing.md, "Next lead"). Existing
    leads get their key when first asked for (campaigns/dialing_zones.py)."""

    dependencies = [
        ("campaigns", "0014_disposition_log_references_unchecked"),
    ]

    operations = [
        migrations.AddField(
            model_name="contact",
            name="dial_zone",
            field=models.CharField(blank=True, db_default="", editable=False, max_length=200),
        ),
        migrations.RemoveIndex(
            model_name="contact",
            name="campaigns_contact_queue",
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(
                fields=["campaign", "queue", "dial_zone", "queue_at", "id"],
                name="campaigns_contact_queue_zone",
            ),
        ),
    ]
