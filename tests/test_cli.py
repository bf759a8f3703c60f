"""The command line entry point."""
import subprocess
import sys

from skautoml.cli import main


def test_demo_prints_progress_leaderboard_and_held_out_accuracy(capsys):
    assert main(["demo", "--time-budget", "20", "--max-trials", "2", "--max-epochs", "2"]) == 0
    captured = capsys.readouterr()
    assert "demo: architecture search on digits" in captured.out
    assert "rank trial" in captured.out and "Best validation accuracy" in captured.out
    assert "Held-out accuracy" in captured.out
    assert "Search plan:" in captured.out  # strategy='auto' says what it chose
    assert "NAS" in captured.err  # progress bar


def test_module_entry_point_shows_help():
    out = subprocess.run(
        [sys.executable, "-m", "skautoml.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "demo" in out
