"""What the schemathesis run did, printed at the end of the session."""

requests = 0
operations = 0
failed_operations = 0


def summary() -> str:
    return (
        f"schemathesis: {requests} requests generated over {operations} operations, "
        f"{failed_operations} operations failed"
    )
