"""The images/ generator (cnnlib.course.images): every figure is written, the animation has one
frame per output position, reruns give identical bytes, and the committed images/ is the generated set."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

import cnnlib as cl
from cnnlib.course import images

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def outdir(tmp_path_factory):
    out = tmp_path_factory.mktemp("images")
    assert images.main([str(out)]) == 0  # the command-line entry point, as `python -m cnnlib.course.images`
    return out


def test_every_figure_is_written(outdir):
    written = sorted(p.name for p in outdir.iterdir())
    assert written == sorted(images.FIGURES)
    assert len(written) >= 6
    for name in written:
        with Image.open(outdir / name) as im:
            im.verify()
        assert (outdir / name).stat().st_size > 10_000, f"{name} looks empty"


def test_png_figures_carry_no_metadata(outdir):
    for path in outdir.glob("*.png"):
        with Image.open(path) as im:
            assert "Software" not in im.info, f"{path.name} has a Software chunk"
            assert im.info.get("dpi", (images.DPI, images.DPI))[0] == pytest.approx(images.DPI, abs=1)


def test_gif_has_one_frame_per_output_position(outdir):
    n_out = cl.conv_output_size(images.H_EX, images.K_EX, images.S_EX, images.P_EX)
    with Image.open(outdir / "conv_sliding.gif") as im:
        assert im.n_frames == n_out * n_out == images.gif_frame_count() == 9
        assert im.info.get("loop") == 0  # loops forever
        assert im.info.get("duration") == images.GIF_MS_PER_FRAME


@pytest.mark.parametrize("name", ["conv_sliding.gif", "training_loss.png", "input_gradient_rot180.png"])
def test_rerun_gives_identical_bytes(outdir, tmp_path, name):
    (again,) = images.generate(tmp_path, [name])
    assert again.read_bytes() == (outdir / name).read_bytes()


def test_committed_images_are_the_generated_set():
    committed = {p.name for p in (ROOT / "images").iterdir() if p.suffix in {".png", ".gif"}}
    assert committed == set(images.FIGURES), "run `python -m cnnlib.course.images images/` and commit images/"
