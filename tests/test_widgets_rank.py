"""The rank explorer of notebook 2 (lora_tutorial.course.widgets.rank)."""

from lora_tutorial.course.widgets.rank import RankExplorer, load_image_matrix, rank_r_summary


def test_image_matrix_is_grayscale_and_small():
    image = load_image_matrix()
    assert image.shape == (106, 160)
    assert 0 <= image.min() and image.max() <= 1


def test_rank_explorer_error_falls_with_the_slider():
    explorer = RankExplorer(load_image_matrix(), r=5)
    error5, label5, image5 = explorer.error, explorer.label.value, bytes(explorer.image.value)
    explorer.slider.value = 40
    assert explorer.error < error5
    assert explorer.label.value != label5 and bytes(explorer.image.value) != image5
    assert "r·(d + k) = 10,640" in explorer.label.value
    explorer.slider.value = explorer.slider.max
    assert explorer.error < 1e-5


def test_rank_r_summary():
    assert rank_r_summary(100, 150, 10, 0.1234) == (
        "rank r = 10: relative error 12.3% · stores r·(d + k) = 2,500 numbers, "
        "16.7% of d·k = 15,000")
