"""The network as a self-contained Python file in the d2l chapter's own words (`vgg_block`, `conv_arch`, `vgg`).

The file needs only torch, builds the same `nn.Sequential` as `model.build_model` (same `state_dict` keys),
and for a trained run loads the weights written beside it and carries the run's class names and
normalisation. The code is written from the spec, then checked against the model builder on the meta device
(`repr` and every parameter's shape), so a layer the generator does not know yet is refused, never written
wrongly.
"""

from __future__ import annotations

from datetime import date

import torch

from . import __version__
from .model import build_model
from .spec import ArchSpec
from .trained import TrainedNet


class PythonExportError(ValueError):
    """The generated code would not build the same network; the message is for the user."""


_IMPORTS = '''import torch
from torch import nn
'''

_VGG_BLOCK = '''

def vgg_block(num_convs, in_channels, out_channels):
    layers = []
    for _ in range(num_convs):
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
        layers.append(nn.ReLU())
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)
'''

_INIT = '''

def init_weights(m):
    if type(m) == nn.Linear or type(m) == nn.Conv2d:
        nn.init.xavier_uniform_(m.weight)
'''

_PREPROCESS = '''

def preprocess(images):
    """uint8 images (N, C, H, W) -> the network's input: scaled to [0, 1], normalised, resized bilinearly."""
    mean = torch.tensor(MEAN).view(1, -1, 1, 1)
    std = torch.tensor(STD).view(1, -1, 1, 1)
    x = (images.float() / 255 - mean) / std
    height, width = x.shape[-2:]
    if (height, width) != (INPUT_SIZE, INPUT_SIZE):
        shrink = INPUT_SIZE < height or INPUT_SIZE < width
        x = nn.functional.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False,
                                      antialias=shrink)
    return x


def predict(images, k=3):
    """The k most likely (class name, probability) pairs for each uint8 image in the batch."""
    with torch.no_grad():
        probs = net(preprocess(images)).softmax(dim=1)
    top = probs.topk(min(k, len(CLASSES)), dim=1)
    return [[(CLASSES[i], p) for p, i in zip(ps.tolist(), idx.tolist())] for ps, idx in zip(*top)]
'''


def _tuple(values) -> str:
    items = [repr(v) for v in values]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _vgg(spec: ArchSpec) -> str:
    """d2l's `vgg(conv_arch)` with this spec's input channels, classifier widths, dropout and classes filled in."""
    side = spec.feature_sizes()[-1]
    width = f"out_channels * {side} * {side}"
    fc = []
    for hidden in spec.hidden:
        fc.append(f"        nn.Linear({width}, {hidden}), nn.ReLU(), nn.Dropout({spec.dropout!r}),")
        width = str(hidden)
    fc.append(f"        nn.Linear({width}, {spec.num_classes}))")
    return f'''

def vgg(conv_arch):
    conv_blks = []
    in_channels = {spec.in_channels}
    # The convolutional part
    for (num_convs, out_channels) in conv_arch:
        conv_blks.append(vgg_block(num_convs, in_channels, out_channels))
        in_channels = out_channels

    return nn.Sequential(
        *conv_blks, nn.Flatten(),
        # The fully connected part
{chr(10).join(fc)}
'''


def _arch(spec: ArchSpec) -> tuple[str, str]:
    """The `conv_arch` lines (with d2l's `small_conv_arch` when a ratio divides the widths) and its name."""
    text = f"\n\nconv_arch = {_tuple(spec.conv_arch)}\n"
    if spec.ratio == 1:
        return text, "conv_arch"
    text += (f"ratio = {spec.ratio}\n"
             f"small_conv_arch = [(pair[0], pair[1] // ratio) for pair in conv_arch]\n")
    return text, "small_conv_arch"


def _definitions(spec: ArchSpec) -> tuple[str, str]:
    """Everything that defines the architecture, and the name of the conv_arch to build it from."""
    arch, arch_name = _arch(spec)
    return _IMPORTS + _VGG_BLOCK + _vgg(spec) + _INIT + arch, arch_name


def check_faithful(spec: ArchSpec) -> None:
    """Raise PythonExportError unless the generated definitions build `build_model(spec)` exactly.

    Runs on the meta device, so even VGG-19 costs milliseconds and no memory.
    """
    code, arch_name = _definitions(spec)
    namespace: dict = {"__name__": "vgg_studio_export_check"}
    with torch.device("meta"):
        exec(compile(code + f"\nnet = vgg({arch_name})\n", "<exported>", "exec"), namespace)
        ours = build_model(spec)
    theirs = namespace["net"]
    shapes = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    if repr(theirs) != repr(ours) or shapes != {k: tuple(v.shape) for k, v in ours.state_dict().items()}:
        raise PythonExportError(f"The Python export cannot write {spec.name!r} yet: the chapter-style code would "
                                f"build a different network from the app's. Export ONNX, pt2 or weights instead.")


def python_source(net: TrainedNet, weights_file: str | None = None) -> str:
    """The .py file's text; `weights_file` (a name beside the .py) is loaded when the network is trained."""
    spec = net.spec
    check_faithful(spec)
    code, arch_name = _definitions(spec)
    with torch.device("meta"):
        params = sum(p.numel() for p in build_model(spec).parameters())
    arch_line = ", ".join(f"({n}, {c})" for n, c in spec.conv_arch)
    header = [f'"""{spec.name}: a VGG network in the style of d2l.ai 7.2, "Networks Using Blocks". Needs only torch.',
              "",
              f"conv_arch ({arch_line}){f', widths divided by {spec.ratio}' if spec.ratio != 1 else ''}; "
              f"input {spec.in_channels}x{spec.input_size}x{spec.input_size}; {spec.num_classes} classes; "
              f"{params:,} parameters.",
              f"Written by vgg-studio {__version__} on {date.today().isoformat()} from {net.source}."]
    if net.trained and weights_file:
        header += [f"Trained: {net.summary}. The weights are in {weights_file} beside this file.",
                   "",
                   "    predict(images)  # uint8 (N, C, H, W) -> the top classes with probabilities",
                   "    net(preprocess(images))  # the logits"]
    else:
        header += ["", "Untrained: Xavier-uniform init as in the chapter's train_ch6."]
    body = ("import os\n\n" if net.trained and weights_file else "") + code
    if net.trained and weights_file:
        body += (f"\n# How the training images were prepared (mean and std per channel of [0, 1] pixels).\n"
                 f"CLASSES = {_tuple(net.classes)}\n"
                 f"MEAN = {_tuple(net.mean)}\n"
                 f"STD = {_tuple(net.std)}\n"
                 f"INPUT_SIZE = {spec.input_size}\n"
                 f"WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), {weights_file!r})\n")
    body += f"\nnet = vgg({arch_name})\nnet.apply(init_weights)\n"
    if net.trained and weights_file:
        body += "net.load_state_dict(torch.load(WEIGHTS, weights_only=True))\nnet.eval()\n" + _PREPROCESS
    body += (f'\n\nif __name__ == "__main__":\n'
             f"    X = torch.randn(size=(1, {spec.in_channels}, {spec.input_size}, {spec.input_size}))\n"
             f"    for blk in net:\n"
             f"        X = blk(X)\n"
             f"        print(blk.__class__.__name__, 'output shape:\\t', X.shape)\n")
    return "\n".join(header) + '\n"""\n\n' + body
