"""Numbers in YAML files read as users write them."""

from stemsim.yamlio import read_yaml


def test_exponents_without_dot_or_sign_are_numbers(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("a: 1e-4\nb: 5.0e3\nc: 2E+2\nd: 7\ne: 1.5\nf: '1e3'\ng: .5\n")
    assert read_yaml(path) == {"a": 1e-4, "b": 5000.0, "c": 200.0, "d": 7, "e": 1.5, "f": "1e3", "g": 0.5}


def test_merge_keys_may_be_overridden_but_a_key_twice_is_refused(tmp_path):
    import pytest

    from stemsim.errors import InputError

    path = tmp_path / "x.yaml"
    path.write_text("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  x: 3\n")
    assert read_yaml(path) == {"base": {"x": 1, "y": 2}, "c": {"x": 3, "y": 2}}
    path.write_text("c:\n  x: 1\n  x: 3\n")
    with pytest.raises(InputError, match=r"x.yaml: not valid YAML \(line 3\): duplicate key 'x'$"):
        read_yaml(path)
