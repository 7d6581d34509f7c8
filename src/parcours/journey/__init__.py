"""The journey: the model a company declares (``journey.yaml``) and the stage of every event."""

from .assign import CustomerTimeline, RefreshStats, refresh, timeline
from .model import (
    DEFAULT_TEMPLATE,
    JourneyModel,
    list_templates,
    load_model,
    load_template,
    parse_model,
    template_path,
    template_text,
)

__all__ = [
    "DEFAULT_TEMPLATE", "JourneyModel", "load_model", "parse_model", "load_template",
    "list_templates", "template_path", "template_text", "refresh", "RefreshStats", "timeline",
    "CustomerTimeline",
]
