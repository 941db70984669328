import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """The caller-ID daily limit's counter per number and day, and a "held" owned number
    (kept, never offered as a caller ID)."""

    dependencies = [
        ("telephony", "0015_voice_answer_voicemail_and_team_zone"),
    ]

    operations = [
        migrations.AlterField(
            model_name="ownednumber",
            name="status",
            field=models.CharField(
                choices=[
                    ("active", "Active"),
                    ("held", "Held (not dialled from)"),
                    ("released", "Released"),
                ],
                default="active",
                max_length=10,
            ),
        ),
        migrations.CreateModel(
            name="CallerIdUsage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("calls", models.PositiveIntegerField(default=0)),
                (
                    "owned_number",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="telephony.ownednumber",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("owned_number", "day"), name="telephony_caller_id_usage_unique"
                    )
                ],
            },
        ),
    ]
