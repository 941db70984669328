from celery import shared_task

from campaigns import services


# acks_late: a worker killed mid-import leaves the message to be redelivered, and the
# service starts the upload over (a completed upload is never imported twice).
@shared_task(acks_late=True, ignore_result=True)
def import_lead_upload(upload_id: int) -> None:
    services.lead_upload_import(upload_id=upload_id)
