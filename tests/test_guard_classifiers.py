"""The trained guards: the value head's streaming loss, threshold calibration to a
false-positive budget, and the classifiers trained end to end on a tiny random model,
saved as artifacts, reloaded as guards, and refused when the artifact is missing, damaged
or the data too small."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tailscope.errors import TailscopeError
from tailscope.guard.base import halt_index, make_guard
from tailscope.guard.calibrate import calibrate_threshold
from tailscope.guard.constitution import load_constitution
from tailscope.guard.evaluate import counted_flops
from tailscope.guard.features import exchange_states, piece_positions
from tailscope.guard.heads import mix_weight, train_value_head, value_head_loss
from tailscope.guard.streaming import StreamReader
from tailscope.guard.train import GuardTrainConfig
from tailscope.guard.watch import StreamWatcher, text_pieces
from tailscope.runs.execute import execute
from tailscope.store import Workspace
from tailscope.store.guard_data import GuardExample

MARKER = "tension wrench"  # the restricted replies' tell, always after a harmless opening


def test_the_loss_mixes_the_direct_score_with_its_running_maximum():
    logits = torch.tensor([[2.0, -1.0, 0.5, -3.0]])
    mask, label = torch.ones(1, 4), torch.tensor([0.0])
    p = torch.sigmoid(logits)
    running = torch.cummax(p, dim=1).values
    assert torch.allclose(value_head_loss(logits, mask, label, 0.0), -(1 - p).log().mean())
    assert torch.allclose(value_head_loss(logits, mask, label, 1.0), -(1 - running).log().mean())
    # a permitted reply pays for its highest token at every later token once ω = 1
    assert value_head_loss(logits, mask, label, 1.0) > value_head_loss(logits, mask, label, 0.0)
    padded = torch.cat([logits, torch.tensor([[9.0]])], 1)
    pad_mask = torch.tensor([[1.0, 1, 1, 1, 0]])
    assert torch.allclose(
        value_head_loss(padded, pad_mask, label, 0.5), value_head_loss(logits, mask, label, 0.5)
    )
    assert [mix_weight(s, 5) for s in range(5)] == [0.0, 0.25, 0.5, 0.75, 1.0]


def exchanges(n: int, seed: int = 0):
    """Replies about locks, a third of them restricted: they name the marker midway. The
    prompt says nothing of the label, so before the turn the best score is the base rate."""
    rng = np.random.default_rng(seed)
    topics = ["history", "careers", "springs", "brass", "keys", "doors", "hinges", "safes"]
    out = []
    for i in range(n):
        topic = topics[rng.integers(len(topics))]
        restricted = bool(i % 3 == 0)
        middle = f"then use a {MARKER} on the pins" if restricted else "then read about it"
        reply = f"Locks and {topic} are interesting, {middle}, and that is all."
        out.append((f"Tell me about {topic}.", reply, restricted))
    return out


def test_the_value_head_learns_where_a_reply_turns_and_its_running_max_never_falls(tiny_model):
    train, test = exchanges(40, seed=0), exchanges(20, seed=1)
    states = exchange_states(tiny_model, *zip(*[(p, r, None) for p, r, _ in train], strict=True))
    w, b, mean, scale, losses = train_value_head(
        [s.reply() for s in states], [y for *_, y in train], steps=150, lr=0.05
    )
    assert losses[-1] < 0.5 * losses[0]
    test_states = exchange_states(
        tiny_model, *zip(*[(p, r, None) for p, r, _ in test], strict=True)
    )
    for (_, reply, restricted), s in zip(test, test_states, strict=True):
        z = ((s.reply().numpy() - mean) / scale) @ w + b
        scores = 1 / (1 + np.exp(-z))
        running = np.maximum.accumulate(scores)
        assert np.all(np.diff(running) >= 0)  # what halting reads never decreases
        turn = next(i for i, end in enumerate(s.reply_ends) if end > reply.index("then"))
        halt = halt_index(scores, 0.5)
        if restricted:
            assert halt is not None and halt >= turn  # it halts, and not before the turn
            assert running[-1] >= 0.5  # and stays halted to the end
        else:
            assert halt is None


def test_calibrated_thresholds_keep_fresh_false_positives_within_binomial_noise():
    rng = np.random.default_rng(0)
    for budget, n in [(0.01, 2000), (0.05, 1000)]:
        rates = []
        for _ in range(20):
            calibration = calibrate_threshold(rng.beta(2, 5, n), budget)
            assert calibration.flagged <= np.floor(budget * n)
            fresh = rng.beta(2, 5, 20_000)
            rates.append(float((fresh >= calibration.threshold).mean()))
        noise = np.sqrt(budget * (1 - budget) / n)
        assert all(abs(r - budget) < 4 * noise for r in rates)
        assert abs(np.mean(rates) - budget) < 4 * noise / np.sqrt(20) + 1 / n
    with pytest.raises(TailscopeError, match="outside"):
        calibrate_threshold([0.1, 0.2], 1.5)
    assert calibrate_threshold([0.3, 1.0, 1.0], 0.0).threshold == 1.0  # never above 1


def test_a_streamed_piece_scores_at_the_last_backbone_token_inside_it():
    assert piece_positions(["Hel", "lo", " world"], [4, 5, 11]) == [-1, 1, 2]
    assert piece_positions(["ab"], []) == [-1]


def guard_data_run(ws: Workspace, exchanges_by_split: dict) -> str:
    constitution = load_constitution("lock-picking").model_dump()
    run_id = ws.runs.create("guard-data", {"constitution": constitution}, 0, {})
    for split, items in exchanges_by_split.items():
        examples = [
            GuardExample(
                prompt=p,
                completion=r,
                category="bad" if y else "good",
                restricted=y,
                source=i,
                split=split,
                style="plain" if split != "heldout" else "leetspeak",
            )
            for i, (p, r, y) in enumerate(items)
        ]
        ws.guard_data.record(run_id, f"queries:{split}", examples)
    ws.runs.set_status(run_id, "completed")
    return run_id


def test_a_reply_whose_tokens_change_as_it_grows_reads_as_if_read_whole(tiny_model):
    """Streaming re-reads from where the tokenizations part: " wor" is one token, " world"
    another, so the cache is cropped back before the new end is read."""
    grown = [tiny_model.encode(t) for t in (" wor", " world")]
    assert grown[0][0] != grown[1][0]  # the last token changes, not just grows
    streamed = StreamReader(tiny_model)
    for reply in ("Hello", "Hello wor", "Hello world", "Hello world, and locks"):
        states, _ = streamed.states("Tell me", reply, None)
    whole, _ = StreamReader(tiny_model).states("Tell me", "Hello world, and locks", None)
    assert states.shape == whole.shape and np.allclose(states, whole, atol=1e-5)


def test_trained_guards_are_saved_reloaded_and_refused_when_damaged(tmp_path, tiny_model_dir):
    ws = Workspace(tmp_path / "ws")
    data = guard_data_run(
        ws,
        {
            "train": exchanges(40, 0),
            "calibration": exchanges(24, 1),
            "test": exchanges(12, 2),
            "heldout": exchanges(8, 3),
        },
    )
    spec = str(tiny_model_dir)
    config = GuardTrainConfig(
        data=data,
        backbone=spec,
        steps=150,
        lr=0.05,
        judge=spec,
        classifiers=[
            "input-classifier",
            "value-head",
            "activation-probe",
            "minilm",
            "transcript-judge",
        ],
    )
    run_id = execute(ws, "guard-train", config, 0)
    records = {r["classifier"]: r for r in ws.units.completed(run_id).values()}
    head = records["value-head"]
    assert head["calibration"]["flagged"] <= 0.01 * head["calibration"]["n_permitted"]
    assert head["test"]["tpr"]["rate"] >= 0.8 and head["test"]["fpr"]["n"] == 8
    assert records["activation-probe"]["test"]["auroc"] >= 0.9
    assert records["minilm"]["test"]["auroc"] is not None
    assert records["transcript-judge"]["artifact"] is None  # untrained: a threshold only
    assert 0.0 <= records["transcript-judge"]["threshold"] <= 1.0

    guard = make_guard({"kind": "value-head", "artifact": head["artifact"]})
    guard.load()
    assert guard.threshold == pytest.approx(head["threshold"])
    prompt, reply, _ = exchanges(2, 9)[0]
    pieces = text_pieces(reply)
    (stream,) = guard.score_stream([prompt], [pieces])
    assert len(stream) == len(pieces)
    fresh = make_guard({"kind": "value-head", "artifact": head["artifact"]})
    grown = [fresh.score_stream([prompt], [pieces[:k]])[0] for k in range(1, len(pieces) + 1)]
    for k, scores in enumerate(grown):  # streamed token by token, read incrementally
        assert np.allclose(scores, stream[: k + 1], atol=1e-4)
    assert counted_flops(lambda: fresh.score_stream([prompt], [pieces])) == 0  # all cached
    StreamWatcher([fresh], [prompt], None)  # a new generation reads its replies afresh
    assert counted_flops(lambda: fresh.score_stream([prompt], [pieces])) > 0
    (whole,) = guard.score_transcripts([prompt], [reply])
    assert whole == pytest.approx(stream.max(), abs=1e-3)
    inputs = make_guard(
        {"kind": "input-classifier", "artifact": records["input-classifier"]["artifact"]}
    )
    assert inputs.score_prompts(["How do locks work?"]).shape == (1,)

    with pytest.raises(TailscopeError, match="does not exist"):
        make_guard({"kind": "value-head", "artifact": str(tmp_path / "nowhere")}).load()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "guard.json").write_text('{"classifier": "value-head"}')
    (tmp_path / "broken" / "head.npz").write_bytes(b"not an archive")
    with pytest.raises(TailscopeError, match="unreadable") as caught:
        make_guard({"kind": "value-head", "artifact": str(tmp_path / "broken")}).load()
    assert "\n" not in str(caught.value)
    with pytest.raises(TailscopeError, match="holds a 'value-head' classifier"):
        make_guard({"kind": "input-classifier", "artifact": head["artifact"]}).load()


def test_guard_data_too_small_to_train_on_says_how_much_is_needed(tmp_path, tiny_model_dir):
    ws = Workspace(tmp_path / "ws")
    data = guard_data_run(ws, {"train": exchanges(6), "calibration": exchanges(30, 1)})
    config = GuardTrainConfig(data=data, backbone=str(tiny_model_dir), classifiers=["value-head"])
    with pytest.raises(
        TailscopeError, match="too small to train on: 2 restricted and 4 permitted"
    ) as caught:
        execute(ws, "guard-train", config, 0)
    assert "at least 8, 8 and 10" in str(caught.value)
