"""Entry point: `centralino-directory` or `python -m centralino_directory`."""

from centralino.service import run
from centralino_directory.service import DirectoryService


def main() -> None:
    run("directory", DirectoryService)


if __name__ == "__main__":
    main()
