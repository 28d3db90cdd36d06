"""``python -m podium``: the same CLI (conmon's exit command uses this form)."""

from podium.cli.main import main

main()
