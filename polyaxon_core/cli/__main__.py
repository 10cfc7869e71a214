"""``python -m polyaxon_core.cli``: the same CLI as the ``polyaxon`` executable."""

from polyaxon_core.cli import main

main()
