import pytest
from django.urls import reverse

from telephony.models import TelephonySettings

pytestmark = pytest.mark.django_db


def form_data(**changes):
    data = {
        "greeting": "Thank you for calling.\nPlease hold.",
        "forward_to": "",
        "sms_auto_reply": "",
        "transcript_retention_days": "30",
        "record_retention_days": "",
    }
    return {**data, **changes}


def test_greeting_is_multi_line_and_labels_read_well(client, administrator):
    client.force_login(administrator)
    url = reverse("admin:telephony_telephonysettings_change", args=[TelephonySettings.load().pk])
    page = client.get(url).content.decode()
    assert '<textarea name="greeting"' in page
    assert "SMS auto-reply" in page
    assert "Sms auto reply" not in page
    client.post(url, form_data())
    assert TelephonySettings.objects.get().greeting == "Thank you for calling.\nPlease hold."


def test_a_retention_of_zero_asks_for_confirmation(client, administrator):
    client.force_login(administrator)
    url = reverse("admin:telephony_telephonysettings_change", args=[TelephonySettings.load().pk])
    response = client.post(url, form_data(transcript_retention_days="0"))
    assert response.status_code == 200
    assert "erases every call transcript at the next daily run" in response.content.decode()
    assert TelephonySettings.objects.get().transcript_retention_days is None

    response = client.post(url, form_data(transcript_retention_days="0", confirm_erase="on"))
    assert response.status_code == 302
    assert TelephonySettings.objects.get().transcript_retention_days == 0
    # Already 0: saving other changes does not ask again.
    response = client.post(url, form_data(transcript_retention_days="0", greeting="Hi"))
    assert response.status_code == 302
