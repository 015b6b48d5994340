"""Loads the K3 Cloud share of the ground truth into the simulator's store.

How the truth becomes K3 bills (the connector must undo exactly this):
- kind -> form: receipt STK_InStock, production_issue PRD_PickMtrl,
  production_receipt PRD_INSTOCK, sales_issue SAL_OUTSTOCK, issue and scrap
  STK_MisDelivery (scrap noted '报废'), return STK_MISCELLANEOUS when stock
  comes back and STK_MisDelivery when it goes out (noted '退货'), adjustment
  STK_StockCountGain / STK_StockCountLoss by sign, transfer STK_TransferDirect
  (one entry holds both legs: FSrcStockId out, FDestStockId in, so a quality
  release is a transfer from KCZT02_SYS to KCZT01_SYS in the same warehouse).
- Bill quantities are unsigned by direction; a reversal is a red-ink (红字)
  bill of the reversed line's form with negative quantities, under the
  truth's document number (e.g. a CGTL... bill on STK_InStock).
- effective=1 -> FDocumentStatus C; effective=0 with an `unaudited_voucher`
  discrepancy -> B (submitted, not audited); other effective=0 -> A and
  FCancelStatus B (voided). Only C and not voided moves stock.
- FIDs are given in the order lines were entered, as K3 numbers at save;
  FDate is the posting day, FCreateDate/FModifyDate the entry time and
  FApproveDate the entry time of audited bills, all China local time.
"""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from collections import defaultdict
from contextlib import closing
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from stockbridge.simulators.k3cloud_forms import FORMS, STOCK_STATUSES, UNITS
from stockbridge.simulators.k3cloud_store import (
    INDEXES,
    ORG_ID,
    SCHEMA,
    china_text,
    fingerprint,
    scaled,
)

__all__ = ["build_store"]


def _local(iso_utc: str) -> str:
    return china_text(datetime.fromisoformat(iso_utc))


def _exact(quantity: Decimal) -> tuple[str, int]:
    """A quantity's two columns: the text returned and the integer compared."""
    return str(quantity), scaled(quantity)


def build_store(truth: Path, store: Path) -> None:
    """Write the K3 Cloud share of `truth` to `store` (replaced atomically)."""
    partial = store.with_name(store.name + ".partial")
    partial.unlink(missing_ok=True)
    with (
        closing(sqlite3.connect(partial, isolation_level=None)) as db,
        closing(sqlite3.connect(f"file:{truth}?mode=ro", uri=True)) as src,
    ):
        db.executescript("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;")
        db.executescript(SCHEMA)
        db.execute("BEGIN")
        _Loader(src, db).load()
        db.execute("INSERT INTO built_from VALUES (?, ?, ?, ?)", fingerprint(truth))
        db.execute("COMMIT")
        db.executescript(INDEXES)
        db.execute("ANALYZE")
    partial.replace(store)


class _Loader:
    """Reads the truth's k3cloud rows once and writes the store.

    Lines are read in the order they were entered, so FIDs rise with save time
    as K3 assigns them; the truth's times become China time in SQL (a fixed +8 h).
    """

    def __init__(self, src: sqlite3.Connection, db: sqlite3.Connection) -> None:
        self.src = src
        self.db = db
        self.stocks: dict[str, int] = {}
        self.materials: dict[str, tuple[int, int]] = {}  # code -> (id, base unit id)
        self.lots: dict[tuple[int, str], int] = {(0, ""): 0}
        self.bills: dict[tuple[str, str], tuple[object, ...]] = {}
        self.next_fid = 100001
        self.unaudited: set[int] = set()

    def load(self) -> None:
        site, site_name = self.src.execute(
            "SELECT site, name FROM sites WHERE erp = 'k3cloud'"
        ).fetchone()
        self._lookups(site, site_name)
        self.unaudited = {
            row[0]
            for row in self.src.execute(
                "SELECT movement FROM discrepancies"
                " WHERE system = 'k3cloud' AND kind = 'unaudited_voucher'"
            )
        }
        self._bills()
        self._inventory()

    def _lookups(self, site: str, site_name: str) -> None:
        db = self.db
        db.executemany(
            "INSERT INTO orgs VALUES (?, ?, ?)",
            [(0, "", ""), (ORG_ID, site, site_name)],
        )
        db.executemany(
            "INSERT INTO stock_statuses VALUES (?, ?, ?)",
            [(0, "", ""), *STOCK_STATUSES.values()],
        )
        db.executemany(
            "INSERT INTO units VALUES (?, ?, ?)", [(0, "", ""), *UNITS.values()]
        )
        db.executemany(
            "INSERT INTO bill_types VALUES (?, ?, ?)",
            [("", "", "")]
            + [
                (hashlib.md5(f.bill_type.encode()).hexdigest(), f.bill_type, f.name)  # noqa: S324 - an id, not a secret
                for f in FORMS.values()
                if f.bill_type
            ],
        )
        db.execute("INSERT INTO stocks VALUES (0, '', '')")
        for i, (code, name) in enumerate(
            self.src.execute(
                "SELECT warehouse, name FROM warehouses WHERE site = ? ORDER BY warehouse",
                (site,),
            )
        ):
            self.stocks[code] = 100001 + i
            db.execute("INSERT INTO stocks VALUES (?, ?, ?)", (100001 + i, code, name))
        db.execute("INSERT INTO materials VALUES (0, '', '', 0, 0, '', 0)")
        for i, (code, name, base, alt, factor, batch) in enumerate(
            self.src.execute(
                "SELECT material, name, base_unit, alt_unit, alt_factor, batch_managed"
                " FROM materials ORDER BY material"
            )
        ):
            base_id = UNITS[base][0]
            alt_id = UNITS[alt][0] if alt else 0
            self.materials[code] = (100001 + i, base_id)
            db.execute(
                "INSERT INTO materials VALUES (?, ?, ?, ?, ?, ?, ?)",
                (100001 + i, code, name, base_id, alt_id, factor, batch),
            )
        db.execute("INSERT INTO lots VALUES (0, '', '', 0)")

    def _lot(self, material_id: int, batch: str) -> int:
        key = (material_id, batch) if batch else (0, "")
        lot_id = self.lots.get(key)
        if lot_id is None:
            lot_id = self.lots[key] = 100000 + len(self.lots)
            self.db.execute(
                "INSERT INTO lots VALUES (?, ?, ?, ?)",
                (lot_id, batch, batch, material_id),
            )
        return lot_id

    def _bills(self) -> None:
        query = """
            SELECT m.id, m.document, m.line, m.kind, m.material, m.warehouse, m.batch,
                   m.status, m.quantity, m.entry_unit, m.entry_quantity,
                   date(m.posted_at, '+8 hours') || ' 00:00:00.000',
                   strftime('%Y-%m-%d %H:%M:%f', m.entered_at, '+8 hours'),
                   m.order_ref, m.effective, m.late,
                   o.kind, o.quantity, c.warehouse, c.batch, c.status, c.late
            FROM movements m
            LEFT JOIN movements o ON o.id = m.reverses
            LEFT JOIN movements c ON c.id = m.counterpart
            WHERE m.system = 'k3cloud' ORDER BY m.entered_at, m.id
        """
        batch: list[tuple[object, ...]] = []
        for row in self.src.execute(query):
            entry = self._entry(row)
            if entry is not None:
                batch.append(entry)
            if len(batch) >= 10_000:
                self._write(batch)
        self._write(batch)

    def _write(self, batch: list[tuple[object, ...]]) -> None:
        self.db.executemany(
            f"INSERT INTO bill_rows VALUES (NULL{', ?' * 28})",  # noqa: S608 - fixed text
            batch,
        )
        batch.clear()

    def _entry(self, row: tuple[object, ...]) -> tuple[object, ...] | None:
        """One bill_rows row for a truth line; None for a transfer's receiving leg."""
        (mid, document, line, kind, material, warehouse, batch, status, quantity,
         entry_unit, entry_quantity, day, entered, order_ref, effective,
         late, reversed_kind, reversed_qty, c_warehouse, c_batch, c_status,
         c_late) = row  # fmt: skip
        qty = Decimal(str(quantity))
        is_red = kind == "reversal"
        basis_kind = str(reversed_kind) if is_red else str(kind)
        basis_qty = Decimal(str(reversed_qty)) if is_red else qty
        form_id, note = _form_for(basis_kind, basis_qty)
        form = FORMS[form_id.lower()]
        material_id, base_unit_id = self.materials[str(material)]
        dest = (0, 0, 0)
        if form.direction == 0:
            if c_warehouse is None:
                msg = f"truth transfer line {mid} has no counterpart leg"
                raise ValueError(msg)
            # One entry holds both legs: emit it from the leg leaving FSrcStockId.
            if (qty < 0) == is_red:
                return None
            dest = (
                self._stock(str(c_warehouse)),
                self._lot(material_id, str(c_batch)),
                STOCK_STATUSES[str(c_status)][0],
            )
            base = -qty
            late = int(bool(late) or bool(c_late))
        else:
            base = qty * form.direction
        amount = Decimal(str(entry_quantity))
        entry_qty = -amount if base < 0 else amount
        fid, *header = self._header(
            form_id,
            str(document),
            status=self._status(mid, effective),
            day=str(day),
            entered=str(entered),
            note=note,
        )
        return (
            form_id, fid, line, *header,
            material_id, UNITS[str(entry_unit)][0], base_unit_id,
            self._stock(str(warehouse)), self._lot(material_id, str(batch)),
            STOCK_STATUSES[str(status)][0], *dest,
            *_exact(entry_qty), *_exact(base), str(order_ref), int(str(late)),
        )  # fmt: skip

    def _status(self, mid: object, effective: object) -> tuple[str, str]:
        """(FDocumentStatus, FCancelStatus) for a truth line."""
        if effective:
            return "C", "A"
        return ("B", "A") if mid in self.unaudited else ("A", "B")

    def _stock(self, code: str) -> int:
        stock_id = self.stocks.get(code)
        if stock_id is None:
            stock_id = self.stocks[code] = 100001 + len(self.stocks)
            self.db.execute(
                "INSERT INTO stocks VALUES (?, ?, ?)", (stock_id, code, code)
            )
        return stock_id

    def _header(
        self,
        form_id: str,
        document: str,
        *,
        status: tuple[str, str],
        day: str,
        entered: str,
        note: str,
    ) -> tuple[object, ...]:
        """The bill's header columns from fid to note, fixed by its first line."""
        key = (form_id, document)
        known = self.bills.get(key)
        if known is None:
            bill_type = FORMS[form_id.lower()].bill_type
            known = (
                self.next_fid, document,
                hashlib.md5(bill_type.encode()).hexdigest(),  # noqa: S324 - an id
                day, *status, entered, entered,
                entered if status[0] == "C" else None, ORG_ID, note,
            )  # fmt: skip
            self.next_fid += 1
            self.bills[key] = known
        elif tuple(known[4:6]) != status:
            msg = f"truth document {document} mixes audited and unaudited lines"
            raise ValueError(msg)
        return known

    def _inventory(self) -> None:
        late_effect: dict[tuple[str, ...], Decimal] = defaultdict(Decimal)
        for material, warehouse, batch, status, quantity in self.src.execute(
            "SELECT material, warehouse, batch, status, quantity FROM movements"
            " WHERE system = 'k3cloud' AND effective = 1 AND late = 1"
        ):
            late_effect[(material, warehouse, batch, status)] += Decimal(quantity)
        updated = self._update_times("")
        updated_held = self._update_times(" AND late = 0")
        (start_at,) = self.src.execute("SELECT start_at FROM meta").fetchone()
        rows = []
        for material, warehouse, batch, status, quantity, reserved in self.src.execute(
            "SELECT material, warehouse, batch, status, quantity, reserved FROM stock"
            " WHERE system = 'k3cloud'"
            " ORDER BY material, warehouse, batch, status"
        ):
            key = (material, warehouse, batch, status)
            material_id, base_unit_id = self.materials[material]
            qty, lock = Decimal(quantity), Decimal(reserved)
            held = qty - late_effect.get(key, Decimal(0))
            fid = str(uuid.uuid5(uuid.NAMESPACE_OID, "|".join(key)))
            ids = (material_id, self._stock(warehouse), self._lot(material_id, batch))
            now = (
                *_exact(qty),
                *_exact(lock),
                *_exact(qty - lock),
                _local(updated.get(key, start_at)),
            )
            late_held = (
                *_exact(held),
                *_exact(held - lock),
                _local(updated_held.get(key, start_at)),
            )
            status_id = STOCK_STATUSES[status][0]
            rows.append((fid, ORG_ID, *ids, status_id, base_unit_id, *now, *late_held))
        self.db.executemany(
            f"INSERT INTO inventory VALUES (NULL{', ?' * 19})",  # noqa: S608 - fixed text
            rows,
        )

    def _update_times(self, condition: str) -> dict[tuple[str, ...], str]:
        query = (
            "SELECT material, warehouse, batch, status, max(entered_at) FROM movements"  # noqa: S608 - fixed text
            f" WHERE system = 'k3cloud' AND effective = 1{condition}"
            " GROUP BY material, warehouse, batch, status"
        )
        return {(m, w, b, s): t for m, w, b, s, t in self.src.execute(query)}


def _form_for(kind: str, quantity: Decimal) -> tuple[str, str]:
    """The form (and note) a line of this canonical kind and sign is entered on."""
    match kind:
        case "receipt":
            return "STK_InStock", ""
        case "production_issue":
            return "PRD_PickMtrl", ""
        case "production_receipt":
            return "PRD_INSTOCK", ""
        case "sales_issue":
            return "SAL_OUTSTOCK", ""
        case "issue":
            return "STK_MisDelivery", ""
        case "scrap":
            return "STK_MisDelivery", "报废"
        case "return":
            return ("STK_MISCELLANEOUS" if quantity > 0 else "STK_MisDelivery"), "退货"
        case "adjustment":
            return ("STK_StockCountGain" if quantity > 0 else "STK_StockCountLoss"), ""
        case "transfer":
            return "STK_TransferDirect", ""
        case _:
            msg = f"no K3 Cloud form for movement kind {kind!r}"
            raise ValueError(msg)
