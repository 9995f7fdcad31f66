from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="remediationitem",
            name="cause",
            field=models.TextField(
                blank=True, help_text="Why the points were not achieved (nguyên nhân).", verbose_name="cause"
            ),
        ),
        migrations.AddField(
            model_name="remediationitem",
            name="result",
            field=models.TextField(blank=True, verbose_name="result reported by the unit"),
        ),
        migrations.AddField(
            model_name="remediationitem",
            name="result_reported_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="result reported at"),
        ),
        migrations.AlterField(
            model_name="remediationitem",
            name="created_at",
            field=models.DateTimeField(auto_now_add=True, verbose_name="created at"),
        ),
        migrations.AlterField(
            model_name="remediationitem",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, verbose_name="updated at"),
        ),
    ]
