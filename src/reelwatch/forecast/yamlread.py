"""YAML schedules with the line of each entry, read safely and without YAML's date guessing.

PyYAML (installed with apprise) turns ``2024-05-03 18:00:00`` into a datetime and drops any
time zone written after it; dates are left as text here, so that :func:`.schedule.parse_due`
reads every due time the same way whatever the format. Only the safe loader is used: no
Python objects from a schedule file.
"""

from __future__ import annotations

from typing import Any


def load_with_lines(text: str) -> tuple[Any, list[int | None]]:
    """The document, and the 1-based line of each entry of its delivery list. Raises ValueError."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    loader = Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise ValueError(str(exc).replace("\n", " ")) from None
    finally:
        loader.dispose()
    items = node
    if isinstance(node, yaml.MappingNode):
        items = next((v for k, v in node.value if getattr(k, "value", None) in ("delivery", "deliveries")), None)
    lines: list[int | None] = []
    if isinstance(items, yaml.SequenceNode):
        lines = [n.start_mark.line + 1 for n in items.value]
    return data, lines
