from django.urls import path

from telephony import webhooks, webhooks_softphone

app_name = "telephony"

urlpatterns = [
    path("voice/", webhooks.voice, name="twilio-voice"),
    path("voice/status/", webhooks.voice_status, name="twilio-voice-status"),
    path("voice/dial-done/", webhooks.voice_dial_done, name="twilio-voice-dial-done"),
    path("voice/recording/", webhooks.voice_recording, name="twilio-voice-recording"),
    path("voice/transcription/", webhooks.voice_transcription, name="twilio-voice-transcription"),
    path("voice/outbound/", webhooks.voice_outbound, name="twilio-voice-outbound"),
    # The browser softphone's TwiML App Voice URL and its dial's callbacks.
    path("voice/softphone/", webhooks_softphone.softphone_voice, name="twilio-voice-softphone"),
    path(
        "voice/softphone/status/",
        webhooks_softphone.softphone_status,
        name="twilio-voice-softphone-status",
    ),
    path("sms/", webhooks.sms, name="twilio-sms"),
    path("sms/status/", webhooks.sms_status, name="twilio-sms-status"),
]
