"""The batch reader gives what json.loads gives (or refuses what it refuses), plus each
message's size in bytes as sent."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parcours.web.errors import ApiError
from parcours.web.ingest import _load_batch

values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                      max_leaves=8)
documents = st.dictionaries(st.sampled_from(["batch", "sentAt", "context", "x"]),
                            values | st.lists(values, max_size=4), max_size=4)
spaces = st.sampled_from(["", " ", "\n", "\t ", "\r\n"])


@settings(max_examples=300, deadline=None)
@given(doc=documents, sep=spaces, ascii_only=st.booleans())
def test_same_as_json_loads_with_sizes_as_sent(doc, sep, ascii_only):
    text = json.dumps(doc, ensure_ascii=ascii_only, separators=(sep + "," + sep, sep + ":" + sep))
    body = (sep + text + sep).encode("utf-8", "surrogatepass")
    try:
        got, sizes = _load_batch(body)
    except ApiError as exc:  # lone surrogates are refused on purpose
        assert "surrogate" in exc.detail
        return
    assert got == json.loads(body.decode("utf-8", "surrogatepass"))
    batch = doc.get("batch")
    if isinstance(batch, list):
        sent = [json.dumps(m, ensure_ascii=ascii_only, separators=(sep + "," + sep, sep + ":" + sep))
                .encode("utf-8", "surrogatepass") for m in batch]
        assert sizes == [len(m) for m in sent]


@pytest.mark.parametrize("body", [b'{"batch": [1,]}', b'{"batch": [1], }', b'{"batch": [1 2]}', b'{"batch": [1]} x',
                                  b'{"batch": [1]', b'{"batch"', b'{batch: []}', b'{"batch": [', b'', b'  ',
                                  b'{"batch": [1], "a" 2}', b'{"a": 1,,}', b'\xff{}'])
def test_refuses_what_json_loads_refuses(body):
    with pytest.raises(ApiError) as err:
        _load_batch(body)
    assert err.value.status == 400
