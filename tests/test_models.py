import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sepgan_lib.critic import build_critic
from sepgan_lib.shapes import crop_center, pad_freq, unet_output_size, unet_shapes
from sepgan_lib.unet import build_separator


def test_original_shapes_at_defaults():
    shapes = unet_shapes((256, 64), 4)
    assert shapes.input == (350, 158)
    assert shapes.output == (258, 66)
    assert shapes.context == (47, 47)


@settings(max_examples=60, deadline=None)
@given(freq=st.integers(1, 400), frames=st.integers(1, 300), layers=st.integers(1, 5))
def test_shape_helper_agrees_with_forward_arithmetic(freq, frames, layers):
    shapes = unet_shapes((freq, frames), layers)
    for size_in, size_out, desired in zip(shapes.input, shapes.output, (freq, frames)):
        assert unet_output_size(size_in, layers) == size_out >= desired
        # the smallest input: one less bottom unit would not reach the desired size
        assert size_out - 2**layers < desired


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(freq=st.integers(8, 80), frames=st.integers(4, 48), layers=st.integers(1, 5))
def test_built_model_maps_input_to_promised_output(freq, frames, layers):
    shapes = unet_shapes((freq, frames), layers)
    model = build_separator(shapes.input, num_layers=layers, base_filters=2)
    acc, voc = model(np.zeros((1, *shapes.input, 1), np.float32))
    assert tuple(acc.shape[1:3]) == shapes.output
    assert tuple(voc.shape[1:3]) == shapes.output


def test_separator_parameter_count_matches_original():
    model = build_separator(unet_shapes((256, 64), 4).input)
    assert abs(model.count_params() - 0.96e6) / 0.96e6 < 0.05


def test_separator_accepts_open_time_axis():
    model = build_separator((350, None))
    acc, voc = model(np.zeros((1, 350, 158 + 16 * 3, 1), np.float32))
    assert acc.shape == (1, 258, 66 + 16 * 3, 1)
    assert np.all(acc.numpy() >= 0) and np.all(voc.numpy() >= 0)  # ReLU heads


def test_critic_parameter_count_and_scores():
    critic = build_critic((256, 64))
    # the original's rule, counted by hand: 4x4 convs 1->32->64->128->256 (time 64 -> 4),
    # two [4,2] convs 256->256 (freq 16 -> 4), dense 4096->32, output 32->1 without bias
    assert critic.count_params() == 1_869_344
    scores = critic(np.random.default_rng(0).random((5, 256, 64, 1), np.float32))
    assert scores.shape == (5, 1)
    assert len(set(np.round(scores.numpy().ravel(), 6))) == 5  # one score per example


def test_pad_and_crop():
    spec = np.ones((256, 10), np.float32)
    padded = pad_freq(spec, 350)
    assert padded.shape == (350, 10)
    assert padded[:47].sum() == 0 and padded[-47:].sum() == 0 and padded[47:303].all()
    with pytest.raises(ValueError):
        pad_freq(spec, 100)
    batch = np.arange(2 * 6 * 8, dtype=np.float32).reshape(2, 6, 8, 1)
    assert crop_center(batch, (4, 4)).shape == (2, 4, 4, 1)
    np.testing.assert_array_equal(crop_center(batch, (4, 4))[0, 0, :, 0], batch[0, 1, 2:6, 0])


def _convs(critic):
    return [layer for layer in critic.layers if layer.name.startswith("conv_")]


@pytest.mark.parametrize(
    "frames, filters, max_filters", [(64, 32, 256), (64, 8, 256), (16, 8, 256), (64, 64, 128)]
)
def test_critic_halves_until_an_axis_is_at_most_4(frames, filters, max_filters):
    critic = build_critic((256, frames), filters, max_filters, dense_units=8)
    square = [c.output.shape[1:3] for c in _convs(critic) if c.kernel_size == (4, 4)]
    assert min(square[-1]) <= 4  # the 4x4 stride-2 stack stops once an axis is at most 4 ...
    assert all(min(shape) > 4 for shape in square[:-1])  # ... and not before
    assert _convs(critic)[-1].output.shape[1:3] == (4, 4)  # 4 frames left at every width
    widths = [c.filters for c in _convs(critic)]
    assert widths[0] == min(filters, max_filters) and max(widths) <= max_filters
    assert critic.get_layer("score").use_bias is False
