"""Saved outputs: named by run and output, written once, never overwriting a different file."""

from __future__ import annotations

from pathlib import Path

from flora_mcp.outputs.saving import extension_for, file_stem, save_output
from flora_mcp.sandbox import media


def test_an_output_is_saved_under_its_run_and_output_with_a_file_url(tmp_path: Path) -> None:
    png = media.render("png", "run_a")
    saved = save_output(tmp_path / "out", "run_a", "output_1", png, "image/png")
    path = Path(saved.path)
    assert path == (tmp_path / "out" / "run_a_output_1.png").resolve()
    assert path.read_bytes() == png and saved.bytes == len(png)
    assert saved.uri == path.as_uri() and saved.uri.startswith("file://")
    assert [p.name for p in path.parent.iterdir()] == ["run_a_output_1.png"]  # no partial file left


def test_saving_the_same_bytes_again_reuses_the_file(tmp_path: Path) -> None:
    first = save_output(tmp_path, "run_a", "output_1", b"same", "text/plain")
    again = save_output(tmp_path, "run_a", "output_1", b"same", "text/plain")
    assert first.path == again.path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run_a_output_1.txt"]


def test_a_different_file_with_the_name_is_never_overwritten(tmp_path: Path) -> None:
    mine = tmp_path / "run_a_output_1.wav"
    mine.write_bytes(b"the user's own file")
    saved = save_output(tmp_path, "run_a", "output_1", media.render("wav", "run_a"), "audio/wav")
    assert mine.read_bytes() == b"the user's own file"
    assert Path(saved.path).name == "run_a_output_1-2.wav"


def test_ids_cannot_walk_out_of_the_folder(tmp_path: Path) -> None:
    saved = save_output(tmp_path, "../../etc", "/passwd", b"x", "text/plain")
    assert Path(saved.path).parent == tmp_path.resolve()
    assert file_stem("..", "..") and not file_stem("..", "..").startswith(".")


def test_extensions_come_from_the_mime_type_then_the_url() -> None:
    assert extension_for("image/png") == ".png"
    assert extension_for("video/mp4") == ".mp4"
    assert extension_for("application/x-unknown", "https://media.flora.ai/a/b.glb?x=1") == ".glb"
    assert extension_for("application/x-unknown") == ".bin"
