from django.db import migrations

MIB = 1024 * 1024
PLANS = [
    {
        "code": "free",
        "name": "Free",
        "monthly_price": 0,
        "included_units": 1_000,
        "overage_unit_price": 0,
        "hard_limit": True,
        "connectors_allowed": ["legal", "earnings", "literature"],
        "max_document_bytes": 10 * MIB,
        "max_context_tokens": 32_768,
        "api_rate": "1200/min",
        "api_key_rate": "1200/min",
        "seats": 3,
        "is_default": True,
    },
    {
        "code": "team",
        "name": "Team",
        "monthly_price": 9_900,
        "included_units": 20_000,
        "overage_unit_price": 2,
        "hard_limit": False,
        "connectors_allowed": ["legal", "earnings", "literature"],
        "max_document_bytes": 20 * MIB,
        "max_context_tokens": 131_072,
        "api_rate": "3000/min",
        "api_key_rate": "1500/min",
        "seats": 20,
        "is_default": False,
    },
    {
        "code": "enterprise",
        "name": "Enterprise",
        "monthly_price": 99_000,
        "included_units": 300_000,
        "overage_unit_price": 1,
        "hard_limit": False,
        "connectors_allowed": [],
        "max_document_bytes": 100 * MIB,
        "max_context_tokens": 131_072,
        "api_rate": "12000/min",
        "api_key_rate": "6000/min",
        "seats": 500,
        "is_default": False,
    },
]


def seed(apps, schema_editor):
    plan_model = apps.get_model("billing", "Plan")
    for plan in PLANS:
        plan_model.objects.update_or_create(code=plan["code"], defaults={**plan, "currency": "usd"})


def unseed(apps, schema_editor):
    apps.get_model("billing", "Plan").objects.filter(code__in=[p["code"] for p in PLANS]).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
