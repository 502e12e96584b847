"""What both example trainers share: the torch/onnx import check, command-line options,
determinism, and writing the ONNX file with its reference and request files."""

import argparse
import json
import sys
from pathlib import Path

INSTALL_HINT = (
    "Install Debian's PyTorch: sudo apt-get install python3-torch python3-onnx, "
    "and run this script with /usr/bin/python3"
)

try:
    import onnx
    import torch
except ImportError as error:  # a clear message instead of a traceback
    sys.exit(f"{Path(sys.argv[0]).name}: {error}. {INSTALL_HINT}")

HERE = Path(__file__).resolve().parent
REPO_DATA = Path(__file__).resolve().parents[2] / "data"
REFERENCE_ROWS = 16
REQUEST_ROWS = 2


def parse_args(description, epochs):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=epochs, metavar="N", help="training epochs (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="seeds the weights and the batch order: another seed, another model (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=HERE / "out", metavar="DIR", help="where to write the files (default: %(default)s)")
    parser.add_argument("--data", type=Path, default=REPO_DATA, metavar="DIR", help="the repository's data/ folder (default: %(default)s)")
    return parser.parse_args()


def make_deterministic(seed=0):
    # One thread: the same float sums in the same order on every run and machine.
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def data_file(data_dir, relative):
    path = data_dir / relative
    if not path.is_file():
        sys.exit(f"{Path(sys.argv[0]).name}: {path} not found; pass the repository's data/ folder with --data DIR")
    return path


def export(model, example, out_dir, name, input_name, output_name, test_inputs):
    """Export `model` to out_dir/<name>.onnx, check it, and write <name>.reference.json (PyTorch's
    outputs for the first 16 test rows) and <name>.request.json (a V2 request for 2 of them)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model.eval()
    onnx_path = out_dir / f"{name}.onnx"
    torch.onnx.export(
        model,
        example,
        str(onnx_path),
        input_names=[input_name],
        output_names=[output_name],
        dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}},
        opset_version=13,
    )
    onnx.checker.check_model(onnx.load(str(onnx_path)))

    rows = test_inputs[:REFERENCE_ROWS].to(torch.float32)
    with torch.no_grad():
        outputs = model(rows)
    reference = {
        "input": input_name,
        "output": output_name,
        "shape": list(rows.shape),
        "inputs": rows.tolist(),
        "outputs": outputs.tolist(),
    }
    reference_path = out_dir / f"{name}.reference.json"
    reference_path.write_text(json.dumps(reference) + "\n")

    request_rows = rows[:REQUEST_ROWS]
    request = {
        "inputs": [
            {
                "name": input_name,
                "shape": list(request_rows.shape),
                "datatype": "FP32",
                "data": request_rows.flatten().tolist(),
            }
        ]
    }
    request_path = out_dir / f"{name}.request.json"
    request_path.write_text(json.dumps(request) + "\n")
    return [onnx_path, reference_path, request_path]


def print_written(paths):
    for path in paths:
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
