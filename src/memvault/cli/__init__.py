"""The `memvault` command line.

`main()` is the console script. `memvault guard` runs before every shell command an agent issues,
so it branches off before the typer app is built (typer, rich and pydantic cost ~300 ms to
import); every other command goes through `memvault.cli.app`, imported on first use.
"""

from __future__ import annotations

import sys
import types

TYPE_CHECKING = False  # typing stays unimported on the guard's path; mypy reads this as True
if TYPE_CHECKING:
    from memvault.cli.app import app as app

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:2] == ["guard"]:
        from memvault.safety.guard_main import main as guard_main

        guard_main()
        return
    from memvault.cli.app import main as app_main

    app_main()


class _Package(types.ModuleType):
    # `memvault.cli.app` names both the submodule and the typer app in it. As before this package
    # became lazy, the package attribute is the typer app: importing the submodule (which binds
    # the attribute to the module) must not change what `from memvault.cli import app` returns.
    @property
    def app(self) -> object:
        from memvault.cli.app import app as typer_app

        return typer_app

    @app.setter
    def app(self, value: object) -> None:
        pass


sys.modules[__name__].__class__ = _Package
