"""How a ScoreStream micro-batch is split into scorer calls: by pipeline and options."""

from rewardgate_client.v1 import reward_pb2 as pb

from rewardgate.api.grpc.stream import _by_pipeline_and_options, _Pending


def pending(request: pb.StreamRequest, item_id: str) -> _Pending:
    return _Pending(request, pb.Item(id=item_id, response="x"), item_id)


def test_items_of_equal_pipeline_and_options_share_a_call_whichever_message_they_came_in():
    burst = pb.StreamRequest(pipeline="p", options=pb.ScoreOptions(cache=False))
    same_again = pb.StreamRequest(pipeline="p", options=pb.ScoreOptions(cache=False))
    other_options = pb.StreamRequest(pipeline="p", options=pb.ScoreOptions(cache=True))
    other_pipeline = pb.StreamRequest(pipeline="q", options=pb.ScoreOptions(cache=False))
    batch = [
        pending(burst, "a"),
        pending(other_options, "b"),
        pending(burst, "c"),
        pending(same_again, "d"),
        pending(other_pipeline, "e"),
    ]
    groups = [[p.caller_id for p in group] for group in _by_pipeline_and_options(batch)]
    assert groups == [["a", "c", "d"], ["b"], ["e"]]
