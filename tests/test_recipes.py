"""The recipe entry point: `gated example --list` and `gated example NAME [options]`."""

from __future__ import annotations

import json
import sys

import pytest

from gated import cli, recipes

FAKE = '''"""Adds two numbers: a recipe
used by the tests.

Longer text that is not the description.
"""


def add_arguments(parser):
    parser.add_argument("--b", type=int, default=2)


def run(args):
    if args.data is not None:
        from gated.recipes import data_dir
        data_dir(args, "numbers", "a.txt")
    return {"sum": 40 + args.b, "quick": args.quick, "seed": args.seed}
'''


@pytest.fixture
def fake_recipe(tmp_path, monkeypatch):
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "fake_adder.py").write_text(FAKE)
    (folder / "_helper.py").write_text('"""Not a recipe."""\n')
    monkeypatch.setattr(recipes, "__path__", [*recipes.__path__, str(folder)])
    yield
    sys.modules.pop("gated.recipes.fake_adder", None)


def test_list_reads_first_docstring_paragraph_and_skips_private_modules(fake_recipe, capsys):
    assert recipes.available()["fake-adder"] == "Adds two numbers: a recipe used by the tests."
    assert "-helper" not in recipes.available()
    assert cli.main(["example", "--list"]) == 0
    assert "fake-adder" in capsys.readouterr().out


def test_run_passes_common_and_own_options_and_writes_json(fake_recipe, tmp_path):
    out = tmp_path / "out"
    assert cli.main(["example", "fake-adder", "--quick", "--b", "5", "--seed", "3",
                     "--output", str(out), "--quiet"]) == 0
    assert json.loads((out / "fake-adder.json").read_text()) == {
        "sum": 45, "quick": True, "seed": 3}


def test_unknown_recipe_suggests_the_closest(fake_recipe, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["example", "fake-addr"])
    assert exit_info.value.code == 2
    assert "did you mean 'fake-adder'" in capsys.readouterr().err


def test_missing_data_names_the_folder_and_the_file(fake_recipe, tmp_path, capsys):
    (tmp_path / "data" / "numbers").mkdir(parents=True)
    with pytest.raises(SystemExit):
        cli.main(["example", "fake-adder", "--data", str(tmp_path / "data"),
                  "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert "numbers" in err and "a.txt" in err
    (tmp_path / "data" / "numbers" / "a.txt").write_text("1")
    assert recipes.run_recipe("fake-adder", ["--data", str(tmp_path / "data"), "--output",
                                             str(tmp_path / "o"), "--quiet"])["sum"] == 42


def test_recipe_help_shows_its_docstring(fake_recipe, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["example", "fake-adder", "--help"])
    assert exit_info.value.code == 0
    assert "Longer text" in capsys.readouterr().out
