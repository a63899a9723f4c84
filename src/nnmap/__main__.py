"""``python -m nnmap`` runs the CLI."""

from nnmap.cli import main

main()
