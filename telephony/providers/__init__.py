"""Outside services telephony talks to, behind interfaces (``docs/providers.md``).

``base.py`` holds each interface and what it returns; one module per vendor holds its
adapter; ``offline.py`` the defaults that work with no network.
"""
