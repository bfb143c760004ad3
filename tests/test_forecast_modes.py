"""The missed-mode check by embedding cluster: top queries on one topic, however phrased,
are named as one mode; a tail spread over topics is not. The embedder is the real MiniLM,
and a forecast without the check never loads it."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tailscope.detectors.embeddings import embedder
from tailscope.forecast.data import observations
from tailscope.forecast.diagnostics import missed_mode
from tailscope.forecast.modes import embedding_mode
from tests.cli import assert_one_line_error, tailscope

V3 = Path(__file__).parent / "data" / "workspace-v3"
V3_REDTEAM = "r-20261202-0636-a7f9"

STARTS = ["How do I", "What is the best way to", "Can you explain how to", "Is it hard to",
          "Tell me how to"]  # fmt: skip
TASKS = {
    "cooking": ["bake sourdough bread", "roast a whole chicken", "make fresh pasta dough",
                "caramelize onions slowly", "cook risotto on the stove"],
    "gardening": ["grow tomatoes in pots", "prune an apple tree", "compost kitchen scraps",
                  "plant tulip bulbs", "water succulents properly"],
    "programming": ["write a Python class", "debug a segmentation fault", "use git rebase",
                    "profile a slow SQL query", "write unit tests in Java"],
    "taxes": ["file an income tax return", "deduct home office costs", "pay quarterly taxes",
              "report capital gains", "claim a dependent on taxes"],
    "astronomy": ["find Jupiter in the night sky", "photograph the Milky Way",
                  "choose a beginner telescope", "see a meteor shower", "spot the ISS"],
    "cars": ["change a flat tire", "replace brake pads", "check the engine oil",
             "jump start a car battery", "rotate the tires of a car"],
    "music": ["tune a guitar by ear", "read sheet music", "practice piano scales",
              "sing in harmony", "record a song at home"],
    "fitness": ["run a first marathon", "do a proper push-up", "stretch after lifting",
                "start a rowing routine", "build core strength"],
    "travel": ["pack a carry-on bag", "find cheap flights", "get over jet lag",
               "plan a rail trip in Europe", "renew a passport"],
    "pets": ["train a puppy to sit", "trim a cat's claws", "clean a fish tank",
             "feed a pet rabbit", "walk a dog on a leash"],
}  # fmt: skip


def queries_by_topic() -> tuple[list[str], list[str]]:
    queries, topics = [], []
    for topic, tasks in TASKS.items():
        for start, task in itertools.product(STARTS, tasks):
            queries.append(f"{start} {task}?")
            topics.append(topic)
    return queries, topics


def evaluation_set(top_of: list[int]):
    """250 queries whose log p is low except at the indices `top_of`."""
    rng = np.random.default_rng(0)
    logp = -np.exp(2 + rng.standard_normal(250))  # psi well below the top
    logp[top_of] = -np.exp(-4 - np.linspace(0, 1, len(top_of)))
    return observations(logp=logp)


@pytest.fixture(scope="module")
def embed():
    return embedder().embed


def test_top_queries_on_one_topic_are_one_mode_however_phrased(embed):
    queries, topics = queries_by_topic()
    cooking = [i for i, t in enumerate(topics) if t == "cooking"]
    top = cooking[::2][:10]  # phrased with every start, about five dishes
    obs = evaluation_set(top)
    assert missed_mode(obs, queries, k_tail=10) is None  # no shared template
    warning = embedding_mode(obs, queries, k_tail=10, embed=embed)
    assert warning is not None and "the tail rests on one mode" in warning
    count = int(warning.split(" of the top")[0].rsplit(" ", 1)[-1])
    assert count >= 7 and "embedding clusters (MiniLM, k-means)" in warning


def test_a_tail_spread_over_topics_is_not_one_mode(embed):
    queries, topics = queries_by_topic()
    first_of = [topics.index(t) + 3 for t in TASKS]  # one query of each topic
    obs = evaluation_set(first_of)
    assert embedding_mode(obs, queries, k_tail=10, embed=embed) is None


def test_the_cli_checks_embeddings_only_when_asked(tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(V3, ws)
    args = ("forecast", V3_REDTEAM, "--k-tail", "4", "--bootstrap", "20", "--deploy", "1000")
    asked = tailscope(*args, "--embedding-modes", "--json", workspace=ws)
    assert asked.returncode == 0, asked.stderr
    warnings = json.loads(asked.stdout)["diagnostics"]["warnings"]
    [cluster] = [w for w in warnings if "embedding clusters" in w]
    assert "of the top 4 queries fall in one of 2 embedding clusters" in cluster
    assert "rude" in cluster
    plain = tailscope(*args, "--json", workspace=ws)
    assert not any("embedding" in w for w in json.loads(plain.stdout)["diagnostics"]["warnings"])
    p_file = tmp_path / "p.csv"
    p_file.write_text("p\n" + "\n".join(str(0.01 * (i + 1)) for i in range(30)) + "\n")
    no_queries = tailscope("forecast", str(p_file), "--embedding-modes", workspace=ws)
    assert_one_line_error(no_queries, "--embedding-modes needs the queries")


def test_a_forecast_without_the_check_never_loads_the_embedding_model():
    code = (
        "import sys; import numpy as np\n"
        "from tailscope.forecast.data import observations\n"
        "from tailscope.forecast.forecast import forecast\n"
        "logp = -np.exp(-np.random.default_rng(0).gumbel(size=200))\n"
        "queries = [f'query {i}' for i in range(200)]\n"
        "forecast(observations(logp=logp), 1e5, bootstrap=50, queries=queries)\n"
        "print('sentence_transformers' in sys.modules, 'sklearn.cluster' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]
