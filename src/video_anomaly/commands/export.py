"""``video-anomaly export CHECKPOINT OUT.onnx [--size N] [--stages]``: write a checkpoint's model as ONNX.

Export a trained model to ONNX: one graph (B, T, 1, S, S) -> (B, T, 1, S, S) with a dynamic batch, and with --stages
the seed model's encoder, ConvLSTM and decoder as OUT.encoder.onnx, OUT.temporal.onnx, OUT.decoder.onnx. Each graph
is run once with ONNX Runtime and compared with PyTorch (max abs difference <= 1e-4) when onnxruntime is installed.
"""

from __future__ import annotations

import argparse

from ._types import frame_side, positive_int

HELP = "export a checkpoint's model to ONNX (checked against PyTorch with ONNX Runtime)"


def add_arguments(p) -> None:
    p.add_argument("checkpoint", help="checkpoint written by 'video-anomaly train'")
    p.add_argument("output", help="ONNX file to write, e.g. model.onnx")
    p.add_argument("--size", type=frame_side, default=None, help="frame size S in pixels (default: the checkpoint's)")
    p.add_argument("--stages", action="store_true", help="also export the encoder/temporal/decoder stages")
    p.add_argument("--opset", type=positive_int, default=17, help="ONNX opset (default 17)")
    p.add_argument("--no-verify", action="store_true", help="skip the ONNX Runtime check against PyTorch")


def run(args: argparse.Namespace) -> int:
    import torch

    from ..api import export_onnx, export_stages, have_module, load_checkpoint

    model, run_config, _extras = load_checkpoint(args.checkpoint, torch.device("cpu"))
    size = args.size if args.size is not None else run_config.data.size
    clip_length = run_config.data.clip_length
    # Exported unchecked, then checked here, so that the measured difference can be printed.
    check = not args.no_verify and have_module("onnxruntime")
    path = export_onnx(model, args.output, size=size, clip_length=clip_length, opset=args.opset, verify=False)
    print(
        f"wrote {path} (input (B, {clip_length}, 1, {size}, {size})){_checked(check, path, model, size, clip_length)}"
    )
    if args.stages:
        for name, stage in export_stages(
            model, args.output, size=size, clip_length=clip_length, opset=args.opset, verify=False
        ).items():
            print(f"wrote {stage} ({name}){_checked(check, stage, model, size, clip_length, name)}")
    if not args.no_verify and not check:
        print("not checked against PyTorch: onnxruntime is not installed (pip install onnxruntime)")
    return 0


def _checked(check: bool, path, model, size: int, clip_length: int, stage: str | None = None) -> str:
    """Run ``path`` with ONNX Runtime against PyTorch (as ``export.export_onnx``/``export_stages`` do with
    ``verify=True``: a batch of 2 random clips, max abs difference <= 1e-4, else ``ExportError``) and say so."""
    if not check:
        return ""
    import torch

    from ..api import MethodModule, example_input, verify_onnx

    device = next(model.parameters()).device
    model.eval()
    if stage is None:
        module, example = model, example_input((2, clip_length, 1, size, size), device, 1)
    else:
        with torch.no_grad():
            h = model.encode_frames(example_input((1, 1, size, size), device, 0)).shape[1:]
        shapes = {"encoder": (2, 1, size, size), "temporal": (2, clip_length, *h), "decoder": (2, *h)}
        method = {"encoder": "encode_frames", "temporal": "temporal", "decoder": "decode_frames"}[stage]
        module, example = MethodModule(model, method), example_input(shapes[stage], device, 1)
    diff = verify_onnx(path, module, example)
    return f"; ONNX Runtime matches PyTorch: max abs difference {diff:.2g} (limit 1e-4)"
