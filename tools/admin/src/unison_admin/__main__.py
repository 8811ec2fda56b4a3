"""`python -m unison_admin`: the same commands as the `unison-admin` script."""

from .cli import app

app()
