"""Model specs: which backend loads a spec, target files, and capabilities checked up front."""

from __future__ import annotations

import pytest

from tailscope.errors import TailscopeError
from tailscope.models.base import Capability
from tailscope.models.registry import (
    DEFAULT_MODEL,
    backend,
    load_model,
    parse_model_spec,
    require,
)


def test_specs_name_a_backend_or_are_recognised_by_one(tmp_path, tiny_model_dir):
    assert parse_model_spec(DEFAULT_MODEL).backend == "packaged"
    assert parse_model_spec(f"hf:{tiny_model_dir}").location == str(tiny_model_dir)
    assert parse_model_spec(str(tiny_model_dir)).backend == "hf"  # a bare directory
    assert parse_model_spec("some/model.gguf").backend == "gguf"  # existence is load's job
    assert parse_model_spec("gguf:other.gguf").location == "other.gguf"
    with pytest.raises(TailscopeError, match="unknown model 'nope'.*packaged:, gguf:, hf:"):
        parse_model_spec("nope")
    with pytest.raises(TailscopeError, match="empty"):
        parse_model_spec("  ")


def test_a_target_file_sets_the_model_its_options_and_system_prompt(tmp_path, tiny_model_dir):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "tiny").symlink_to(tiny_model_dir)
    target = tmp_path / "target.yaml"
    target.write_text(
        "model: hf:models/tiny\n"  # relative to the target file, not to the working directory
        "system_prompt: You are the ACME support bot.\n"
        "options: {batch_tokens: 512, device: cpu}\n"
    )
    spec = parse_model_spec(str(target))
    assert spec.backend == "hf" and spec.location == str((tmp_path / "models" / "tiny").resolve())
    assert spec.options == {"batch_tokens": 512, "device": "cpu"}
    model = load_model(str(target))
    assert model.batch_tokens == 512 and model.identity()["system_prompt"].startswith("You are")
    # The target's system prompt is used where no caller gives one, and shapes the template.
    assert "ACME support bot" in model.chat_text("hi")
    assert "ACME" not in model.chat_text("hi", system_prompt="Other.")


@pytest.mark.parametrize(
    "text, message",
    [
        ("model: hf:x\nbackend: hf\n", "unknown field 'backend'"),
        ("system_prompt: hi\n", "field 'model' must be a model spec"),
        ("model: hf:x\noptions: [1]\n", "field 'options' must be a mapping"),
        ("model: hf:x\noptions: {batch_tokens: 0}\n", "option 'batch_tokens'"),
        ("model: hf:x\noptions: {color: red}\n", "option 'color'"),
        ("model: [unclosed\n", "malformed YAML at line 2"),
    ],
)
def test_bad_target_files_are_one_line(tmp_path, text, message):
    target = tmp_path / "t.yaml"
    target.write_text(text)
    with pytest.raises(TailscopeError, match=message) as err:
        parse_model_spec(str(target))
    assert "\n" not in str(err.value)
    with pytest.raises(TailscopeError, match="not found"):
        parse_model_spec(str(tmp_path / "missing.yaml"))


def test_capabilities_are_declared_by_the_backend_and_required_before_loading():
    spec = parse_model_spec(DEFAULT_MODEL)
    assert backend(spec.backend).capabilities_of(spec) == frozenset(Capability)
    require(DEFAULT_MODEL, {Capability.WHITE_BOX, Capability.TRAINABLE}, "white-box search")
