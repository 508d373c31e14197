"""``python -m oncall.cli``."""

from oncall.cli import main

main()
