"""The data-partition store format (build_tools/store_image.py): round trip, content
addressing, shadowing and deletion as the firmware reads them, size check against the partition."""

from __future__ import annotations

import hashlib
import os

import pytest

from build_tools import store_image as st


def _items() -> list[st.StoreItem]:
    return [
        st.StoreItem(st.KIND_MODULE, "hello", os.urandom(1000)),
        st.StoreItem(st.KIND_MODEL, "m", os.urandom(4097)),
        st.StoreItem(st.KIND_MODULE, "empty", b""),
    ]


def test_round_trip_keeps_every_byte_aligned_and_pads_to_a_sector() -> None:
    items = _items()
    image = st.build_image(items)
    assert len(image) % st.SECTOR == 0
    records = st.parse_image(image)
    assert [(r.kind, r.name, r.size, r.live) for r in records] == [
        (i.kind, i.name, len(i.data), True) for i in items
    ]
    for r, i in zip(records, items, strict=True):
        assert r.data_offset % 16 == 0
        assert r.sha256 == hashlib.sha256(i.data).hexdigest()
        assert st.read_item(image, r) == i.data
    end = records[-1].data_offset + records[-1].size
    assert set(image[end:]) <= {0xFF}  # erased up to the sector boundary: appends may follow


def test_the_same_item_is_stored_once_and_a_name_clash_is_an_error() -> None:
    item = st.StoreItem(st.KIND_MODEL, "m", b"abc")
    assert len(st.parse_image(st.build_image([item, item]))) == 1
    with pytest.raises(st.StoreError, match="two different models named 'm'"):
        st.build_image([item, st.StoreItem(st.KIND_MODEL, "m", b"abd")])
    # the same name as a module and as a model is fine: different kinds
    assert len(st.parse_image(st.build_image([item, st.StoreItem(st.KIND_MODULE, "m", b"x")]))) == 2


def test_appended_record_shadows_and_a_cleared_flag_deletes() -> None:
    image = bytearray(st.build_image([st.StoreItem(st.KIND_MODEL, "m", b"old")]))
    end = st.parse_image(bytes(image))[-1]
    append_at = (end.data_offset + end.size + 15) // 16 * 16
    new = st.encode_record(st.StoreItem(st.KIND_MODEL, "m", b"new!"))
    image[append_at : append_at + len(new)] = new
    assert st.live_items(bytes(image)) == {(st.KIND_MODEL, "m"): b"new!"}
    # deleting the newer record: only bits 1 -> 0 (flash semantics), the CRC stays valid
    image[append_at + 6] &= 0xFE
    records = st.parse_image(bytes(image))
    assert [r.live for r in records] == [True, False]
    assert st.live_items(bytes(image)) == {}


def test_corruption_is_detected() -> None:
    image = bytearray(st.build_image(_items()))
    image[st.HEADER_SIZE + 3] ^= 1  # a data byte of the first item
    with pytest.raises(st.StoreError, match="'hello' at 0x0: sha256 mismatch"):
        st.live_items(bytes(image))
    image = bytearray(st.build_image(_items()))
    image[20] ^= 1  # a header byte (sha256): the CRC ends the list there
    assert st.parse_image(bytes(image)) == []


def test_too_large_for_the_partition_names_it() -> None:
    image = st.build_image(_items())
    st.check_fits(image, "storage", len(image))
    with pytest.raises(st.StoreError, match=r"data partition 'storage' too small: .* need 8192"):
        st.check_fits(image, "storage", 4096)
