"""Entry point: `centralino-registrar` or `python -m centralino_registrar`."""

from centralino.service import run
from centralino_registrar.service import RegistrarService


def main() -> None:
    run("registrar", RegistrarService)


if __name__ == "__main__":
    main()
