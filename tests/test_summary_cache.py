"""The leaf-measure cache behind `summarize`: after any series of edits the summary equals one computed from
nothing, both equal an independent whole-net forward on the meta device, and an edit measures only the
layers it has never seen at their input shape."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from vgg_studio.model import build_model, named_layers
from vgg_studio.spec import Block, check, preset
from vgg_studio.summary import LEAF_MEASURES, clear_caches, summarize


def whole_net_rows(spec):
    """(name, type, output shape, params, FLOPs) per leaf, the uncached way: the whole net run once on the
    meta device, shapes from forward hooks, FLOPs from FlopCounterMode's per-module counts."""
    with torch.device("meta"):
        net = build_model(spec)
    leaves = named_layers(net, spec)
    shapes = {}
    handles = [m.register_forward_hook(lambda m, _i, out: shapes.__setitem__(id(m), tuple(out.shape)))
               for _, _, m in leaves]
    with FlopCounterMode(display=False) as counter:
        net(torch.empty(1, spec.in_channels, spec.input_size, spec.input_size, device="meta"))
    for h in handles:
        h.remove()
    counts = counter.get_flop_counts()
    path = {id(m): "Sequential." + name for name, m in net.named_modules() if name}
    return [(name, type(m).__name__, shapes[id(m)], sum(p.numel() for p in m.parameters()),
             int(sum(counts.get(path[id(m)], {}).values()))) for name, _, m in leaves]


def rows(summary):
    return [(r.name, r.type, r.output_shape, r.params, r.flops) for r in summary.layers]


def edits():
    """Every kind of edit the window makes, one after another, each from the one before."""
    spec = preset("vgg11").replace(input_size=64)
    steps = [
        lambda s: s.with_block(2, Block(3, 256)),  # a conv more: its twin is already measured
        lambda s: s.with_block(2, Block(3, 320)),  # a new width: block 3 and block 4's first conv change
        lambda s: s.inserting(1, Block(1, 96)),  # every shape after block 2 changes
        lambda s: s.removing(0),
        lambda s: s.moving(0, 2),
        lambda s: s.with_block(0, Block(2, 64, kernel_size=5)),
        lambda s: s.replace(input_size=96),
        lambda s: s.replace(batch_norm=True),
        lambda s: s.replace(ratio=4),
        lambda s: s.replace(in_channels=3),
        lambda s: s.replace(hidden=(512,), dropout=0.2),
        lambda s: s.replace(num_classes=100),
        lambda s: s.replace(head="adaptive"),
        lambda s: s.replace(head="gap"),
        lambda s: s.replace(batch_norm=False, head="fc"),
        lambda s: s.replace(blocks=(Block(2, 64),) * 3),  # blocks 2 and 3 are one built block, shared
        lambda s: preset("vgg11").replace(input_size=64),  # back to the start, as undo would
    ]
    out = [spec]
    for step in steps:
        out.append(check(step(out[-1])))
    return out


def test_a_series_of_edits_gives_the_uncached_summary_every_time():
    clear_caches()
    series = edits()
    warm = [summarize(spec) for spec in series]  # each step reuses whatever the steps before measured
    for spec, summary in zip(series, warm):
        assert rows(summary) == whole_net_rows(spec), spec
    clear_caches()
    for spec, summary in zip(series, warm):
        summarize.cache_clear()
        LEAF_MEASURES.clear()
        assert summarize(spec) == summary  # every field: shapes, shares, receptive fields, block totals


def test_an_edit_measures_only_the_layers_it_has_not_seen():
    clear_caches()
    vgg19 = preset("vgg19")
    summarize(vgg19)
    seen = LEAF_MEASURES.misses
    summarize(vgg19.with_block(2, Block(5, 256)))  # the fifth conv is the fourth's twin, at the same shape
    assert LEAF_MEASURES.misses == seen
    summarize(vgg19.with_block(2, Block(4, 320)))
    # block 3's first conv, its other three (one shape), its ReLU, its pool, and block 4's first conv;
    # block 4's output is as before, so nothing after it is measured again
    assert LEAF_MEASURES.misses == seen + 5
    summarize.cache_clear()
    summarize(vgg19)  # a summary forgotten is rebuilt from measurements alone
    assert LEAF_MEASURES.misses == seen + 5


def test_every_shape_after_a_changed_input_size_is_measured_again():
    clear_caches()
    summarize(preset("vgg11"))
    seen = LEAF_MEASURES.misses
    small = summarize(preset("vgg11").replace(input_size=64))
    assert LEAF_MEASURES.misses > seen
    assert rows(small) == whole_net_rows(preset("vgg11").replace(input_size=64))


def test_the_cache_stays_bounded_and_forgets_the_oldest():
    from vgg_studio.summary import LeafMeasures

    cache = LeafMeasures(maxsize=2)
    relu, pool = torch.nn.ReLU(), torch.nn.MaxPool2d(2, 2)
    assert cache.measure(relu, (1, 4, 8, 8)) == ((1, 4, 8, 8), 0)
    assert cache.measure(pool, (1, 4, 8, 8)) == ((1, 4, 4, 4), 0)
    cache.measure(relu, (1, 4, 8, 8))  # used again: now the newest
    cache.measure(relu, (1, 4, 6, 6))
    assert cache.size == 2 and cache.misses == 3
    cache.measure(relu, (1, 4, 8, 8))
    assert cache.misses == 3  # kept
    cache.measure(pool, (1, 4, 8, 8))
    assert cache.misses == 4  # the pool was the oldest and went


def test_summaries_from_several_threads_agree():
    """The cost estimate summarizes on a worker thread while the window summarizes on its own."""
    specs = edits()
    clear_caches()
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(summarize, specs))
    for spec, summary in zip(specs, parallel):
        summarize.cache_clear()
        assert summarize(spec) == summary


@pytest.fixture(autouse=True)
def _fresh_caches():
    yield
    clear_caches()  # the next test module starts as a fresh process would
