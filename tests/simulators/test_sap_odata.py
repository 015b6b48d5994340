"""The SAP S/4HANA OData simulator over real HTTP, read by SAP's own `pyodata` client.

A generated truth (`simulators.truth.generate`) is the oracle: stock rows and
material-document items served for plant 1000 must equal the truth's SAP
share per key, in quantity and direction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pyodata
import pytest
import requests
from lxml import etree
from pyodata.exceptions import HttpError

from stockbridge.simulators.sap_codes import STATUS_TO_STOCK_TYPE, UNIT_TO_COMMERCIAL
from stockbridge.simulators.sap_odata import (
    SapODataServer,
    create_sap_odata_app,
    start_sap_odata,
)
from stockbridge.simulators.truth import generate

USER, PASSWORD, CLIENT = "STOCK_API", "s3cret-Pw", "200"
STOCK, DOCS, PRODUCT = (
    "API_MATERIAL_STOCK_SRV",
    "API_MATERIAL_DOCUMENT_SRV",
    "API_PRODUCT_SRV",
)
ATOM = "{http://www.w3.org/2005/Atom}"
META = "{http://schemas.microsoft.com/ado/2007/08/dataservices/metadata}"
DATA = "{http://schemas.microsoft.com/ado/2007/08/dataservices}"
TYPES = {
    "receipt": ("101", "122"),
    "production_receipt": ("101", "102"),
    "production_issue": ("262", "261"),
    "sales_issue": ("602", "601"),
    "issue": ("202", "201"),
    "scrap": ("552", "551"),
    "adjustment": ("701", "702"),
}


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sap-truth") / "truth.sqlite"
    generate(path, seed=11, materials=20, days=10)
    return path


def _rows(truth: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(truth)) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def server(
    truth: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SapODataServer]:
    work = tmp_path_factory.mktemp("sap-work")
    srv = start_sap_odata(truth, work, username=USER, password=PASSWORD, client=CLIENT)
    yield srv
    srv.stop()


@pytest.fixture
def sap(server: SapODataServer) -> Iterator[SapODataServer]:
    """The shared server, with its fault knobs back at rest afterwards."""
    yield server
    server.faults.update(late_postings=False, error_rate=0.0, truncate_rate=0.0)


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.auth = (USER, PASSWORD)
        s.params = {"sap-client": CLIENT}
        yield s


def _client(
    server: SapODataServer, service: str, session: requests.Session
) -> pyodata.Client:
    return pyodata.Client(server.service_url(service), session)


def _all_items(server: SapODataServer, session: requests.Session) -> list[object]:
    """Every document item, following the server's `__next` links (100 per page)."""
    items = _client(server, DOCS, session).entity_sets.A_MaterialDocumentItem
    page = items.get_entities().execute()
    pages, found = 1, list(page)
    while page.next_url:
        page = items.get_entities().next_url(page.next_url).execute()
        pages += 1
        found.extend(page)
    assert pages == -(-len(found) // 100) > 1
    return found


# --- metadata -----------------------------------------------------------------


def test_each_service_metadata_loads_in_pyodata(
    sap: SapODataServer, session: requests.Session
) -> None:
    sets = {
        service: {s.name for s in _client(sap, service, session).schema.entity_sets}
        for service in (STOCK, DOCS, PRODUCT)
    }
    assert sets == {
        STOCK: {"A_MatlStkInAcctMod", "A_MaterialStock"},
        DOCS: {"A_MaterialDocumentHeader", "A_MaterialDocumentItem"},
        PRODUCT: {"A_ProductUnitsOfMeasure"},
    }
    stock_type = _client(sap, STOCK, session).schema.entity_type(
        "A_MatlStkInAcctModType"
    )
    assert len(stock_type.key_proprties) == 11
    quantity = stock_type.proprty("MatlWrhsStkQtyInMatlBaseUnit")
    assert (quantity.typ.name, quantity.precision, quantity.scale) == (
        "Edm.Decimal",
        31,
        14,
    )
    item = _client(sap, DOCS, session).schema.entity_type("A_MaterialDocumentItemType")
    assert item.proprty("DebitCreditCode").max_length == 1


def test_schema_1_2_0_has_no_debit_credit_code(
    truth: Path, tmp_path: Path, session: requests.Session
) -> None:
    app = create_sap_odata_app(
        truth,
        tmp_path,
        username=USER,
        password=PASSWORD,
        client=CLIENT,
        debit_credit_code=False,
    )
    with SapODataServer(app) as old:
        client = _client(old, DOCS, session)
        names = {
            p.name
            for p in client.schema.entity_type("A_MaterialDocumentItemType").proprties()
        }
        assert "DebitCreditCode" not in names
        assert {"GoodsMovementType", "QuantityInBaseUnit"} <= names
        raw = session.get(
            old.service_url(DOCS) + "A_MaterialDocumentItem?$top=1&$format=json"
        ).json()
        assert "DebitCreditCode" not in raw["d"]["results"][0]


# --- stock --------------------------------------------------------------------


def test_stock_rows_equal_the_truth(
    sap: SapODataServer, session: requests.Session, truth: Path
) -> None:
    stock = _client(sap, STOCK, session).entity_sets.A_MatlStkInAcctMod
    rows = (
        stock.get_entities()
        .filter("Plant eq '1000'")
        .top(5000)
        .count(inline=True)
        .execute()
    )
    expected = {
        (m, w, b.zfill(10) if b else "", STATUS_TO_STOCK_TYPE[str(s)]): (
            Decimal(str(q)),
            UNIT_TO_COMMERCIAL[str(u)],
        )
        for m, w, b, s, q, u in _rows(
            truth,
            "SELECT s.material, s.warehouse, s.batch, s.status, s.quantity, m.base_unit FROM stock s"
            " JOIN materials m USING (material) WHERE s.system = 'sap' AND s.site = '1000'",
        )
    }
    served = {
        (r.Material, r.StorageLocation, r.Batch, r.InventoryStockType): (
            Decimal(r.MatlWrhsStkQtyInMatlBaseUnit),
            r.MaterialBaseUnit,
        )
        for r in rows
    }
    assert rows.total_count == len(rows) == len(expected)
    assert served == expected
    assert {
        r.Supplier + r.Customer + r.SDDocument + r.InventorySpecialStockType
        for r in rows
    } == {""}
    assert {u for _, u in served.values()} >= {"PC", "KG"}
    assert all(len(r.Batch) in (0, 10) for r in rows)


def test_stock_filters_order_select_and_count(
    sap: SapODataServer, session: requests.Session
) -> None:
    stock = _client(sap, STOCK, session).entity_sets.A_MatlStkInAcctMod
    everything = stock.get_entities().top(5000).execute()
    ordered = (
        stock.get_entities()
        .filter("StorageLocation eq 'RM01' or StorageLocation eq 'FG01'")
        .order_by("Material desc,Batch")
        .select("Material,Batch,StorageLocation,MatlWrhsStkQtyInMatlBaseUnit")
        .execute()
    )
    keys = [(r.Material, r.Batch) for r in ordered]
    by_batch = sorted(keys, key=lambda k: k[1])
    assert keys
    assert keys == sorted(by_batch, key=lambda k: k[0], reverse=True)
    assert {r.StorageLocation for r in ordered} <= {"RM01", "FG01"}
    assert len(ordered) == sum(
        1 for r in everything if r.StorageLocation in ("RM01", "FG01")
    )
    assert stock.get_entities().count().execute() == len(everything)
    positive = (
        stock.get_entities()
        .filter("MatlWrhsStkQtyInMatlBaseUnit gt 0")
        .top(5000)
        .execute()
    )
    assert len(positive) == sum(
        1 for r in everything if Decimal(r.MatlWrhsStkQtyInMatlBaseUnit) > 0
    )


def test_units_of_measure_use_commercial_codes(
    sap: SapODataServer, session: requests.Session, truth: Path
) -> None:
    units = (
        _client(sap, PRODUCT, session)
        .entity_sets.A_ProductUnitsOfMeasure.get_entities()
        .execute()
    )
    served = {
        (u.Product, u.AlternativeUnit): (
            u.QuantityNumerator,
            u.QuantityDenominator,
            u.BaseUnit,
        )
        for u in units
    }
    for material, base, alt, factor in _rows(
        truth, "SELECT material, base_unit, alt_unit, alt_factor FROM materials"
    ):
        base_code = UNIT_TO_COMMERCIAL[str(base)]
        assert served[str(material), base_code] == ("1", "1", base_code)
        if alt:
            assert served[str(material), UNIT_TO_COMMERCIAL[str(alt)]] == (
                str(factor),
                "1",
                base_code,
            )
    assert "ST" not in {a for _, a in served}
    assert any(a == "CAR" for _, a in served)


# --- material documents ---------------------------------------------------------


def test_document_items_equal_the_truth(
    sap: SapODataServer, session: requests.Session, truth: Path
) -> None:
    items = {
        (i.MaterialDocumentYear, i.MaterialDocument, i.MaterialDocumentItem): i
        for i in _all_items(sap, session)
    }
    lines = _rows(
        truth,
        "SELECT m.id, m.year, m.document, m.line, m.kind, m.material, m.warehouse, m.batch, m.status,"
        " m.quantity, m.order_ref, o.year, o.document, o.line, c.warehouse, c.status"
        " FROM movements m LEFT JOIN movements o ON o.id = m.reverses"
        " LEFT JOIN movements c ON c.id = m.counterpart"
        " WHERE m.system = 'sap' AND m.site = '1000' AND m.effective = 1",
    )
    assert len(items) == len(lines)
    kinds = set()
    for (
        _,
        year,
        doc,
        line,
        kind,
        material,
        warehouse,
        batch,
        status,
        quantity,
        order,
        o_year,
        o_doc,
        o_line,
        c_wh,
        c_st,
    ) in lines:
        item = items[str(year), str(doc), str(line)]
        qty = Decimal(str(quantity))
        assert (item.Material, item.Plant, item.StorageLocation) == (
            material,
            "1000",
            warehouse,
        )
        assert item.Batch == (str(batch).zfill(10) if batch else "")
        assert item.InventoryStockType == STATUS_TO_STOCK_TYPE[str(status)]
        assert Decimal(item.QuantityInBaseUnit) == abs(qty)
        assert item.DebitCreditCode == ("S" if qty > 0 else "H")
        kinds.add(kind)
        if kind in TYPES:
            assert item.GoodsMovementType == TYPES[str(kind)][0 if qty > 0 else 1]
        if kind in ("production_issue", "production_receipt"):
            assert item.ManufacturingOrder == order
        if kind == "reversal":
            assert (
                item.ReversedMaterialDocumentYear,
                item.ReversedMaterialDocument,
            ) == (o_year, o_doc)
            assert item.ReversedMaterialDocumentItem == str(o_line)
            original = items[str(o_year), str(o_doc), str(o_line)]
            assert original.GoodsMovementIsCancelled is True
            assert int(item.GoodsMovementType) in (
                int(original.GoodsMovementType) + 1,
                int(original.GoodsMovementType) - 1,
            )
        else:
            assert item.ReversedMaterialDocument == ""
        if kind == "transfer":
            expected = "311" if status == c_st else "321"
            assert item.GoodsMovementType == expected
            assert (
                item.IssuingOrReceivingStorageLoc,
                item.IssuingOrReceivingStockType,
            ) == (
                c_wh,
                STATUS_TO_STOCK_TYPE[str(c_st)],
            )
    assert {"transfer", "reversal", "production_issue", "receipt"} <= kinds
    transfer_docs = {
        (y, d) for (y, d, _), i in items.items() if i.GoodsMovementType == "311"
    }
    for year, doc in transfer_docs:  # one document, a credit and a debit item
        pair = [i for (y, d, _), i in items.items() if (y, d) == (year, doc)]
        assert sorted(i.DebitCreditCode for i in pair) == ["H", "S"]
        assert pair[0].QuantityInBaseUnit == pair[1].QuantityInBaseUnit


def test_client_paging_with_top_skip_and_inline_count(
    sap: SapODataServer, session: requests.Session
) -> None:
    headers = _client(sap, DOCS, session).entity_sets.A_MaterialDocumentHeader
    order = "CreationDate,CreationTime,MaterialDocumentYear,MaterialDocument"
    whole = (
        headers.get_entities().order_by(order).top(5000).count(inline=True).execute()
    )
    pages, skip = [], 0
    while True:
        page = (
            headers.get_entities()
            .order_by(order)
            .top(37)
            .skip(skip)
            .count(inline=True)
            .execute()
        )
        assert page.total_count == whole.total_count
        assert page.next_url is None
        pages.extend(page)
        skip += 37
        if len(page) < 37:
            break
    assert [h.MaterialDocument for h in pages] == [h.MaterialDocument for h in whole]
    assert len(whole) == whole.total_count > 100
    stamps = [(h.CreationDate, h.CreationTime) for h in whole]
    assert stamps == sorted(stamps)


def test_server_page_cap_over_max_top(
    truth: Path, tmp_path: Path, session: requests.Session
) -> None:
    app = create_sap_odata_app(
        truth,
        tmp_path,
        username=USER,
        password=PASSWORD,
        client=CLIENT,
        max_page_size=50,
    )
    with SapODataServer(app) as capped:
        url = (
            capped.service_url(DOCS)
            + "A_MaterialDocumentItem?$top=120&$format=json&$inlinecount=allpages"
        )
        sizes, keys = [], []
        while url:
            body = session.get(url).json()["d"]
            sizes.append(len(body["results"]))
            keys += [
                (
                    r["MaterialDocumentYear"],
                    r["MaterialDocument"],
                    int(r["MaterialDocumentItem"]),
                )
                for r in body["results"]
            ]
            assert int(body["__count"]) > 120
            url = body.get("__next")
            assert url is None or "$skiptoken=" in url
        assert sizes == [50, 50, 20]
        assert keys == sorted(keys)
        assert len(set(keys)) == 120


def test_creation_date_filter_with_expanded_items(
    sap: SapODataServer, session: requests.Session, truth: Path
) -> None:
    headers = _client(sap, DOCS, session).entity_sets.A_MaterialDocumentHeader
    found = (
        headers.get_entities()
        .filter(
            "CreationDate ge datetime'2026-03-29T00:00:00' and MaterialDocumentYear eq '2026'"
        )
        .expand("to_MaterialDocumentItem")
        .top(5000)
        .execute()
    )
    expected = _rows(
        truth,
        "SELECT document, COUNT(*) FROM movements WHERE system = 'sap' AND site = '1000'"
        " AND effective = 1 GROUP BY year, document HAVING substr(MIN(entered_at), 1, 10) >= '2026-03-29'",
    )
    assert {h.MaterialDocument: len(h.to_MaterialDocumentItem) for h in found} == {
        str(d): int(str(n)) for d, n in expected
    }
    for header in found:
        assert header.CreationDate >= datetime(2026, 3, 29, tzinfo=UTC)
        assert header.CreationDate.hour == 0
        assert header.CreationDate.tzinfo is not None
        assert header.CreationTime.startswith("PT")
        assert header.CreationTime.endswith("S")
    raw = session.get(
        sap.service_url(DOCS)
        + "A_MaterialDocumentHeader?$top=1&$format=json&$select=CreationDate,CreationTime"
    ).json()["d"]["results"][0]
    assert raw["CreationDate"].startswith("/Date(")
    assert raw["CreationDate"].endswith("000)/")
    assert len(raw["CreationTime"]) == len("PT10H37M02S")


def test_system_time_zone_sets_creation_date_and_time(
    truth: Path, tmp_path: Path, session: requests.Session
) -> None:
    document, entered, posted = _rows(
        truth,
        "SELECT document, entered_at, posted_at FROM movements WHERE system = 'sap'"
        " AND site = '1000' AND effective = 1 ORDER BY entered_at DESC LIMIT 1",
    )[0]
    app = create_sap_odata_app(
        truth,
        tmp_path,
        username=USER,
        password=PASSWORD,
        client=CLIENT,
        timezone="Asia/Shanghai",
    )
    with SapODataServer(app) as china:
        headers = _client(china, DOCS, session).entity_sets.A_MaterialDocumentHeader
        header = (
            headers.get_entities()
            .filter(f"MaterialDocument eq '{document}'")
            .execute()[0]
        )
    local = datetime.fromisoformat(str(entered)).astimezone(ZoneInfo("Asia/Shanghai"))
    local_posting = datetime.fromisoformat(str(posted)).astimezone(
        ZoneInfo("Asia/Shanghai")
    )
    assert header.CreationDate == datetime(
        local.year, local.month, local.day, tzinfo=UTC
    )
    assert header.CreationTime == local.strftime("PT%HH%MM%SS")
    assert header.PostingDate.date() == local_posting.date()


def test_navigation_and_single_entity(
    sap: SapODataServer, session: requests.Session
) -> None:
    docs = _client(sap, DOCS, session)
    first = docs.entity_sets.A_MaterialDocumentHeader.get_entities().top(1).execute()[0]
    header = docs.entity_sets.A_MaterialDocumentHeader.get_entity(
        MaterialDocumentYear=first.MaterialDocumentYear,
        MaterialDocument=first.MaterialDocument,
    ).execute()
    items = header.nav("to_MaterialDocumentItem").get_entities().execute()
    assert items
    assert {i.MaterialDocument for i in items} == {first.MaterialDocument}
    missing = session.get(
        sap.service_url(DOCS)
        + "A_MaterialDocumentHeader(MaterialDocumentYear='2026',MaterialDocument='0000000000')",
        headers={"Accept": "application/json"},
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["message"]["lang"] == "en"


# --- formats, auth, errors ----------------------------------------------------


def test_atom_unless_json_is_asked_for(
    sap: SapODataServer, session: requests.Session
) -> None:
    atom = session.get(
        sap.service_url(STOCK) + "A_MatlStkInAcctMod?$top=3&$inlinecount=allpages"
    )
    assert atom.status_code == 200
    assert atom.headers["Content-Type"].startswith("application/atom+xml")
    feed = etree.fromstring(atom.content)
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 3
    assert int(feed.findtext(f"{META}count") or "0") > 3
    quantity = entries[0].find(
        f"{ATOM}content/{META}properties/{DATA}MatlWrhsStkQtyInMatlBaseUnit"
    )
    assert quantity is not None
    assert quantity.get(f"{META}type") == "Edm.Decimal"
    as_json = session.get(
        sap.service_url(STOCK) + "A_MatlStkInAcctMod?$top=3&$format=json"
    ).json()
    values = as_json["d"]["results"]
    assert [v["MatlWrhsStkQtyInMatlBaseUnit"] for v in values] == [
        e.findtext(f".//{DATA}MatlWrhsStkQtyInMatlBaseUnit") for e in entries
    ]
    assert all(isinstance(v["MatlWrhsStkQtyInMatlBaseUnit"], str) for v in values)
    assert (
        values[0]["__metadata"]["type"]
        == "API_MATERIAL_STOCK_SRV.A_MatlStkInAcctModType"
    )


def test_logon_needs_password_and_client(sap: SapODataServer) -> None:
    url = sap.service_url(STOCK) + "A_MatlStkInAcctMod?$top=1"
    with requests.Session() as s:
        anonymous = s.get(url, params={"sap-client": CLIENT})
        wrong = s.get(url, params={"sap-client": CLIENT}, auth=(USER, "wrong"))
        other_client = s.get(url, params={"sap-client": "999"}, auth=(USER, PASSWORD))
        default_client = s.get(url, auth=(USER, PASSWORD))
    for refused in (anonymous, wrong, other_client):
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert default_client.status_code == 200
    with requests.Session() as s:
        s.auth = (USER, "wrong")
        with pytest.raises(HttpError):
            pyodata.Client(sap.service_url(STOCK), s)


def test_unknown_property_is_an_sap_error(
    sap: SapODataServer, session: requests.Session
) -> None:
    reply = session.get(
        sap.service_url(STOCK) + "A_MatlStkInAcctMod",
        params={"$filter": "Plantt eq '1000'"},
        headers={"Accept": "application/json"},
    )
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert "Plantt" in error["message"]["value"]
    assert error["code"]
    assert isinstance(error["innererror"]["errordetails"], list)
    bad_syntax = session.get(
        sap.service_url(STOCK) + "A_MatlStkInAcctMod", params={"$filter": "Plant eq"}
    )
    assert bad_syntax.status_code == 400
    assert b"<error" in bad_syntax.content


def test_filter_functions_precedence_and_literals(
    sap: SapODataServer, session: requests.Session
) -> None:
    url = sap.service_url(STOCK) + "A_MatlStkInAcctMod"

    def served(expression: str) -> set[tuple[str, str, str, str]]:
        reply = session.get(
            url, params={"$filter": expression, "$format": "json", "$top": "5000"}
        )
        assert reply.status_code == 200, reply.text
        return {
            (r["Material"], r["StorageLocation"], r["Batch"], r["InventoryStockType"])
            for r in reply.json()["d"]["results"]
        }

    everything = served("Plant eq '1000'")
    materials = sorted({m for m, _, _, _ in everything})
    first = materials[0]
    assert served(f"startswith(Material,'{first[:5]}') eq true") == {
        k for k in everything if k[0].startswith(first[:5])
    }
    assert served(f"substringof('{first[-2:]}', Material)") == {
        k for k in everything if first[-2:] in k[0]
    }
    assert served(
        "endswith(StorageLocation,'01') and not (StorageLocation eq 'RM01')"
    ) == {k for k in everything if k[1] != "RM01"}
    assert served(
        f"Material eq '{first}' or Material eq '{materials[1]}' and StorageLocation eq 'FG01'"
    ) == {
        k
        for k in everything
        if k[0] == first or (k[0] == materials[1] and k[1] == "FG01")
    }
    assert served("Material eq 'O''Brien' or Batch eq '%'") == set()
    for bad in ("Plant eq 1000", "Plant eq '1000' and", "(Plant eq '1000'"):
        reply = session.get(url, params={"$filter": bad, "$format": "json"})
        assert reply.status_code == 400, bad
    assert session.get(url, params={"$top": "x"}).status_code == 400
    assert session.get(url, params={"$orderby": "Nope desc"}).status_code == 400


# --- posting ------------------------------------------------------------------


def _stock_quantity(
    session: requests.Session, server: SapODataServer, key: tuple[str, str, str, str]
) -> Decimal:
    """Served stock of (material, storage location, batch, stock type)."""
    material, sloc, batch, stock_type = key
    body = session.get(
        server.service_url(STOCK) + "A_MatlStkInAcctMod",
        params={
            "$filter": f"Material eq '{material}' and StorageLocation eq '{sloc}' and Batch eq '{batch}'"
            f" and InventoryStockType eq '{stock_type}'",
            "$format": "json",
        },
    ).json()["d"]["results"]
    return sum((Decimal(r["MatlWrhsStkQtyInMatlBaseUnit"]) for r in body), Decimal(0))


def test_goods_movement_post_needs_csrf_token_and_books_stock(
    truth: Path, tmp_path: Path, session: requests.Session
) -> None:
    app = create_sap_odata_app(
        truth, tmp_path, username=USER, password=PASSWORD, client=CLIENT
    )
    with SapODataServer(app) as own:
        row = next(
            r
            for r in session.get(
                own.service_url(STOCK) + "A_MatlStkInAcctMod",
                params={
                    "$filter": "StorageLocation eq 'RM01' and InventoryStockType eq '01'",
                    "$format": "json",
                    "$top": "500",
                },
            ).json()["d"]["results"]
            if Decimal(r["MatlWrhsStkQtyInMatlBaseUnit"]) >= 5
        )
        material, batch, unit = row["Material"], row["Batch"], row["MaterialBaseUnit"]
        before = Decimal(row["MatlWrhsStkQtyInMatlBaseUnit"])
        item = {
            "Material": material, "Plant": "1000", "StorageLocation": "RM01", "Batch": batch,
            "GoodsMovementType": "201", "EntryUnit": unit, "QuantityInEntryUnit": "5", "CostCenter": "4711",
        }  # fmt: skip
        payload = {
            "PostingDate": "2026-03-31T00:00:00",
            "GoodsMovementCode": "03",
            "to_MaterialDocumentItem": [item],
        }
        url = own.service_url(DOCS) + "A_MaterialDocumentHeader"
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        refused = session.post(url, json=payload, headers=headers)
        assert refused.status_code == 403
        assert refused.headers["x-csrf-token"] == "Required"
        fetched = session.get(own.service_url(DOCS), headers={"X-CSRF-Token": "Fetch"})
        token = fetched.headers["x-csrf-token"]
        assert token
        assert any(c.name.startswith("SAP_SESSIONID_") for c in session.cookies)
        as_number = session.post(
            url,
            json={
                **payload,
                "to_MaterialDocumentItem": [{**item, "QuantityInEntryUnit": 5}],
            },
            headers={**headers, "X-CSRF-Token": token},
        )
        assert as_number.status_code == 400
        assert "QuantityInEntryUnit" in as_number.json()["error"]["message"]["value"]
        too_much = session.post(
            url,
            json={
                **payload,
                "to_MaterialDocumentItem": [
                    {**item, "QuantityInEntryUnit": str(before + 1)}
                ],
            },
            headers={**headers, "X-CSRF-Token": token},
        )
        assert too_much.status_code == 400
        assert too_much.json()["error"]["code"] == "M7/021"
        created = session.post(
            url, json=payload, headers={**headers, "X-CSRF-Token": token}
        )
        assert created.status_code == 201, created.text
        doc = created.json()["d"]
        posted = doc["to_MaterialDocumentItem"]["results"]
        assert (
            posted[0]["GoodsMovementType"],
            posted[0]["DebitCreditCode"],
            posted[0]["QuantityInBaseUnit"],
        ) == ("201", "H", "5.000")
        assert doc["CreatedByUser"] == USER
        assert doc["PostingDate"] == "/Date(1774915200000)/"
        assert created.headers["Location"].endswith(
            f"MaterialDocument='{doc['MaterialDocument']}')"
        )
        assert (
            _stock_quantity(session, own, (material, "RM01", batch, "01")) == before - 5
        )
        transfer = {
            **item,
            "GoodsMovementType": "311",
            "IssuingOrReceivingStorageLoc": "FG01",
            "QuantityInEntryUnit": "2",
        }
        target_before = _stock_quantity(session, own, (material, "FG01", batch, "01"))
        moved = session.post(
            url,
            json={
                **payload,
                "GoodsMovementCode": "04",
                "to_MaterialDocumentItem": {"results": [transfer]},
            },
            headers={**headers, "X-CSRF-Token": token},
        )
        assert moved.status_code == 201, moved.text
        legs = moved.json()["d"]["to_MaterialDocumentItem"]["results"]
        assert [(i["StorageLocation"], i["DebitCreditCode"]) for i in legs] == [
            ("RM01", "H"),
            ("FG01", "S"),
        ]
        assert (
            _stock_quantity(session, own, (material, "FG01", batch, "01"))
            == target_before + 2
        )
        assert (
            _stock_quantity(session, own, (material, "RM01", batch, "01")) == before - 7
        )


def test_session_expiry_knob_invalidates_the_token(
    truth: Path, tmp_path: Path, session: requests.Session
) -> None:
    app = create_sap_odata_app(
        truth, tmp_path, username=USER, password=PASSWORD, client=CLIENT
    )
    with SapODataServer(app) as own:
        own.faults.update(session_expiry_calls=1)
        token = session.get(
            own.service_url(DOCS), headers={"X-CSRF-Token": "Fetch"}
        ).headers["x-csrf-token"]
        session.get(own.service_url(DOCS))  # the session's one call
        expired = session.post(
            own.service_url(DOCS) + "A_MaterialDocumentHeader",
            json={},
            headers={"X-CSRF-Token": token},
        )
        assert expired.status_code == 403
        assert expired.headers["x-csrf-token"] == "Required"


# --- knobs --------------------------------------------------------------------


def test_late_postings_are_hidden_until_released(
    sap: SapODataServer, session: requests.Session, truth: Path
) -> None:
    late = _rows(
        truth,
        "SELECT year, document, line, material, warehouse, batch, status, quantity FROM movements"
        " WHERE system = 'sap' AND site = '1000' AND late = 1 AND effective = 1",
    )
    assert late, "the truth should hold a late SAP posting"
    year, doc, line, material, warehouse, batch, status, quantity = late[0]
    items = _client(sap, DOCS, session).entity_sets.A_MaterialDocumentItem
    lookup = f"MaterialDocumentYear eq '{year}' and MaterialDocument eq '{doc}' and MaterialDocumentItem eq '{line}'"
    key = (
        str(material),
        str(warehouse),
        str(batch).zfill(10) if batch else "",
        STATUS_TO_STOCK_TYPE[str(status)],
    )
    stock_after = _stock_quantity(session, sap, key)

    sap.faults.update(late_postings=True)
    assert len(items.get_entities().filter(lookup).execute()) == 0
    assert _stock_quantity(session, sap, key) == stock_after - Decimal(str(quantity))

    sap.faults.update(late_postings=False)
    shown = items.get_entities().filter(lookup).execute()
    assert [Decimal(i.QuantityInBaseUnit) for i in shown] == [
        abs(Decimal(str(quantity)))
    ]
    assert _stock_quantity(session, sap, key) == stock_after


def test_error_and_truncation_knobs(
    sap: SapODataServer, session: requests.Session
) -> None:
    url = sap.service_url(STOCK) + "A_MatlStkInAcctMod?$top=20&$format=json"
    sap.faults.update(error_rate=1.0)
    assert session.get(url).status_code in (500, 502, 503)
    sap.faults.update(error_rate=0.0, truncate_rate=1.0)
    cut = session.get(url)
    assert cut.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content)
    sap.faults.update(truncate_rate=0.0)
    assert len(session.get(url).json()["d"]["results"]) == 20
