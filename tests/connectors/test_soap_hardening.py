"""Hostile XML is refused, fast and small: DTDs, external entities, entity bombs.

The SOAP simulators can arm their replies (`evil_reply`: the envelope; the
MES's `evil_payload`: the XML document inside a string) with a DTD declaring
an external entity on a local file (XXE) or with billion laughs (`&lol9;`
expands to 3 GB of "lol"). Each must end in one `ProtocolError` saying the
reply was refused: not retried, not parsed for its content, and without the
time or memory an expansion would take.
"""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import psutil
import pytest

from stockbridge.connectors.errors import ProtocolError
from stockbridge.connectors.mes_soap import MesSoapConnector, MesSoapSettings
from stockbridge.connectors.sap_soap import SapSoapConnector, SapSoapSettings
from stockbridge.connectors.soap import hardened_settings
from stockbridge.connectors.xml_safety import (
    REFUSED,
    BadXmlError,
    UnsafeXmlError,
    declares_dtd,
    parse_untrusted_xml,
)
from stockbridge.simulators.http_server import SimServer
from stockbridge.simulators.soap import start_mes_soap, start_sap_ecc
from stockbridge.simulators.soap_protocol import (
    evil_document_prefix,
    evil_entity_reference,
)
from stockbridge.simulators.truth import generate

USER, PASSWORD = "RFC_STOCK", "hardening-Pw-1"
EVIL = ["dtd", "entity_bomb"]
FAST = 2.0
"""Seconds a refusal may take; expanding the bomb would take minutes."""
SMALL = 64 * 2**20
"""Bytes of memory a refusal may add; the expanded bomb is 3 GB."""


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hardening") / "truth.sqlite"
    generate(path, seed=7, materials=6, days=3)
    return path


@pytest.fixture(scope="module")
def ecc(truth: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimServer]:
    work = tmp_path_factory.mktemp("hardening-ecc")
    with start_sap_ecc(truth, work, username=USER, password=PASSWORD) as server:
        yield server


@pytest.fixture(scope="module")
def mes(truth: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimServer]:
    work = tmp_path_factory.mktemp("hardening-mes")
    with start_mes_soap(truth, work, username=USER, password=PASSWORD) as server:
        yield server


def ecc_connector(server: SimServer, **overrides: object) -> SapSoapConnector:
    values: dict[str, object] = {
        "wsdl": f"{server.url}{server.app.endpoint_path}?wsdl",
        "username": USER,
        "password": PASSWORD,
        "plants": ["1100"],
        "timezone": "Asia/Shanghai",
        "retry_attempts": 5,
        "retry_max_wait": 0.01,
        **overrides,
    }
    settings = SapSoapSettings.model_validate(values)
    return SapSoapConnector("ecc", settings, timezone="UTC", sleep=lambda _: None)


def mes_connector(server: SimServer) -> MesSoapConnector:
    settings = MesSoapSettings.model_validate(
        {
            "wsdl": f"{server.url}/MesService.asmx?WSDL",
            "username": USER,
            "password": PASSWORD,
            "timezone": "Asia/Shanghai",
            "retry_attempts": 5,
            "retry_max_wait": 0.01,
            "operations": {
                "stock": {
                    "name": "GetLineSideStock",
                    "args": {"factoryCode": "1000"},
                    "result": "dataset",
                    "defaults": {"status": "OK"},
                    "fields": {
                        "material": "MaterialCode",
                        "site": "FactoryCode",
                        "warehouse": "WarehouseCode",
                        "quantity": "Qty",
                        "unit": "Unit",
                    },
                },
                "movements": {
                    "name": "GetMaterialTransactions",
                    "result": "xml_string",
                    "rows_path": "rows/row",
                    "since_arg": "since",
                    "paging": {"index_arg": "pageIndex", "size_arg": "pageSize"},
                    "defaults": {"kind": "transfer", "status": "OK"},
                    "fields": {
                        "document": "TransId",
                        "line": "LineNo",
                        "site": "FactoryCode",
                        "warehouse": "WarehouseCode",
                        "material": "MaterialCode",
                        "quantity": "Qty",
                        "unit": "Unit",
                        "posted_at": "TransTime",
                        "entered_at": "CreateTime",
                    },
                },
            },
        }
    )
    return MesSoapConnector("mes", settings, timezone="UTC", sleep=lambda _: None)


def refused_quickly(pull: Callable[[], object]) -> ProtocolError:
    """Run `pull`, which must be refused, and check it took little time and memory."""
    process = psutil.Process()
    before = process.memory_info().rss
    started = time.perf_counter()
    with pytest.raises(ProtocolError) as raised:
        pull()
    elapsed = time.perf_counter() - started
    assert elapsed < FAST, f"the refusal took {elapsed:.1f} s"
    assert process.memory_info().rss - before < SMALL
    assert REFUSED in str(raised.value)
    return raised.value


def posts(server: SimServer) -> int:
    return sum(1 for method, _ in server.requests if method == "POST")


def test_zeep_parses_with_dtds_entities_and_external_references_forbidden() -> None:
    settings = hardened_settings()
    assert settings.strict is True
    assert settings.xml_huge_tree is False
    assert settings.forbid_dtd is True
    assert settings.forbid_entities is True
    assert settings.forbid_external is True


@pytest.mark.parametrize("kind", EVIL)
def test_an_evil_sap_reply_is_refused_once(ecc: SimServer, kind: str) -> None:
    with ecc_connector(ecc) as connector:
        connector.check()  # the WSDL is loaded while the replies are honest
        ecc.app.evil_reply = kind
        ecc.requests.clear()
        try:
            refused_quickly(lambda: list(connector.stock()))
            refused_quickly(
                lambda: list(connector.movements(None, lookback=timedelta(0)))
            )
        finally:
            ecc.app.evil_reply = None
        assert posts(ecc) == 2, "a refused reply is not asked for again"
        assert list(connector.stock()), "honest replies are read again"


@pytest.mark.parametrize("kind", EVIL)
def test_an_evil_mes_envelope_is_refused(mes: SimServer, kind: str) -> None:
    with mes_connector(mes) as connector:
        connector.check()
        mes.app.evil_reply = kind
        mes.requests.clear()
        try:
            refused_quickly(lambda: list(connector.stock()))
        finally:
            mes.app.evil_reply = None
        assert posts(mes) == 1


@pytest.mark.parametrize("kind", EVIL)
def test_an_evil_xml_string_inside_an_honest_envelope_is_refused(
    mes: SimServer, kind: str
) -> None:
    with mes_connector(mes) as connector:
        connector.check()
        mes.app.evil_payload = kind
        mes.requests.clear()
        try:
            error = refused_quickly(
                lambda: list(connector.movements(None, lookback=timedelta(0)))
            )
        finally:
            mes.app.evil_payload = None
        assert "GetMaterialTransactions" in str(error)
        assert "lol" not in str(error)
        assert posts(mes) == 1
        assert list(connector.movements(None, lookback=timedelta(0)))


@pytest.mark.parametrize("kind", EVIL)
def test_an_evil_wsdl_file_is_refused(
    ecc: SimServer, kind: str, tmp_path: Path
) -> None:
    wsdl = tmp_path / "evil.wsdl"
    root = "wsdl:definitions"
    body = (
        '<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/"'
        ' targetNamespace="urn:x">'
        f"<wsdl:documentation>{evil_entity_reference(kind)}</wsdl:documentation>"
        "</wsdl:definitions>"
    )
    wsdl.write_text(evil_document_prefix(kind, root) + body, "utf-8")
    with ecc_connector(ecc, wsdl=str(wsdl)) as connector:
        refused_quickly(lambda: list(connector.stock()))


# --- the parser for XML inside replies ------------------------------------------------------


def test_a_string_declaring_utf16_is_parsed_from_its_text() -> None:
    text = '<?xml version="1.0" encoding="utf-16"?><root><m>六角螺栓</m></root>'
    assert parse_untrusted_xml(text).findtext("m") == "六角螺栓"
    # the same document as real UTF-16 bytes (with BOM) is decoded by the parser
    assert parse_untrusted_xml(text.encode("utf-16")).findtext("m") == "六角螺栓"


@pytest.mark.parametrize("kind", EVIL)
@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text,
        lambda text: text.encode("utf-8"),
        lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
        lambda text: text.encode("utf-16"),
        lambda text: text.encode("utf-16-le"),
        lambda text: text.encode("utf-16-be"),
    ],
    ids=["str", "utf-8", "utf-8-bom", "utf-16", "utf-16-le", "utf-16-be"],
)
def test_a_dtd_is_refused_in_any_encoding(
    kind: str, encode: Callable[[str], object]
) -> None:
    document = (
        '<?xml version="1.0"?><!-- exported --><?pi x?>\n'
        + evil_document_prefix(kind, "root")
        + f"<root>{evil_entity_reference(kind)}</root>"
    )
    data = encode(document)
    assert isinstance(data, str | bytes)
    assert declares_dtd(data)
    with pytest.raises(UnsafeXmlError, match="refused"):
        parse_untrusted_xml(data)


def test_doctype_text_inside_the_document_is_not_a_dtd() -> None:
    text = "<root><![CDATA[<!DOCTYPE html>]]><t>&lt;!DOCTYPE x&gt;</t></root>"
    assert not declares_dtd(text)
    root = parse_untrusted_xml(text)
    assert root.text == "<!DOCTYPE html>"
    assert root.findtext("t") == "<!DOCTYPE x>"


def test_bad_xml_is_a_clear_error() -> None:
    with pytest.raises(BadXmlError, match="not well-formed"):
        parse_untrusted_xml("<root><unclosed></root>")


@pytest.mark.parametrize(
    "prolog",
    [" " * 60_000, "<?xml" + " " * 60_000, "<!--" + "-" * 60_000, "<?a?" * 15_000],
    ids=["blanks", "open-declaration", "dashes", "question-marks"],
)
def test_the_dtd_check_reads_a_long_prolog_in_linear_time(prolog: str) -> None:
    started = time.perf_counter()
    assert not declares_dtd(prolog + "<root/>")
    assert not declares_dtd((prolog + "<root/>").encode("utf-16"))
    assert time.perf_counter() - started < 0.5
