"""The ground truth's file format: the contract between the generator and every simulator.

The generator (`simulators.truth`) writes one SQLite file, `truth.sqlite`, in
canonical codes and units. Each simulator reads its own system's share from
it and renders that share in the system's own codes, units, field names and
quirks. Tests read the same file as the oracle.

The simulated group
-------------------
Sites (plants / stock orgs), each run by one ERP (`sites.erp`):

    1000  SAP S/4HANA   (system "sap", served over OData)
    1100  SAP ECC       (system "ecc", served over SOAP)
    2000  Yonyou U8     (system "u8", database through ODBC)
    3000  K3 Cloud      (system "k3cloud", WebAPI)
    4000  K3 WISE       (system "k3wise", database through ODBC)

Every site has warehouses `RM01` (raw materials), `FG01` (finished goods) and
`LS01` (line-side, 线边仓, kind "line_side"). The MES (system "mes") tracks the
line-side warehouses of sites 1000, 2000, 3000 and 4000. So a line-side key
(material, site, LS01, batch, status) is held by two systems, the site's ERP
and the MES, and that is where they can disagree. ERP main warehouses are held
by the ERP alone.

Quantities are decimal strings in the material's base unit (UN/ECE code),
signed on movements (+ into the warehouse, − out). Times are ISO 8601 UTC
strings ("2026-03-01T08:15:00+00:00").

Tables
------
"""

from __future__ import annotations

__all__ = ["SYSTEMS", "TRUTH_DDL"]

SYSTEMS = ("sap", "ecc", "u8", "k3cloud", "k3wise", "mes")

TRUTH_DDL = """
-- One row: how this truth was made.
CREATE TABLE meta (
    seed INTEGER NOT NULL,
    materials INTEGER NOT NULL,
    days INTEGER NOT NULL,
    start_at TEXT NOT NULL,      -- first posting day 00:00 UTC
    now_at TEXT NOT NULL,        -- the moment the snapshot in `stock` is taken
    movements INTEGER NOT NULL   -- rows in `movements`
);

CREATE TABLE materials (
    material TEXT PRIMARY KEY,   -- canonical code, e.g. '100023' (SAP shows it without zeros)
    name TEXT NOT NULL,          -- Chinese name, e.g. '六角螺栓 M8x30'
    name_en TEXT NOT NULL,
    base_unit TEXT NOT NULL,     -- UN/ECE: KGM, H87, MTR, LTR
    alt_unit TEXT NOT NULL,      -- UN/ECE packaging unit ('CT' carton/箱, 'BX' box/盒) or ''
    alt_factor TEXT NOT NULL,    -- base units per alt unit, e.g. '24' (1 箱 = 24 个); '' if none
    batch_managed INTEGER NOT NULL,
    safety_stock TEXT NOT NULL   -- base unit
);

CREATE TABLE sites (
    site TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    erp TEXT NOT NULL            -- system running the site
);

CREATE TABLE warehouses (
    site TEXT NOT NULL,
    warehouse TEXT NOT NULL,
    name TEXT NOT NULL,          -- Chinese, e.g. '线边仓'
    kind TEXT NOT NULL,          -- 'main' or 'line_side'
    systems TEXT NOT NULL,       -- comma list of systems holding it, e.g. 'sap,mes'
    PRIMARY KEY (site, warehouse)
);

-- Every movement line of every system. A physical event recorded by two
-- systems (an ERP and the MES) is two rows sharing `event`.
CREATE TABLE movements (
    id INTEGER PRIMARY KEY,      -- generation order
    event INTEGER NOT NULL,      -- the physical event this line records
    system TEXT NOT NULL,
    document TEXT NOT NULL,      -- the system's document number
    line INTEGER NOT NULL,       -- line within the document, from 1
    year TEXT NOT NULL,          -- fiscal year where the system keys by it (SAP), else ''
    kind TEXT NOT NULL,          -- canonical MovementKind value
    material TEXT NOT NULL,
    site TEXT NOT NULL,
    warehouse TEXT NOT NULL,
    batch TEXT NOT NULL,         -- canonical batch, '' if not batch-managed
    status TEXT NOT NULL,        -- canonical StockStatus value
    quantity TEXT NOT NULL,      -- signed, base unit
    entry_unit TEXT NOT NULL,    -- UN/ECE unit the line was entered in (base or alt unit)
    entry_quantity TEXT NOT NULL,-- unsigned, in entry_unit, as entered (a unit slip shows here)
    posted_at TEXT NOT NULL,     -- posting (business) time, may be back-dated
    entered_at TEXT NOT NULL,    -- when the system recorded it (>= posted_at)
    reverses INTEGER,            -- movements.id of the line this one reverses, or NULL
    order_ref TEXT NOT NULL,     -- work/purchase/sales order, or ''
    effective INTEGER NOT NULL,  -- 1 if it moves the system's stock (0: unaudited, voided)
    late INTEGER NOT NULL,       -- 1 if held back while the 'late_postings' knob is on
    counterpart INTEGER          -- for a transfer leg, movements.id of the other leg
);
CREATE INDEX movements_by_system ON movements (system, entered_at, id);

-- Opening balance per system and key at start_at; the movements follow it.
CREATE TABLE opening_stock (
    system TEXT NOT NULL,
    material TEXT NOT NULL, site TEXT NOT NULL, warehouse TEXT NOT NULL,
    batch TEXT NOT NULL, status TEXT NOT NULL,
    quantity TEXT NOT NULL,
    PRIMARY KEY (system, material, site, warehouse, batch, status)
);

-- What each system reports as on hand at now_at: opening + effective movements
-- (late ones included). Zero rows are kept where the system keeps them.
CREATE TABLE stock (
    system TEXT NOT NULL,
    material TEXT NOT NULL, site TEXT NOT NULL, warehouse TEXT NOT NULL,
    batch TEXT NOT NULL, status TEXT NOT NULL,
    quantity TEXT NOT NULL,
    reserved TEXT NOT NULL,      -- locked/frozen part of quantity (U8 fStopQuantity, K3 lock)
    PRIMARY KEY (system, material, site, warehouse, batch, status)
);

-- The injected discrepancies, each tied to the movement that causes it.
CREATE TABLE discrepancies (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,          -- mes_only_issue | late_posting | duplicate_posting |
                                 -- unit_slip | unaudited_voucher | red_ink_reversal
    system TEXT NOT NULL,        -- the system whose record is off
    movement INTEGER NOT NULL,   -- movements.id
    material TEXT NOT NULL, site TEXT NOT NULL, warehouse TEXT NOT NULL,
    batch TEXT NOT NULL, status TEXT NOT NULL,
    difference TEXT NOT NULL,    -- effect on `system`'s stock vs the physical truth, base unit
    description TEXT NOT NULL    -- e.g. 'issue of 24 H87 posted in MES, missing in SAP'
);
"""
