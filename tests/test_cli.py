"""The command line's registration: each command module declares itself, ``cli.build_parser`` alone builds it."""

import importlib
import subprocess
import sys

import pytest

from video_anomaly.cli import COMMANDS, main


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_prints_its_module_docstring_as_its_description(name, capsys):
    module = importlib.import_module(f"video_anomaly.commands.{name}")
    assert module.HELP and callable(module.add_arguments) and callable(module.run)
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    printed = " ".join(capsys.readouterr().out.split())
    _, _, description = module.__doc__.partition("\n\n")
    assert " ".join(description.split()) in printed  # empty for a command without one
    assert printed.startswith(f"usage: video-anomaly {name}")


def test_each_command_is_listed_with_its_help_line(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    printed = " ".join(capsys.readouterr().out.split())
    for name in COMMANDS:
        help_line = importlib.import_module(f"video_anomaly.commands.{name}").HELP
        assert f"{name} {' '.join(help_line.split())}" in printed


def test_building_the_parser_imports_no_heavy_library():
    """``video-anomaly --help`` stays fast: command modules import torch, OpenCV and matplotlib inside ``run``."""
    code = (
        "import sys; from video_anomaly.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('torch', 'cv2', 'matplotlib', 'av') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
