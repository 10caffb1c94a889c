"""The one exception type for problems the user can fix.

Following Polygraphy's convention, library code raises :class:`UserError` with a message that names
the problem and the fix; the CLI prints it as one line and exits with code 2, without a traceback.
"""


class UserError(Exception):
    """Bad input or environment that the user can fix; the message says how."""
