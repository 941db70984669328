"""What the add-on's services refuse, at the bottom of the app's imports."""


class ReputationRefused(Exception):
    """A request the add-on's rules refuse, with the message to show (API: 409)."""
