from __future__ import annotations

import pytest

from vfbuild.recipe import Recipe, canonical_json, key_of, make_recipe, step_key_of


def _recipe(**over: object) -> Recipe:
    base = dict(
        step="draft",
        provider="local",
        model="previz-animatic",
        engine={"ffmpeg": "9"},
        tier="draft",
        settings={"width": 640, "height": 360},
        inputs={"keyframe": "ab"},
        prompt="slow push-in",
        negative="blur",
        seed=10,
        take=1,
    )
    base.update(over)
    return make_recipe(**base)  # type: ignore[arg-type]


def test_key_is_canonical_and_order_free() -> None:
    a = _recipe()
    b = dict(reversed(list(a.as_dict().items())))
    assert canonical_json(a.as_dict()) == canonical_json(b) and key_of(a) == key_of(b)
    assert len(key_of(a)) == 64 and a.key == key_of(a)


def test_a_recipe_reads_back_from_its_json_with_the_same_key() -> None:
    a = _recipe()
    back = Recipe.from_dict(a.as_dict())
    assert back == a and back.key == a.key and back.step_key == step_key_of(a.as_dict())
    assert a["model"] == a.model and dict(a) == a.as_dict()


@pytest.mark.parametrize("broken", [{"seed0": 1}, {"step": None}, {"settings": []}])
def test_a_recorded_recipe_of_another_shape_is_refused(broken: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Recipe.from_dict(_recipe().as_dict() | broken)


def test_a_changed_recipe_is_a_new_one_and_the_old_is_untouched() -> None:
    a = _recipe()
    b = a.replace(settings=a.settings | {"width": 1280})
    assert a.settings["width"] == 640 and b.settings["width"] == 1280 and a.key != b.key


def test_every_part_of_the_recipe_changes_the_key() -> None:
    base = key_of(_recipe())
    for change in (
        {"prompt": "x"},
        {"negative": None},
        {"seed": 11},
        {"take": 2},
        {"inputs": {"keyframe": "cd"}},
        {"settings": {"width": 641, "height": 360}},
        {"engine": {"ffmpeg": "5.1"}},
        {"model": "m"},
        {"tier": "final"},
    ):
        assert key_of(_recipe(**change)) != base, change


def test_takes_of_one_version_share_a_step_key() -> None:
    # take n uses seed + n - 1: all takes of one recipe are one version
    takes = [_recipe(seed=10 + t - 1, take=t) for t in (1, 2, 3)]
    assert len({step_key_of(r) for r in takes}) == 1
    assert len({key_of(r) for r in takes}) == 3
    assert step_key_of(_recipe(seed=11, take=1)) != step_key_of(takes[0])
    assert step_key_of(_recipe(prompt="other")) != step_key_of(takes[0])
