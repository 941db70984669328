from celery import shared_task


# acks_late: a worker killed mid-import leaves the message to be redelivered, and the
# service starts the upload over (a completed upload is never imported twice).
@shared_task(acks_late=True, ignore_result=True)
def lead_upload_import(upload_id: int) -> None:
    from campaigns import services

    services.lead_upload_import(upload_id=upload_id)


# acks_late: a redelivered import after a worker died starts over harmlessly (numbers
# already listed are skipped); a finished import is never run again.
@shared_task(acks_late=True, ignore_result=True)
def do_not_call_import(import_id: int) -> None:
    from campaigns import dnc

    dnc.import_run(import_id=import_id)


# A new upload's leads get their zone key, and with ``rekey`` (queued by every import)
# leads whose numbers changed get theirs again (docs/dialing.md, "Next lead");
# redelivered, it only finds fewer leads left to do.
@shared_task(acks_late=True, ignore_result=True)
def lead_zones_fill(campaign_id: int, rekey: bool = False) -> None:
    from campaigns import dialing_zones

    dialing_zones.lead_zones_fill_all(campaign_id=campaign_id, rekey=rekey)
