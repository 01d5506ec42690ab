"""Conversations shaped as TRL 1.16 hands them to reward functions (for the TRL tests)."""

#: A tool-use prompt: the user's question, the assistant's parsed call (dict arguments), the tool's answer.
TRL_TOOL_PROMPT = [
    {"role": "user", "content": "What is 6 times 7?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"type": "function", "function": {"name": "multiply", "arguments": {"a": 6, "b": 7}}}],
    },
    {"role": "tool", "name": "multiply", "content": "42"},
]
