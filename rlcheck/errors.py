"""Errors and warnings that are the user's to fix: the CLI prints each as one line, and exits
with code 2 on an error."""


class UserError(Exception):
    """Bad input (a spec field, an argument, an env id): the message names it and the problem."""


class EnvWarning(UserWarning):
    """Something wrong in a user's env that rlcheck runs despite (what Gymnasium's check_env only
    warns about): the message names the env id and the problem."""
