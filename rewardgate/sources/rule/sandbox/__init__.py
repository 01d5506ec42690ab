"""Running untrusted Python from responses against tests, contained."""
