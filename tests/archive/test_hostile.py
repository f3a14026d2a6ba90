"""Hostile-archive corpus: every reader rule, each broken on its own."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable

import pytest
from isal import isal_zlib

from cloudbox.archive import ArchiveLimits, InvalidArchive, UnsupportedVersion, verify_archive
from tests.archive.helpers import (
    BLOB,
    DOCUMENTS,
    END,
    GNU,
    PROJECT,
    gz,
    header,
    manifest,
    member,
    metadata,
    ndjson,
    pad,
    raw_tar,
    sha,
    splice,
    tarfile_member,
    valid_members,
)

Builder = Callable[[], bytes]
CASES: dict[str, tuple[Builder, str, type[InvalidArchive], ArchiveLimits | None]] = {}


def case(
    case_id: str,
    rule: str,
    *,
    exc: type[InvalidArchive] = InvalidArchive,
    limits: ArchiveLimits | None = None,
) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        assert case_id not in CASES
        CASES[case_id] = (fn, rule, exc, limits)
        return fn

    return register


def with_section(section: str, data: bytes, *, declared: tuple[str, ...] | None = None) -> bytes:
    """Valid archive whose only section is ``section`` with raw ``data``."""
    sections = declared if declared is not None else (section,)
    members = [("metadata.json", metadata(sections)), (f"data/{section}.ndjson", data)]
    return gz(raw_tar(members))


def inserted(index: int, raw: bytes) -> bytes:
    return gz(splice(valid_members(), index, raw))


# -- names ---------------------------------------------------------------------


@case("absolute_path", "name_absolute")
def _() -> bytes:
    return inserted(1, member("/etc/passwd", b"x"))


@case("parent_traversal", "name_parent")
def _() -> bytes:
    return inserted(1, member("data/../../etc/cron.d/x", b"x"))


@case("backslash", "name_backslash")
def _() -> bytes:
    return inserted(1, member("blobs\\..\\..\\evil", b"x"))


@case("nul_in_name", "name_nul")
def _() -> bytes:
    return inserted(1, member(b"data/project.ndjson\0/../../x", b"x"))


@case("non_utf8_name", "name_encoding")
def _() -> bytes:
    return inserted(1, member(b"data/\xff\xfe.ndjson", b"x"))


@case("unknown_section", "name_unknown_section")
def _() -> bytes:
    return inserted(3, member("data/secrets.ndjson", b'{"a":1}\n'))


@case("unexpected_name", "name_invalid")
def _() -> bytes:
    return inserted(1, member("notes.txt", b"x"))


@case("uppercase_blob_name", "name_invalid")
def _() -> bytes:
    return inserted(4, member(f"blobs/{sha(b'x').upper()}", b"x"))


# -- member types --------------------------------------------------------------


def _info(name: str, kind: bytes, **attrs: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


@case("symlink", "type_symlink")
def _() -> bytes:
    return inserted(
        1, tarfile_member(_info("data/project.ndjson", tarfile.SYMTYPE, linkname="/etc/passwd"))
    )


@case("hardlink", "type_hardlink")
def _() -> bytes:
    return inserted(
        1, tarfile_member(_info("data/project.ndjson", tarfile.LNKTYPE, linkname="/etc/shadow"))
    )


@case("char_device", "type_chardev")
def _() -> bytes:
    return inserted(
        1, tarfile_member(_info("blobs/" + "0" * 64, tarfile.CHRTYPE, devmajor=1, devminor=3))
    )


@case("block_device", "type_blockdev")
def _() -> bytes:
    return inserted(
        1, tarfile_member(_info("blobs/" + "0" * 64, tarfile.BLKTYPE, devmajor=8, devminor=0))
    )


@case("fifo", "type_fifo")
def _() -> bytes:
    return inserted(1, tarfile_member(_info("data/users.ndjson", tarfile.FIFOTYPE)))


@case("directory", "type_directory")
def _() -> bytes:
    return inserted(1, tarfile_member(_info("data", tarfile.DIRTYPE, mode=0o755)))


@case("pax_header", "type_pax")
def _() -> bytes:
    info = tarfile.TarInfo("data/users.ndjson")
    info.size = 8
    info.pax_headers = {"path": "../../etc/passwd"}
    return inserted(1, tarfile_member(info, b'{"a":1}\n', fmt=tarfile.PAX_FORMAT))


@case("pax_global_header", "type_pax_global")
def _() -> bytes:
    return inserted(1, member("pax_global_header", b"20 comment=hostile\n", typeflag=b"g"))


@case("gnu_longname", "type_gnu_longname")
def _() -> bytes:
    info = tarfile.TarInfo("blobs/" + "a" * 200)
    info.size = 1
    return inserted(1, tarfile_member(info, b"x", fmt=tarfile.GNU_FORMAT))


@case("gnu_longlink", "type_gnu_longlink")
def _() -> bytes:
    return inserted(1, member("././@LongLink", b"x" * 300, typeflag=b"K"))


@case("sparse_file", "type_sparse")
def _() -> bytes:
    return inserted(1, member("data/users.ndjson", b"", typeflag=b"S", magic=GNU))


# -- tar structure -------------------------------------------------------------


@case("bad_header_checksum", "tar_checksum")
def _() -> bytes:
    return inserted(1, header("data/users.ndjson", 0, checksum=b"000001\0 "))


@case("garbage_header_checksum", "tar_checksum")
def _() -> bytes:
    return inserted(1, header("data/users.ndjson", 0, checksum=b"zzzzzz\0 "))


@case("not_ustar_magic", "tar_magic")
def _() -> bytes:
    return inserted(1, header("data/users.ndjson", 0, magic=bytes(8)))


@case("negative_size_octal", "tar_size_negative")
def _() -> bytes:
    return inserted(1, header("data/users.ndjson", 0, size_field=b"-0000000001\0"))


@case("negative_size_base256", "tar_size_negative")
def _() -> bytes:
    return inserted(1, header("data/users.ndjson", 0, size_field=b"\xff" * 12))


@case("overflowing_size_base256", "tar_size_overflow")
def _() -> bytes:
    return inserted(1, header("data/users.ndjson", 0, size_field=b"\x80" + b"\xff" * 11))


@case("malformed_size", "tar_size_invalid")
def _() -> bytes:
    return inserted(1, header("data/users.ndjson", 0, size_field=b"0000_000001\0"))


@case("link_name_on_file", "tar_linkname")
def _() -> bytes:
    return inserted(1, member("data/users.ndjson", b"", linkname=b"/etc/passwd"))


@case("prefix_field", "tar_prefix")
def _() -> bytes:
    return inserted(1, member("project.ndjson", PROJECT, prefix=b"data"))


@case("nonzero_padding", "tar_padding")
def _() -> bytes:
    raw = bytearray(raw_tar())
    # Padding after metadata.json's data (first member) is in its last block.
    size = len(metadata())
    raw[512 + size] = 0x41
    return gz(bytes(raw))


@case("member_data_truncated", "tar_truncated")
def _() -> bytes:
    return gz(raw_tar()[: 512 + 100])


@case("header_truncated", "tar_truncated")
def _() -> bytes:
    raw = raw_tar(end=b"")
    return gz(raw + b"\x01" * 100)


@case("missing_end_marker", "tar_no_end")
def _() -> bytes:
    return gz(raw_tar(end=b""))


@case("lone_zero_block", "tar_end_marker")
def _() -> bytes:
    return gz(raw_tar(end=bytes(512) + header("data/users.ndjson", 0) + END))


@case("data_after_end_blocks", "tar_trailing")
def _() -> bytes:
    return gz(raw_tar(end=END + b"hidden payload"))


@case("member_after_end_blocks", "tar_trailing")
def _() -> bytes:
    return gz(raw_tar(end=END + member("data/users.ndjson", b'{"a":1}\n') + END))


# -- gzip ----------------------------------------------------------------------


def _cut(fraction: float) -> Builder:
    def build() -> bytes:
        data = gz(raw_tar())
        return data[: int(len(data) * fraction)]

    return build


for _fraction in (0.1, 0.5, 0.9):
    case(f"truncated_gzip_{int(_fraction * 100)}pct", "gzip_truncated")(_cut(_fraction))


@case("truncated_gzip_in_trailer", "gzip_truncated")
def _() -> bytes:
    return gz(raw_tar())[:-3]


@case("truncated_gzip_after_header", "gzip_truncated")
def _() -> bytes:
    return gz(raw_tar())[:10]


@case("corrupt_crc", "gzip_crc")
def _() -> bytes:
    data = bytearray(gz(raw_tar()))
    data[-8] ^= 0x01
    return bytes(data)


@case("corrupt_isize", "gzip_crc")
def _() -> bytes:
    data = bytearray(gz(raw_tar()))
    data[-1] ^= 0x01
    return bytes(data)


@case("corrupt_deflate", "gzip_corrupt")
def _() -> bytes:
    data = bytearray(gz(raw_tar()))
    data[10] = 0xFF  # reserved block type 11
    return bytes(data)


@case("trailing_garbage", "gzip_trailing")
def _() -> bytes:
    return gz(raw_tar()) + b"garbage"


@case("trailing_zeros", "gzip_trailing")
def _() -> bytes:
    return gz(raw_tar()) + bytes(100)


@case("second_gzip_member_with_data", "tar_trailing")
def _() -> bytes:
    return gz(raw_tar()) + gz(b"appended payload")


@case("not_gzip", "gzip_header")
def _() -> bytes:
    return raw_tar()


@case("gzip_reserved_flags", "gzip_header")
def _() -> bytes:
    data = bytearray(gz(raw_tar()))
    data[3] |= 0x20
    return bytes(data)


@case("empty_file", "gzip_empty")
def _() -> bytes:
    return b""


# -- order and completeness ----------------------------------------------------


@case("metadata_not_first", "order_metadata_first")
def _() -> bytes:
    members = valid_members()
    members[0], members[1] = members[1], members[0]
    return gz(raw_tar(members))


@case("sections_out_of_order", "order_sections")
def _() -> bytes:
    members = valid_members()
    members[1], members[2] = members[2], members[1]
    return gz(raw_tar(members))


@case("section_after_blob", "order_section_after_blob")
def _() -> bytes:
    return gz(raw_tar([*valid_members(), ("data/users.ndjson", b'{"a":1}\n')]))


@case("member_after_manifest", "order_after_manifest")
def _() -> bytes:
    tail = member(f"blobs/{sha(b'late')}", b"late")
    return gz(raw_tar(end=b"") + tail + END)


@case("duplicate_member", "duplicate_member")
def _() -> bytes:
    return gz(raw_tar([*valid_members(), (f"blobs/{sha(BLOB)}", BLOB)]))


@case("duplicate_manifest", "duplicate_member")
def _() -> bytes:
    raw = raw_tar(end=b"")
    return gz(raw + member("manifest.json", manifest(valid_members())) + END)


@case("section_missing", "section_missing")
def _() -> bytes:
    members = valid_members()
    members[0] = ("metadata.json", metadata(("project", "documents", "users")))
    return gz(raw_tar(members))


@case("section_undeclared", "section_undeclared")
def _() -> bytes:
    return inserted(3, member("data/users.ndjson", b'{"a":1}\n'))


@case("manifest_missing", "manifest_missing")
def _() -> bytes:
    return gz(raw_tar(with_manifest=False))


@case("member_not_in_manifest", "manifest_unlisted")
def _() -> bytes:
    members = valid_members()
    extra = (f"blobs/{sha(b'extra')}", b"extra")
    return gz(raw_tar([*members, extra], manifest_bytes=manifest(members)))


@case("manifest_entry_missing", "manifest_entry_missing")
def _() -> bytes:
    members = valid_members()
    ghost = (f"blobs/{sha(b'ghost')}", b"ghost")
    return gz(raw_tar(members, manifest_bytes=manifest([*members, ghost])))


@case("manifest_lists_twice", "manifest_duplicate")
def _() -> bytes:
    members = valid_members()
    return gz(raw_tar(members, manifest_bytes=manifest([*members, members[-1]])))


@case("size_mismatch_vs_manifest", "manifest_size")
def _() -> bytes:
    members = valid_members()
    listed = [*members[:2], ("data/documents.ndjson", DOCUMENTS + b'{"id":3}\n'), members[3]]
    return gz(raw_tar(members, manifest_bytes=manifest(listed)))


@case("sha_mismatch_vs_manifest", "manifest_sha")
def _() -> bytes:
    members = valid_members()
    listed = [
        *members[:2],
        ("data/documents.ndjson", DOCUMENTS.replace(b"one", b"uno")),
        members[3],
    ]
    return gz(raw_tar(members, manifest_bytes=manifest(listed)))


@case("row_count_mismatch", "manifest_rows")
def _() -> bytes:
    members = valid_members()
    return gz(raw_tar(members, manifest_bytes=manifest(members, rows={"documents": 3})))


@case("manifest_sections_mismatch", "manifest_sections")
def _() -> bytes:
    members = valid_members()
    return gz(raw_tar(members, manifest_bytes=manifest(members, sections={})))


@case("manifest_blob_totals", "manifest_blob_totals")
def _() -> bytes:
    members = valid_members()
    return gz(raw_tar(members, manifest_bytes=manifest(members, blob_bytes=1)))


@case("manifest_members_not_list", "manifest_schema")
def _() -> bytes:
    return gz(raw_tar(manifest_bytes=manifest(valid_members(), members={"a": 1})))


@case("manifest_not_json", "manifest_json")
def _() -> bytes:
    return gz(raw_tar(manifest_bytes=b"{not json"))


@case("manifest_not_object", "manifest_not_object")
def _() -> bytes:
    return gz(raw_tar(manifest_bytes=b"[]"))


@case("blob_name_not_content_hash", "blob_hash")
def _() -> bytes:
    members = valid_members()
    members[3] = (f"blobs/{sha(b'something else')}", BLOB)
    return gz(raw_tar(members))


# -- metadata and versions -----------------------------------------------------


@case("metadata_not_json", "metadata_json")
def _() -> bytes:
    members = valid_members()
    members[0] = ("metadata.json", b"\xef\xbb\xbf{}")
    return gz(raw_tar(members))


@case("metadata_not_object", "metadata_not_object")
def _() -> bytes:
    members = valid_members()
    members[0] = ("metadata.json", b'"1.0"')
    return gz(raw_tar(members))


@case("metadata_duplicate_keys", "metadata_json")
def _() -> bytes:
    members = valid_members()
    members[0] = ("metadata.json", metadata()[:-1] + b', "backup_version": "1.0"}')
    return gz(raw_tar(members))


@case("metadata_unknown_section", "metadata_sections")
def _() -> bytes:
    members = valid_members()
    members[0] = ("metadata.json", metadata(("project", "documents", "secrets")))
    return gz(raw_tar(members))


@case("metadata_without_fingerprint", "metadata_fields")
def _() -> bytes:
    members = valid_members()
    members[0] = ("metadata.json", metadata(key_fingerprint=None))
    return gz(raw_tar(members))


def _versioned(version: object) -> bytes:
    members = valid_members()
    members[0] = ("metadata.json", metadata(backup_version=version))
    return gz(raw_tar(members, manifest_bytes=manifest(members, backup_version=version)))


case("version_2_0", "version_unsupported", exc=UnsupportedVersion)(lambda: _versioned("2.0"))
case("version_1_1", "version_unsupported", exc=UnsupportedVersion)(lambda: _versioned("1.1"))
case("version_garbage", "version_invalid")(lambda: _versioned("1.0; DROP TABLE"))
case("version_not_string", "version_invalid")(lambda: _versioned(1.0))
case("version_missing", "version_invalid")(lambda: _versioned(None))
case("version_never_released", "version_unknown")(lambda: _versioned("0.9"))


@case("manifest_version_newer", "version_unsupported", exc=UnsupportedVersion)
def _() -> bytes:
    members = valid_members()
    return gz(raw_tar(members, manifest_bytes=manifest(members, backup_version="3.0")))


# -- ndjson rows ---------------------------------------------------------------


case("row_not_object", "json_not_object")(lambda: with_section("users", b"[1,2,3]\n"))
case("row_empty_line", "json_not_object")(lambda: with_section("users", b'{"a":1}\n\n'))
case("row_nan", "json_nan")(lambda: with_section("users", b'{"a":NaN}\n'))
case("row_infinity", "json_nan")(lambda: with_section("users", b'{"a":Infinity}\n'))
case("row_minus_infinity", "json_nan")(lambda: with_section("users", b'{"a":-Infinity}\n'))
case("row_float_overflow", "json_number")(lambda: with_section("users", b'{"a":1e400}\n'))
case("row_huge_integer", "json_number")(
    lambda: with_section("users", b'{"a":' + b"9" * 5000 + b"}\n")
)
case("row_duplicate_keys", "json_duplicate_key")(
    lambda: with_section("users", b'{"id":1,"id":2}\n')
)
case("row_invalid_utf8", "json_utf8")(lambda: with_section("users", b'{"a":"\xc3\x28"}\n'))
case("row_lone_surrogate", "json_surrogate")(lambda: with_section("users", b'{"a":"\\ud800"}\n'))
case("row_syntax_error", "json_syntax")(lambda: with_section("users", b'{"a":1,}\n'))
case("row_trailing_data", "json_syntax")(lambda: with_section("users", b'{"a":1} {"b":2}\n'))
case("row_unterminated", "ndjson_unterminated")(lambda: with_section("users", b'{"a":1}'))
case("row_deep_nesting", "json_depth")(
    lambda: with_section("users", b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}\n")
)
case("row_deep_unbalanced", "json_depth")(
    lambda: with_section("users", b'{"a":' + b"[" * 100_000 + b"}\n")
)
case("row_deep_interleaved", "json_depth")(
    lambda: with_section("users", b'{"a":' + b"[{}," * 100 + b"1" + b"]" * 100 + b"}\n")
)
case("row_too_long", "line_too_long", limits=ArchiveLimits(max_line_bytes=1000))(
    lambda: with_section("users", b'{"a":"' + b"x" * 2000 + b'"}\n')
)
case("row_too_long_no_newline", "line_too_long", limits=ArchiveLimits(max_line_bytes=1000))(
    lambda: with_section("users", b'{"a":"' + b"x" * (3 * 2**20) + b'"}')
)


# -- resource limits -------------------------------------------------------------


case("too_many_members", "limit_members", limits=ArchiveLimits(max_members=4))(
    lambda: gz(raw_tar())
)
case("member_too_large", "limit_member_bytes", limits=ArchiveLimits(max_member_bytes=64))(
    lambda: gz(raw_tar())
)
case("total_too_large", "limit_total_bytes", limits=ArchiveLimits(max_total_bytes=4096))(
    lambda: gz(raw_tar())
)
case("metadata_too_large", "limit_metadata_bytes", limits=ArchiveLimits(max_metadata_bytes=64))(
    lambda: gz(raw_tar())
)
case("manifest_too_large", "limit_manifest_bytes", limits=ArchiveLimits(max_manifest_bytes=64))(
    lambda: gz(raw_tar())
)


@case("ratio_bomb", "limit_ratio", limits=ArchiveLimits(ratio_grace_bytes=2**20))
def _() -> bytes:
    zeros = bytes(32 * 2**20)
    members = [*valid_members(), (f"blobs/{sha(zeros)}", zeros)]
    raw = raw_tar(members)
    compressor = isal_zlib.compressobj(3, isal_zlib.DEFLATED, 31)
    return compressor.compress(raw) + compressor.flush()


@case("bomb_declared_size", "limit_member_bytes")
def _() -> bytes:
    # A 100 GiB member declared in a 1 KiB file: refused from the header.
    size = 100 * 2**30
    return gz(splice(valid_members(), 4, header(f"blobs/{'0' * 64}", size)))


# -- tests -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_corpus() -> dict[str, bytes]:
    return {case_id: build() for case_id, (build, _, _, _) in CASES.items()}


def test_corpus_is_large_and_covers_many_rules() -> None:
    assert len(CASES) >= 30
    assert len({rule for _, rule, _, _ in CASES.values()}) >= 60


@pytest.mark.parametrize("case_id", list(CASES))
def test_hostile_archive_is_refused(case_id: str, hostile_corpus: dict[str, bytes]) -> None:
    _, rule, exc_type, limits = CASES[case_id]
    with pytest.raises(InvalidArchive) as info:
        verify_archive(io.BytesIO(hostile_corpus[case_id]), limits or ArchiveLimits())
    assert type(info.value) is exc_type
    assert info.value.rule == rule, info.value.reason
    assert info.value.code == (
        "UNSUPPORTED_BACKUP_VERSION" if exc_type is UnsupportedVersion else "INVALID_ARCHIVE"
    )
    assert info.value.reason and info.value.reason.isprintable()


def test_each_rule_has_its_own_reason(hostile_corpus: dict[str, bytes]) -> None:
    reasons: dict[str, set[str]] = {}
    for case_id, (_, _, _, limits) in CASES.items():
        with pytest.raises(InvalidArchive) as info:
            verify_archive(io.BytesIO(hostile_corpus[case_id]), limits or ArchiveLimits())
        reasons.setdefault(info.value.rule, set()).add(info.value.reason)
    rules_by_reason: dict[str, str] = {}
    for rule, texts in reasons.items():
        for text in texts:
            assert rules_by_reason.setdefault(text, rule) == rule, f"{rule} shares a reason"


def test_python_tarfile_accepts_what_we_refuse(hostile_corpus: dict[str, bytes]) -> None:
    """Documents why the reader parses tar itself: tarfile is not a validator."""
    accepted = []
    for case_id in ("data_after_end_blocks", "member_after_end_blocks", "negative_size_octal"):
        try:
            with tarfile.open(fileobj=io.BytesIO(hostile_corpus[case_id]), mode="r:gz") as tf:
                tf.getmembers()
            accepted.append(case_id)
        except (tarfile.TarError, OSError, EOFError):
            pass
    assert accepted


def test_reason_never_contains_server_paths(tmp_path: object) -> None:
    path = f"{tmp_path}/upload.tar.gz"
    with open(path, "wb") as f:
        f.write(gz(raw_tar())[:-5])
    with open(path, "rb") as f, pytest.raises(InvalidArchive) as info:
        verify_archive(f)
    assert str(tmp_path) not in info.value.reason


def test_concatenated_gzip_members_are_accepted() -> None:
    raw = raw_tar()
    cut = 1000
    data = gz(raw[:cut]) + gz(raw[cut:])
    verified = verify_archive(io.BytesIO(data))
    assert verified.sections == {"project": 1, "documents": 2}


def test_base256_size_is_accepted() -> None:
    members = valid_members()
    blocks = [member(n, d) for n, d in members]
    blob_header = bytearray(
        header(members[3][0], len(BLOB), size_field=b"\x80" + len(BLOB).to_bytes(11, "big"))
    )
    blocks[3] = bytes(blob_header) + pad(BLOB)
    raw = b"".join(blocks) + member("manifest.json", manifest(members)) + END
    assert verify_archive(io.BytesIO(gz(raw))).blobs == {sha(BLOB): len(BLOB)}


def test_gnu_magic_is_accepted() -> None:
    members = valid_members()
    raw = b"".join(member(n, d, magic=GNU) for n, d in members)
    raw += member("manifest.json", manifest(members)) + END
    verify_archive(io.BytesIO(gz(raw)))


def test_row_deep_but_within_limit_is_accepted() -> None:
    line = b'{"a":' + b"[" * 63 + b"]" * 63 + b"}\n"
    assert verify_archive(io.BytesIO(with_section("users", line))).sections == {"users": 1}


def test_valid_members_archive_is_valid() -> None:
    verified = verify_archive(io.BytesIO(gz(raw_tar())))
    assert verified.sections == {"project": 1, "documents": 2}
    assert json.loads(metadata()) == verified.metadata
    assert PROJECT.count(b"\n") == 1
    assert ndjson([]) == b""
