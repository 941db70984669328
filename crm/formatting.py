"""How pages say numbers and counts: one way everywhere."""


def plural(count: int, singular: str, plural_form: str) -> str:
    """``plural(1, "phone number", "phone numbers")`` -> ``"1 phone number"``; thousands
    are grouped (``"1,946 rows"``)."""
    return f"{count:,} {noun(count, singular, plural_form)}"


def noun(count: int, singular: str, plural_form: str) -> str:
    """The noun alone, agreeing with ``count`` (for a label beside a big number)."""
    return singular if count == 1 else plural_form
