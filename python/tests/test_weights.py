"""stylize's local --vgg19 and evaluate's local --encoder-weights, checked
at submit by the Python client from their headers (segq/_weights.py) as
`segq submit` checks them: the same refusal, word for word, for a
tensor missing, of another shape or of another dtype, and for a file
that is no safetensors file; right files are accepted. A VGG19 file is
written with its header only and its size (a hole where the bytes are:
neither reader reads them)."""

from __future__ import annotations

from pathlib import Path

import segq

# the CLI's refusals below check these are the C reader's tables
from segq._weights import _NODE_TENSORS
from segq._weights import _VGG19_CONVS as VGG19
from segq._weights import check_evaluate_weights, check_stylize_weights

from .conftest import Lab, refusals
from .safetensors_files import Tensor, Tensors, write_safetensors

# a UNet++ node's tensors of one dimension, its output channels
NODE_VECTORS = tuple(
    name for name in _NODE_TENSORS if not name.endswith(("conv1.weight", "conv2.weight"))
)


def _vgg19(dtype: str = "F32") -> dict[str, Tensor]:
    tensors: dict[str, Tensor] = {}
    for index, in_channels, out in VGG19:
        tensors[f"features.{index}.weight"] = (dtype, (out, in_channels, 3, 3), None)
        tensors[f"features.{index}.bias"] = (dtype, (out,), None)
    return tensors


def _encoder(depth: int, width: int) -> dict[str, Tensor]:
    """The encoder nodes x{i}_0 of a UNet++ over RGB, as evaluate saves them."""
    tensors: dict[str, Tensor] = {}
    for i in range(depth + 1):
        out, node_in = width << i, 3 if i == 0 else width << (i - 1)
        tensors[f"x{i}_0.conv1.weight"] = ("F32", (out, node_in, 3, 3), None)
        tensors[f"x{i}_0.conv2.weight"] = ("F32", (out, out, 3, 3), None)
        tensors.update({f"x{i}_0.{name}": ("F32", (out,), None) for name in NODE_VECTORS})
    return tensors


def _changed(tensors: Tensors, name: str, entry: tuple[str, tuple[int, ...]] | None) -> Tensors:
    """tensors with one entry replaced (dtype, shape) or left out (None)."""
    changed = {k: v for k, v in tensors.items() if k != name}
    return changed if entry is None else {**changed, name: (*entry, None)}


def test_bad_vgg19_files_are_refused_in_the_clis_words(
    lab: Lab, client: segq.Client, tmp_path: Path
) -> None:
    text = tmp_path / "vgg19.pth"
    text.write_text("a torch pickle, not converted")
    cases = [
        (_changed(_vgg19(), "features.28.bias", None), "missing tensor 'features.28.bias' (ex"),
        (
            _changed(_vgg19(), "features.0.weight", ("F32", (64, 1, 3, 3))),
            "tensor 'features.0.weight' has shape [64, 1, 3, 3], VGG19 needs [64, 3, 3, 3] (is "
            "this a VGG19 `features` file?)",
        ),
        (
            _changed(_vgg19(), "features.2.bias", ("I32", (64,))),
            "tensor 'features.2.bias' has dtype I32, expected a float type",
        ),
    ]
    for n, (tensors, words) in enumerate(cases):
        weights = write_safetensors(tmp_path / f"{n}.safetensors", tensors)
        python, cli = refusals(lab, client, "stylize", "--content", "000a", "--vgg19", str(weights))
        assert python == cli and f"--vgg19 {weights}: {words}" in python, (python, cli)
    python, cli = refusals(lab, client, "stylize", "--content", "000a", "--vgg19", str(text))
    assert python == cli and "above the 100000000-byte limit" in python, (python, cli)


def test_bad_encoder_weights_are_refused_in_the_clis_words(
    lab: Lab, client: segq.Client, tmp_path: Path
) -> None:
    cases = [
        (
            _encoder(1, 2),
            ["--depth", "2", "--width", "2"],
            "no tensor 'x2_0.conv1.weight' (expected float32 of the "
            "encoder of a UNet++ of depth 2, width 2)",
        ),
        (
            _encoder(1, 2),
            ["--depth", "1", "--width", "4"],
            "wrong dtype or shape of tensor 'x0_0.conv1.weight' (expected float32 of the encoder "
            "of a UNet++ of depth 1, width 4)",
        ),
        (
            _changed(_encoder(1, 2), "x1_0.bn2.running_var", None),
            ["--depth", "1", "--width", "2"],
            "no tensor 'x1_0.bn2.running_var'",
        ),
        (
            _changed(_encoder(1, 2), "x0_0.conv1.weight", ("F16", (2, 3, 3, 3))),
            ["--depth", "1", "--width", "2"],
            "wrong dtype or shape of tensor 'x0_0.conv1.weight'",
        ),
    ]
    for n, (tensors, flags, words) in enumerate(cases):
        weights = write_safetensors(tmp_path / f"{n}.safetensors", tensors)
        argv = ["--real", "000a", "--encoder-weights", str(weights), *flags]
        python, cli = refusals(lab, client, "evaluate", *argv)
        assert python == cli and f"--encoder-weights {weights}: {words}" in python, (python, cli)


def test_right_weights_pass(tmp_path: Path) -> None:
    for dtype in ("F32", "F16"):
        vgg19 = write_safetensors(tmp_path / f"vgg19-{dtype}.safetensors", _vgg19(dtype))
        check_stylize_weights({"vgg19": vgg19})
    encoder = write_safetensors(tmp_path / "encoder.safetensors", _encoder(4, 8))
    check_evaluate_weights({"depth": 4, "width": 8}, {"encoder_weights": encoder})
    check_evaluate_weights({"depth": 2, "width": 8}, {"encoder_weights": encoder})
