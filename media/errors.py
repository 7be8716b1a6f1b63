"""Errors the media engine reports to whoever drives it."""


class MediaError(Exception):
    """A request the engine refuses; `code` is snake_case, stable for clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
