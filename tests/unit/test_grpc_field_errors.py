"""gRPC items that do not fit the wire name the field, as HTTP's 422 does (not protobuf's
"bad argument type for built-in operation")."""

import pytest
from rewardgate_client._grpc import item_to_proto
from rewardgate_client.errors import InvalidInput


@pytest.mark.parametrize(
    ("item", "says"),
    [
        ({"response": 3}, "items[2].response: expected a string, got int 3"),
        ({"response": None}, "items[2].response: expected a string, got NoneType None"),
        ({"response": "r", "reference": 4}, "items[2].reference: expected a string, got int 4"),
        ({"response": "r", "group": 7}, "items[2].group: expected a string, got int 7"),
        ({"prompt": 5, "response": "r"}, "items[2].prompt: expected a string or a list of messages"),
        (
            {"prompt": [{"role": 1, "content": "x"}], "response": "r"},
            "items[2].prompt[0].role: expected a string",
        ),
        (
            {"prompt": [{"role": "user", "content": ["text"]}], "response": "r"},
            "items[2].prompt[0].content[0]: expected a content part",
        ),
        (
            {"prompt": [{"role": "user", "content": [{"type": "text", "text": 9}]}], "response": "r"},
            "items[2].prompt[0].content[0].text: expected a string, got int 9",
        ),
        ({"response": "r", "metadata": {"db": object()}}, "items[2].metadata.db: not a JSON value"),
        ({"response": "r", "metadata": ["x"]}, "items[2].metadata: expected an object"),
        ({"prompt": "p"}, "items[2].response: required"),
    ],
)
def test_a_value_that_does_not_fit_names_its_field(item, says):
    with pytest.raises(InvalidInput) as refused:
        item_to_proto(item, 2)
    assert says in refused.value.message
    assert "bad argument type" not in refused.value.message


def test_items_that_fit_convert():
    message = item_to_proto(
        {"prompt": [{"role": "user", "content": "2+2?"}], "response": "4", "metadata": {"k": 1}}, 0
    )
    assert (message.response, message.messages[0].content, dict(message.metadata)) == (
        "4",
        "2+2?",
        {"k": 1.0},
    )
