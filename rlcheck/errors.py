"""Errors that are the user's to fix: the CLI prints them as one line and exits with code 2."""


class UserError(Exception):
    """Bad input (a spec field, an argument, an env id): the message names it and the problem."""
