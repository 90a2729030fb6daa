# Load the scuba_magic IPython extension (%%bql, %bql, %scuba_rid, %scuba_connect) in every
# IPython kernel and shell of this Python environment, so no %load_ext is needed.
#
# The scuba-magic wheel installs this file as {sys.prefix}/etc/ipython/startup/50-scuba_magic.py;
# IPython runs the startup files found there when it starts. Set SCUBA_MAGIC_AUTOLOAD=0 to turn
# it off. `%load_ext scuba_magic` stays valid (IPython answers that it is already loaded).
#
# Startup files run inside the user's namespace: this file leaves no names behind (hence
# comments rather than a docstring, which would replace the namespace's __doc__), and it never
# raises, so a broken install cannot stop a kernel from starting.


def _scuba_magic_autoload() -> None:
    import os
    import sys

    if os.environ.get("SCUBA_MAGIC_AUTOLOAD", "").strip().lower() in {"0", "false", "no", "off"}:
        return
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            shell.extension_manager.load_extension("scuba_magic")
    except Exception as exc:  # never stop a kernel from starting
        print(
            f"scuba_magic was not loaded automatically ({type(exc).__name__}: {exc}). "
            "Run %load_ext scuba_magic to see the full error, or set SCUBA_MAGIC_AUTOLOAD=0.",
            file=sys.stderr,
        )


_scuba_magic_autoload()
del _scuba_magic_autoload
