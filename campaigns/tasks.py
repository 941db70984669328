from celery import shared_task


# acks_late: a worker killed mid-import leaves the message to be redelivered, and the
# service starts the upload over (a completed upload is never imported twice).
@shared_task(acks_late=True, ignore_result=True)
def lead_upload_import(upload_id: int) -> None:
    from campaigns import services

    services.lead_upload_import(upload_id=upload_id)
