"""Images as item content: decoding under limits (``decode.py``), the image parts of
a conversation resolved to one canonical, content-addressed form (``parts.py``)."""
