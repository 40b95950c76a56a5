"""The `device` selector: managed state and required posture tags from a trusted signal."""

from __future__ import annotations

import pytest

from app.core.context import Device
from app.core.reasons import Reason
from app.core.selectors import SelectorError
from app.core.selectors.device import compile_device
from tests.core.personas import BOB, MANAGED, NOW, PERSONAL, request


def test_device_managed_true_matches_a_managed_device() -> None:
    """BOB on a managed laptop satisfies `managed: true`."""
    assert compile_device({"managed": True}).test(request(BOB, device=MANAGED), NOW)


def test_device_managed_true_refuses_a_personal_device() -> None:
    """BOB on a personal device does not satisfy `managed: true`."""
    assert not compile_device({"managed": True}).test(request(BOB, device=PERSONAL), NOW)


def test_device_managed_false_matches_only_unmanaged() -> None:
    """`managed: false` selects personal devices and not managed ones."""
    rule = compile_device({"managed": False})
    assert rule.test(request(BOB, device=PERSONAL), NOW)
    assert not rule.test(request(BOB, device=MANAGED), NOW)


def test_device_every_listed_tag_is_required() -> None:
    """`tags: [disk-encrypted, os-current]` needs both tags."""
    rule = compile_device({"tags": ["disk-encrypted", "os-current"]})
    assert rule.test(request(BOB, device=MANAGED), NOW)
    half = Device(managed=True, tags=frozenset({"disk-encrypted"}))
    assert not rule.test(request(BOB, device=half), NOW)


def test_device_tags_alone_ignore_managed_state() -> None:
    """With only `tags`, an unmanaged device carrying the tag matches."""
    byod = Device(managed=False, tags=frozenset({"disk-encrypted"}))
    assert compile_device({"tags": "disk-encrypted"}).test(request(BOB, device=byod), NOW)


def test_device_managed_and_tags_both_apply() -> None:
    """A managed device without the tag fails `{managed: true, tags: [x]}`."""
    rule = compile_device({"managed": True, "tags": ["edr-running"]})
    assert not rule.test(request(BOB, device=MANAGED), NOW)


def test_device_reasons() -> None:
    """The rule reports `device-ok` / `device-not-allowed`."""
    rule = compile_device({"managed": True})
    assert (rule.ok, rule.fail) == (Reason.DEVICE_OK, Reason.DEVICE_NOT_ALLOWED)


def test_device_unknown_key_is_located() -> None:
    """`owner` is not a device key; the error points at it."""
    with pytest.raises(SelectorError) as info:
        compile_device({"managed": True, "owner": "bob"})
    assert (info.value.code, info.value.at) == ("policy.unknown_key", ".owner")


def test_device_managed_must_be_a_boolean() -> None:
    """`managed: "yes"` is a type error at `.managed`."""
    with pytest.raises(SelectorError) as info:
        compile_device({"managed": "yes"})
    assert (info.value.code, info.value.at) == ("policy.wrong_type", ".managed")


def test_device_managed_null_is_refused_not_ignored() -> None:
    """`managed:` left empty is an error, not a rule that matches every device."""
    with pytest.raises(SelectorError) as info:
        compile_device({"managed": None})
    assert (info.value.code, info.value.at) == ("policy.wrong_type", ".managed")


def test_device_bad_tag_is_located_under_tags() -> None:
    """A blank tag is reported at `.tags[1]`, not at the selector."""
    with pytest.raises(SelectorError) as info:
        compile_device({"tags": ["disk-encrypted", ""]})
    assert (info.value.code, info.value.at) == ("policy.wrong_type", ".tags[1]")


def test_device_empty_tags_is_located_under_tags() -> None:
    """`tags: []` is reported at `.tags`."""
    with pytest.raises(SelectorError) as info:
        compile_device({"tags": []})
    assert (info.value.code, info.value.at) == ("policy.wrong_type", ".tags")


@pytest.mark.parametrize("value", [{}, True, ["managed"], "managed"])
def test_device_needs_a_non_empty_mapping(value: object) -> None:
    """The value is a mapping with `managed` and/or `tags`."""
    with pytest.raises(SelectorError) as info:
        compile_device(value)
    assert (info.value.code, info.value.at) == ("policy.wrong_type", "")
