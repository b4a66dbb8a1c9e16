"""Exports are faithful: the Python file (fresh interpreter, only torch), ONNX in ONNX Runtime and the pt2 program
give the trained model's outputs; `predict` agrees with them; every bad input is a message, never a traceback.

One `tiny` run, trained for one epoch on a small draw of the real bundled sample (conftest's `tiny_run`), serves
the whole module.
"""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sample_subset import sample_subset
from vgg_studio import cli, export_python
from vgg_studio.batching import prepare_batch
from vgg_studio.export import ExportError, export, require_extra
from vgg_studio.model import build_model
from vgg_studio.predict import ImageError, display_image, predict, read_image
from vgg_studio.runs import RunError
from vgg_studio.spec import ArchSpec, load, preset
from vgg_studio.trained import from_run, from_spec

TOL = 1e-4
N_IMAGES = 20


@pytest.fixture(scope="module")
def run_dir(tiny_run) -> Path:
    return tiny_run


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    """Twenty real test images, uint8 (20, 1, 28, 28)."""
    return sample_subset(600, 100).test.images[:N_IMAGES]


@pytest.fixture(scope="module")
def reference(run_dir, images):
    """The trained model's logits on the prepared images, computed with the engine's own pieces."""
    net = from_run(run_dir)
    model = build_model(net.spec)
    model.load_state_dict(torch.load(run_dir / "final.pt", weights_only=True))
    x = prepare_batch(images, net.spec.input_size, net.mean, net.std)
    with torch.no_grad():
        return x, model.eval()(x)


@pytest.fixture(scope="module")
def onnx_file(run_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    assert cli.main(["export", "--run", str(run_dir), str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def pt2_file(run_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pt2") / "tiny.pt2"
    assert cli.main(["export", "--run", str(run_dir), "--format", "pt2", str(out)]) == 0
    return out


def _ort_logits(path: Path, x: torch.Tensor) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["logits"], {"images": x.numpy()})[0]


def _pt2_logits(path: Path, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return torch.export.load(path).module()(x).numpy()


# ---- the acceptance checks ------------------------------------------------------------------------------------


def test_vgg11_python_export_builds_the_chapter_network(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["export", "--preset", "vgg11", "--format", "python", "vgg11.py"]) == 0
    assert "wrote vgg11.py" in capsys.readouterr().out
    ns = runpy.run_path("vgg11.py")
    net = ns["net"]
    assert sum(p.numel() for p in net.parameters()) == 128_806_154
    assert ns["conv_arch"] == ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))
    assert repr(net) == repr(build_model(preset("vgg11")))
    source = Path("vgg11.py").read_text()
    for words in ("def vgg_block(num_convs, in_channels, out_channels):", "def vgg(conv_arch):",
                  "nn.init.xavier_uniform_(m.weight)", "\nnet = vgg(conv_arch)\n"):
        assert words in source


def test_onnx_and_pt2_agree_with_predict_on_20_test_images(run_dir, images, onnx_file, pt2_file, tmp_path, capsys):
    paths = []
    for i, img in enumerate(images):
        paths.append(tmp_path / f"test{i:02d}.png")
        Image.fromarray(img[0].numpy()).save(paths[-1])
    assert cli.main(["predict", "--run", str(run_dir), *map(str, paths)]) == 0
    out = capsys.readouterr().out.splitlines()
    heads = [i for i, line in enumerate(out) if line.startswith(str(tmp_path))]
    assert len(heads) == N_IMAGES
    predicted = [out[i + 1].split()[0] for i in heads]  # the most likely class's first word

    net = from_run(run_dir)
    x = torch.cat([net.preprocess(read_image(p, 1)) for p in paths])
    onnx_out, pt2_out = _ort_logits(onnx_file, x), _pt2_logits(pt2_file, x)
    assert np.abs(onnx_out - pt2_out).max() < TOL
    for outputs in (onnx_out, pt2_out):
        assert [net.classes[i].split()[0] for i in outputs.argmax(1)] == predicted


def test_predict_a_colour_png_of_another_size(run_dir, tmp_path, capsys):
    picture = tmp_path / "some.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)).save(picture)
    assert cli.main(["predict", "--run", str(run_dir), str(picture)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{picture} (300x200 -> 1x28x28):"
    classes = from_run(run_dir).classes
    assert len(lines) == 4
    probs = []
    for line in lines[1:]:
        name, p = line.strip().rsplit(None, 1)
        assert name in classes
        probs.append(float(p))
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1


def test_predict_a_text_file_exits_2(run_dir, tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("not a picture\n")
    assert cli.main(["predict", "--run", str(run_dir), str(text)]) == 2
    captured = capsys.readouterr()
    assert f"vgg-studio: error: {text} is not an image" in captured.err and "Traceback" not in captured.err


@pytest.mark.parametrize("args, words", [
    (("--preset", "vgg11", "--ratio", "128", "x.py"), "the architecture is not valid"),
    (("--preset", "vgg11", "--input-size", "16", "x.onnx"), "Block 5"),
    (("--preset", "tiny", "missing-folder/x.py"), "does not exist"),
    (("--preset", "tiny", "x.txt"), "cannot tell the format"),
    (("--preset", "tiny", "--run", "r", "x.py"), "choose what to export"),
    (("x.py",), "choose what to export"),
    (("--run", "nowhere", "x.py"), "not a vgg-studio run"),
    (("--arch", "missing.json", "x.py"), "No such architecture file"),
])
def test_bad_export_input_exits_2_with_words(tmp_path, monkeypatch, capsys, args, words):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["export", *args]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())  # nothing half-written


@pytest.mark.parametrize("module, fmt, name", [("onnxscript", "onnx", "x.onnx"), ("onnx", "onnx", "x.onnx"),
                                               ("safetensors", "weights", "x.safetensors")])
def test_missing_export_extra_is_named(tmp_path, monkeypatch, capsys, module, fmt, name):
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    assert cli.main(["export", "--preset", "tiny", "--format", fmt, str(tmp_path / name)]) == 2
    err = capsys.readouterr().err
    assert module in err and 'pip install "vgg-studio[export]"' in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())


# ---- faithful exports -------------------------------------------------------------------------------------------


def test_python_export_of_a_run_in_a_fresh_interpreter(run_dir, images, reference, tmp_path):
    """The file runs where only torch can be imported, and its preprocess and net match the app's."""
    out = tmp_path / "tiny_net.py"
    assert cli.main(["export", "--run", str(run_dir), str(out)]) == 0
    assert (tmp_path / "tiny_net.pt").is_file()
    rng = np.random.default_rng(1)
    odd = torch.from_numpy(rng.integers(0, 256, (1, 1, 45, 31), dtype=np.uint8))
    torch.save({"images": images, "odd": odd}, tmp_path / "inputs.pt")
    script = textwrap.dedent(f"""
        import runpy, sys
        for name in ("vgg_studio", "torchvision", "PIL", "onnx", "onnxscript", "safetensors"):
            sys.modules[name] = None  # importing any of them now fails: the file must need only torch
        import torch
        ns = runpy.run_path({str(out)!r})
        inputs = torch.load({str(tmp_path / 'inputs.pt')!r})
        with torch.no_grad():
            result = {{"x": ns["preprocess"](inputs["images"]), "odd": ns["preprocess"](inputs["odd"]),
                       "logits": ns["net"](ns["preprocess"](inputs["images"])),
                       "top": ns["predict"](inputs["images"][:1]), "classes": ns["CLASSES"]}}
        torch.save(result, {str(tmp_path / 'result.pt')!r})
    """)
    done = subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    got = torch.load(tmp_path / "result.pt", weights_only=False)
    x, logits = reference
    net = from_run(run_dir)
    assert got["classes"] == net.classes
    assert (got["x"] - x).abs().max() < 1e-5
    assert (got["odd"] - prepare_batch(odd, 28, net.mean, net.std)).abs().max() < 1e-5
    assert (got["logits"] - logits).abs().max() < TOL
    best = int(logits[0].argmax())
    assert got["top"][0][0][0] == net.classes[best] and len(got["top"][0]) == 3


def test_onnx_matches_the_trained_model_and_carries_the_run(run_dir, reference, onnx_file):
    import onnx

    x, logits = reference
    assert np.abs(_ort_logits(onnx_file, x) - logits.numpy()).max() < TOL
    assert np.abs(_ort_logits(onnx_file, x[:1]) - logits[:1].numpy()).max() < TOL  # dynamic batch
    meta = {p.key: p.value for p in onnx.load(str(onnx_file)).metadata_props}
    net = from_run(run_dir)
    assert json.loads(meta["vgg_studio.classes"]) == list(net.classes)
    assert tuple(json.loads(meta["vgg_studio.mean"])) == net.mean
    assert tuple(json.loads(meta["vgg_studio.std"])) == net.std
    assert json.loads(meta["vgg_studio.architecture"])["name"] == "tiny"


def test_pt2_matches_the_trained_model(run_dir, reference, pt2_file):
    x, logits = reference
    assert np.abs(_pt2_logits(pt2_file, x) - logits.numpy()).max() < TOL
    assert np.abs(_pt2_logits(pt2_file, x[:3]) - logits[:3].numpy()).max() < TOL
    extra = {"vgg-studio.json": ""}
    torch.export.load(pt2_file, extra_files=extra)
    assert json.loads(json.loads(extra["vgg-studio.json"])["vgg_studio.classes"]) == list(from_run(run_dir).classes)


@pytest.mark.parametrize("name", ["w.safetensors", "w.pt"])
def test_weights_and_the_architecture_beside_them(run_dir, tmp_path, name):
    out = tmp_path / name
    assert cli.main(["export", "--run", str(run_dir), str(out)]) == 0
    spec = load(tmp_path / "w.arch.json")
    assert spec == from_run(run_dir).spec
    if name.endswith(".pt"):
        state = torch.load(out, weights_only=True)
    else:
        from safetensors import safe_open
        from safetensors.torch import load_file

        state = load_file(out)
        with safe_open(out, "pt") as f:
            assert json.loads(f.metadata()["vgg_studio.classes"])[0] == "T-shirt/top"
    saved = torch.load(run_dir / "final.pt", weights_only=True)
    assert state.keys() == saved.keys() and all(torch.equal(state[k], saved[k]) for k in saved)
    build_model(spec).load_state_dict(state)


# ---- the pieces -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [
    *(preset(name) for name in ("vgg11", "vgg16", "d2l-small", "tiny")),
    ArchSpec(blocks=((2, 16), (1, 8)), input_size=20, in_channels=3, hidden=(), dropout=0.0, num_classes=4),
    ArchSpec(blocks=((1, 30),), input_size=9, ratio=3, hidden=(7, 5, 3), dropout=0.25, num_classes=1),
])
def test_python_definitions_build_the_model_builders_network(spec):
    export_python.check_faithful(spec)  # raises unless repr and every parameter's shape agree
    namespace: dict = {}
    with torch.device("meta"):  # the whole file as written, without allocating VGG-16
        exec(export_python.python_source(from_spec(spec, "test")), namespace)
        ours = build_model(spec)
    theirs = namespace["net"]
    assert repr(theirs) == repr(ours)
    assert {k: v.shape for k, v in theirs.state_dict().items()} == {k: v.shape for k, v in ours.state_dict().items()}


def test_python_export_refuses_a_network_it_cannot_write(monkeypatch, tmp_path):
    real = export_python.build_model

    def with_softmax(spec):  # a layer the chapter-style code does not write
        return torch.nn.Sequential(*real(spec), torch.nn.Softmax(1))

    monkeypatch.setattr(export_python, "build_model", with_softmax)
    with pytest.raises(ExportError, match="cannot write 'tiny' yet"):
        export(from_spec(preset("tiny"), "test"), "python", tmp_path / "x.py")
    assert not any(tmp_path.iterdir())


def test_untrained_exports_are_seeded(tmp_path):
    net = from_spec(preset("tiny"), "test")
    first, second = net.weights(), from_spec(preset("tiny"), "test").weights()
    assert all(torch.equal(first[k], second[k]) for k in first)
    export(net, "weights", tmp_path / "w.pt")
    assert torch.equal(torch.load(tmp_path / "w.pt", weights_only=True)["0.0.weight"], first["0.0.weight"])


def test_read_image_converts_modes_and_says_what_is_wrong(tmp_path):
    rgba = tmp_path / "a.png"
    Image.new("RGBA", (5, 4), (255, 0, 0, 0)).save(rgba)  # fully transparent: white, as viewers show it
    assert read_image(rgba, 3).shape == (1, 3, 4, 5) and int(read_image(rgba, 3).min()) == 255
    grey = read_image(rgba, 1)
    assert grey.shape == (1, 1, 4, 5) and grey.dtype == torch.uint8
    noise = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)).save(noise)
    truncated = tmp_path / "t.png"
    truncated.write_bytes(noise.read_bytes()[:2000])  # a header and half the pixels
    for path, words in ((truncated, "cannot be read"), (tmp_path, "is a folder"), (tmp_path / "no.png", "no such")):
        with pytest.raises(ImageError, match=words):
            read_image(path, 1)
    with pytest.raises(ImageError, match="only 1"):
        read_image(rgba, 2)


def test_predict_shows_the_input_as_the_network_sees_it(run_dir, images):
    net = from_run(run_dir)
    (pred,) = predict(net, [images[:1]])
    assert pred.input.shape == (1, 28, 28) and abs(sum(p for _, p in pred.top) - pred.probabilities[
        pred.probabilities.argsort(descending=True)[:3]].sum()) < 1e-6
    shown = display_image(net, pred.input)
    assert shown.shape == (28, 28) and np.abs(shown.astype(int) - images[0, 0].numpy().astype(int)).max() <= 1


def test_a_run_without_weights_is_a_message(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    for name in ("final.pt", "checkpoint.pt"):
        (copy / name).unlink()
    with pytest.raises(RunError, match="no trained weights yet"):
        from_run(copy)
    (copy / "final.pt").write_bytes(b"not a torch file")
    with pytest.raises(RunError, match="Cannot read the weights"):
        from_run(copy)


def test_require_extra_lists_what_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    with pytest.raises(ExportError, match="packages onnx and onnxscript, which are not installed"):
        require_extra("onnx", "onnxscript", "torch")
