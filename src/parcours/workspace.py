"""The workspace: a folder with the store (``parcours.duckdb``) and the journey model
(``journey.yaml``). The CLI, the API and the web pages all go through this object.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError
from .data.store import Store

STORE_FILE = "parcours.duckdb"
MODEL_FILE = "journey.yaml"


class Workspace:
    """One company's journey data and journey model.

    >>> ws = Workspace.init("shop")                  # doctest: +SKIP
    >>> ws.import_events("events.csv").to_dict()     # doctest: +SKIP
    {'imported': 1000, 'rejected': 2, 'duplicates': 0}
    """

    def __init__(self, path: Path, store: Store):
        self.path = Path(path)
        self.store = store
        self._model = None

    # -- opening -----------------------------------------------------------------------
    @classmethod
    def init(cls, path, template: str = "cinq-etapes", exist_ok: bool = False) -> "Workspace":
        from .journey.model import template_text

        path = Path(path)
        model_file = path / MODEL_FILE
        if (path / STORE_FILE).exists() and not exist_ok:
            raise ConfigError(f"{path} is already a workspace")
        text = template_text(template)  # raises ConfigError for an unknown template
        path.mkdir(parents=True, exist_ok=True)
        if not model_file.exists():
            model_file.write_text(text, encoding="utf-8")
        return cls(path, Store(path / STORE_FILE))

    @classmethod
    def open(cls, path, read_only: bool = False) -> "Workspace":
        path = Path(path)
        if not (path / STORE_FILE).exists():
            raise ConfigError(f"{path} is not a workspace (no {STORE_FILE}); create it with `parcours init {path}`")
        return cls(path, Store(path / STORE_FILE, read_only=read_only))

    @property
    def model(self):
        """The journey model, loaded from journey.yaml (validated, errors name the line)."""
        if self._model is None:
            from .journey.model import load_model

            self._model = load_model(self.path / MODEL_FILE)
        return self._model

    def reload_model(self) -> None:
        self._model = None

    # -- import ------------------------------------------------------------------------
    def import_(self, source, kind: str = "events", mapping=None, tz: str = "UTC",
                fmt: str | None = None, refresh: bool = True):
        """Import a file path or a data frame (pandas, Polars, Arrow) of one kind."""
        from .data import importer

        if isinstance(source, (str, Path)):
            report = importer.import_file(self.store, source, kind, mapping, tz, fmt)
        else:
            report = importer.import_frame(self.store, source, kind, mapping, tz)
        if refresh and kind in ("events", "segment", "customers"):
            self.refresh()
        return report

    def import_events(self, source, **kw):
        return self.import_(source, "events", **kw)

    def import_customers(self, source, **kw):
        return self.import_(source, "customers", **kw)

    def import_feedback(self, source, **kw):
        return self.import_(source, "feedback", **kw)

    def import_spend(self, source, **kw):
        return self.import_(source, "spend", **kw)

    def import_segment(self, source, **kw):
        return self.import_(source, "segment", **kw)

    def rejects(self, file: str | None = None, limit: int | None = None):
        from .data.importer import list_rejects

        return list_rejects(self.store, file, limit)

    # -- journeys ----------------------------------------------------------------------
    def refresh(self, full: bool = False):
        """Stitch identities and (re)assign stages; incremental unless ``full``."""
        from .data.identity import stitch
        from .journey.assign import refresh

        stitch(self.store)
        return refresh(self.store, self.model, full=full)

    def journey(self, customer_id: str, lang: str = "fr"):
        from .journey.assign import timeline

        return timeline(self.store, self.model, customer_id, lang=lang)

    # -- segments ----------------------------------------------------------------------
    def save_segment(self, name: str, definition, replace: bool = False):
        """Save a segment (a rule, a rules/rfm/cluster definition) with its members."""
        from .analysis.segments import save_segment

        return save_segment(self.store, name, definition, replace=replace)

    def segments(self):
        from .analysis.segments import list_segments

        return list_segments(self.store)

    def segment(self, name: str):
        from .analysis.segments import segment_members

        return segment_members(self.store, name)

    def drop_segment(self, name: str):
        from .analysis.segments import drop_segment

        return drop_segment(self.store, name)

    def segment_scope(self, name: str | None):
        """``with ws.segment_scope("b2b"):`` every analysis sees only the segment's persons."""
        from .analysis.segments import segment_scope

        return segment_scope(self.store, name)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Workspace {self.path}>"
