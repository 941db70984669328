class FileRefused(Exception):
    """The file as a whole cannot be imported; the message tells the uploader what to do."""
