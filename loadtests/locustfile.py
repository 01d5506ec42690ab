"""Load shaped like RL rollouts, over HTTP and gRPC, with SLO gates.

    locust -f loadtests/locustfile.py --headless --host http://HOST:8000 -u 32 -r 8 -t 60s
    locust -f loadtests/locustfile.py --headless --host http://HOST:8000 GrpoGroupUser   # one scenario

Scenarios (User classes; pick some by name, default: all but the overload one):

* ``OpenRLHFUser``: one sample per request to ``/get_reward``, in bursts as generations finish;
* ``GrpoGroupUser``: 8 or 16 siblings of one prompt in one ``/v1/score`` request;
* ``GrpcUnaryUser``: one item per gRPC ``Score`` call;
* ``GrpcStreamUser``: a burst of items through one ``ScoreStream``;
* ``RescoreUser``: the same items again (multi-epoch, best-of-N): cache-heavy;
* ``MixedPipelineUser``: math rules, the similarity model and the code sandbox in
  proportions set by ``--mix`` (default ``math=70,similarity=20,code=10``);
* ``OverloadUser`` (only when named, so the default mix never floods): far
  more than capacity; the excess must get a fast 429 with ``Retry-After`` (a
  429 is its expected answer, not a failure).

Every item has a known answer (half correct, half wrong), so a reward that
differs from the expected one is a failure ("wrong reward"). The server's
``x-queue-time`` and ``x-inference-time`` headers are kept apart from the
requests (in Locust's own stats they would count as requests of 0 ms in
"Aggregated"): printed at the end and written to ``PREFIX_server_timings.csv``.
gRPC goes to ``--grpc-host`` (default: the HTTP host on port 50051).
A request's "content size" in the reports is its number of items, so items/s
= requests/s x average size.

Gates (non-zero exit when missed): failure ratio over ``--max-fail-ratio``;
p99 of a scenario over ``--max-p99-ms`` (``--max-429-p99-ms`` for refusals);
any wrong reward; no request at all.
"""

from __future__ import annotations

import csv
import itertools
import random
import time
from urllib.parse import urlparse

import grpc.experimental.gevent as grpc_gevent
from locust import HttpUser, User, between, events, task
from locust.stats import RequestStats

grpc_gevent.init_gevent()

import grpc  # noqa: E402
from rewardgate_client.v1 import reward_pb2 as pb  # noqa: E402
from rewardgate_client.v1 import reward_pb2_grpc  # noqa: E402

# Unique per run (a service keeps its cache between runs): only RescoreUser repeats items.
_counter = itertools.count(random.randrange(10**12))
WRONG_REWARDS = {"count": 0}
#: The server's per-stage timings (milliseconds), by header; not requests, so not in Locust's stats.
SERVER_TIMINGS = RequestStats()


@events.init_command_line_parser.add_listener
def _arguments(parser):
    parser.add_argument("--grpc-host", default="", help="gRPC host:port (default: the HTTP host, port 50051)")
    parser.add_argument(
        "--mix", default="math=70,similarity=20,code=10", help="MixedPipelineUser proportions"
    )
    parser.add_argument("--max-fail-ratio", type=float, default=0.01, help="gate: failures / requests")
    parser.add_argument("--max-p99-ms", type=float, default=10_000, help="gate: p99 of answered requests")
    parser.add_argument("--max-429-p99-ms", type=float, default=1_000, help="gate: p99 of 429 refusals")


# ---------------------------------------------------------------- items with known answers


def math_item(group: str | None = None) -> tuple[dict, float]:
    n = next(_counter)
    correct = n % 2 == 0
    item = {
        "id": str(n),
        "prompt": f"What is {n} + 0?",
        "response": f"\\boxed{{{n if correct else n + 1}}}",
        "reference": str(n),
    }
    if group:
        item["group"] = group
    return item, 1.0 if correct else 0.0


def code_item() -> tuple[dict, float]:
    n = next(_counter)
    correct = n % 2 == 0
    body = "a + b" if correct else "a - b"
    return {
        "id": str(n),
        "response": f"def add(a, b):\n    return {body}\n",
        "reference": f"assert add({n}, 1) == {n + 1}\nassert add(2, 2) == 4\n",
    }, 1.0 if correct else 0.0


def similarity_item() -> tuple[dict, None]:
    n = next(_counter)
    return {
        "id": str(n),
        "response": f"The cat {n} sits on the mat.",
        "reference": "A cat sits on a mat.",
    }, None


def check(name: str, rewards: list, expected: list) -> str | None:
    """A message when a reward is not the expected one (None expected: any finite number)."""
    for got, want in zip(rewards, expected, strict=True):
        wrong = got is None if want is None else got != want
        if wrong:
            WRONG_REWARDS["count"] += 1
            return f"{name}: wrong reward {got!r}, expected {want!r}"
    return None


# ---------------------------------------------------------------- HTTP users


class _HttpScorer(HttpUser):
    abstract = True

    def score(
        self, name: str, pipeline: str, pairs: list[tuple[dict, float | None]], deadline_ms: int = 30_000
    ):
        body = {
            "pipeline": pipeline,
            "items": [item for item, _ in pairs],
            "options": {"deadline_ms": deadline_ms},
        }
        with self.client.post("/v1/score", json=body, name=name, catch_response=True) as response:
            record_server_timings(response)
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
                return
            response.request_meta["response_length"] = len(pairs)  # reports count items, not bytes
            rewards = [r["reward"] for r in response.json()["results"]]
            problem = check(name, rewards, [want for _, want in pairs])
            if problem:
                response.failure(problem)


def record_server_timings(response) -> None:
    for header in ("x-queue-time", "x-inference-time"):
        value = response.headers.get(header)
        if value is not None:
            SERVER_TIMINGS.log_request("SERVER", header, float(value), 0)


class OpenRLHFUser(_HttpScorer):
    """One sample per request to /get_reward, in bursts: a generation step finishing."""

    wait_time = between(0.5, 1.5)

    @task
    def burst(self):
        for _ in range(random.randint(4, 12)):
            item, want = math_item()
            body = {
                "query": [item["prompt"] + " " + item["response"]],
                "prompts": [item["prompt"]],
                "labels": [item["reference"]],
            }
            with self.client.post(
                "/get_reward?pipeline=math", json=body, name="openrlhf /get_reward", catch_response=True
            ) as response:
                record_server_timings(response)
                response.request_meta["response_length"] = 1
                if response.status_code != 200:
                    response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
                elif problem := check("openrlhf", response.json()["rewards"], [want]):
                    response.failure(problem)


class GrpoGroupUser(_HttpScorer):
    """8 or 16 siblings of one prompt in one request."""

    wait_time = between(0.1, 0.5)

    @task
    def group(self):
        size = random.choice((8, 16))
        group = f"g{next(_counter)}"
        self.score(f"grpo group of {size}", "math", [math_item(group) for _ in range(size)])


class RescoreUser(_HttpScorer):
    """The same items again and again (multi-epoch, best-of-N re-scoring): cache hits."""

    wait_time = between(0.05, 0.2)

    def on_start(self):
        self.pool = [math_item() for _ in range(64)]

    @task
    def rescore(self):
        self.score("rescore (cache)", "math", random.sample(self.pool, 16))


class MixedPipelineUser(_HttpScorer):
    """Math rules, the similarity model and the code sandbox in configurable proportions."""

    wait_time = between(0.1, 0.5)
    makers = {"math": math_item, "similarity": similarity_item, "code": code_item}

    def on_start(self):
        weights = dict(part.split("=") for part in self.environment.parsed_options.mix.split(","))
        self.pipelines = list(weights)
        self.weights = [float(weights[p]) for p in self.pipelines]

    @task
    def mixed(self):
        pipeline = random.choices(self.pipelines, self.weights)[0]
        self.score(f"mixed {pipeline}", pipeline, [self.makers[pipeline]() for _ in range(4)])


class OverloadUser(HttpUser):
    """Offers far more than capacity; the excess must be refused fast with Retry-After."""

    wait_time = between(0, 0.01)

    @task
    def flood(self):
        pairs = [math_item() for _ in range(256)]
        body = {"pipeline": "math", "items": [i for i, _ in pairs], "options": {"deadline_ms": 5000}}
        with self.client.post("/v1/score", json=body, catch_response=True, name="overload") as response:
            if response.status_code == 429:
                response.request_meta["name"] = "overload 429"
                if not response.headers.get("retry-after"):
                    response.failure("429 without Retry-After")
                else:
                    response.success()
                    time.sleep(min(float(response.headers["retry-after"]), 2.0))
            elif response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
            elif problem := check(
                "overload", [r["reward"] for r in response.json()["results"]], [w for _, w in pairs]
            ):
                response.failure(problem)


@events.init.add_listener
def _default_mix(environment, **_kwargs):
    """The overload scenario runs only when named on the command line."""
    named = getattr(environment.parsed_options, "user_classes", None) or []
    if "OverloadUser" not in named and OverloadUser in environment.user_classes:
        environment.user_classes.remove(OverloadUser)
        environment.user_classes_by_name.pop("OverloadUser", None)


# ---------------------------------------------------------------- gRPC users


class _GrpcUser(User):
    abstract = True

    def on_start(self):
        target = self.environment.parsed_options.grpc_host or f"{urlparse(self.host).hostname}:50051"
        self.channel = grpc.insecure_channel(target)
        self.stub = reward_pb2_grpc.RewardServiceStub(self.channel)

    def on_stop(self):
        self.channel.close()

    def call(self, name: str, run, expected: list) -> None:
        started = time.perf_counter()
        exception, length = None, 0
        try:
            rewards = run()
            length = len(rewards)
            if problem := check(name, rewards, expected):
                exception = AssertionError(problem)
        except grpc.RpcError as exc:
            exception = exc
        events.request.fire(
            request_type="gRPC",
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            exception=exception,
            context={},
        )


def to_proto(item: dict) -> pb.Item:
    return pb.Item(
        id=item["id"], prompt=item.get("prompt", ""), response=item["response"], reference=item["reference"]
    )


class GrpcUnaryUser(_GrpcUser):
    wait_time = between(0.01, 0.1)

    @task
    def unary(self):
        item, want = math_item()
        request = pb.ScoreRequest(pipeline="math", items=[to_proto(item)])
        self.call(
            "grpc Score (1 item)",
            lambda: [r.reward for r in self.stub.Score(request, timeout=30).results],
            [want],
        )


class GrpcStreamUser(_GrpcUser):
    wait_time = between(0.1, 0.5)

    @task
    def stream(self):
        pairs = [math_item() for _ in range(32)]
        requests = [pb.StreamRequest(pipeline="math", item=to_proto(item)) for item, _ in pairs]
        order = {item["id"]: index for index, (item, _) in enumerate(pairs)}

        def run():
            rewards = [None] * len(pairs)
            for answer in self.stub.ScoreStream(iter(requests), timeout=30):
                if answer.HasField("error"):
                    raise AssertionError(f"item {answer.id}: {answer.error.type}")
                rewards[order[answer.id]] = answer.result.reward
            return rewards

        self.call("grpc ScoreStream (32 items)", run, [w for _, w in pairs])


# ---------------------------------------------------------------- gates


@events.quitting.add_listener
def _gates(environment, **_kwargs):
    options = environment.parsed_options
    stats = environment.stats
    missed = []
    total = stats.total
    if total.num_requests == 0:
        missed.append("no request was made")
    elif total.num_failures / total.num_requests > options.max_fail_ratio:
        missed.append(
            f"failure ratio {total.num_failures / total.num_requests:.3f} > {options.max_fail_ratio}"
        )
    for entry in stats.entries.values():
        if entry.num_requests == 0:
            continue
        limit = options.max_429_p99_ms if entry.name == "overload 429" else options.max_p99_ms
        p99 = entry.get_response_time_percentile(0.99)
        if p99 > limit:
            missed.append(f"{entry.name}: p99 {p99:.0f} ms > {limit:.0f} ms")
    if WRONG_REWARDS["count"]:
        missed.append(f"{WRONG_REWARDS['count']} wrong rewards")
    for line in missed:
        print(f"GATE MISSED: {line}")
    if missed:
        environment.process_exit_code = 1
    else:
        print("all gates met")


# ---------------------------------------------------------------- server timings


TIMING_COLUMNS = ("Name", "Count", "Average (ms)", "50%", "90%", "99%", "Max (ms)")


@events.quitting.add_listener
def _report_server_timings(environment, **_kwargs):
    """Print the server's timings and write them next to Locust's CSVs (``--csv PREFIX``)."""
    rows = [
        (
            name,
            entry.num_requests,
            round(entry.avg_response_time, 3),
            *(entry.get_response_time_percentile(q) for q in (0.5, 0.9, 0.99)),
            round(entry.max_response_time, 3),
        )
        for (name, _), entry in sorted(SERVER_TIMINGS.entries.items())
        if entry.num_requests
    ]
    if not rows:
        return
    print("server timings (x-*-time headers of the HTTP replies, ms):")
    for row in rows:
        pairs = zip(TIMING_COLUMNS, row, strict=True)
        print("  " + "  ".join(f"{column}={value}" for column, value in pairs))
    prefix = getattr(environment.parsed_options, "csv_prefix", None)
    if prefix:
        with open(f"{prefix}_server_timings.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(TIMING_COLUMNS)
            writer.writerows(rows)
