"""`python -m massager_ctl` is the massager-ctl command."""

from .cli.main import main

main(prog_name="massager-ctl")
