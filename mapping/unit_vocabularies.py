"""Built-in unit vocabularies: how sources spell units, onto UN/ECE Rec 20 codes.

A vocabulary is a plain mapping from a source spelling to a canonical code.
Matching is forgiving about case, surrounding blanks and full-width forms
(see `stockbridge.mapping.units.UnitResolver`), so each spelling is listed
once here. A spelling that means different things in different systems
(SAP `ST` is a piece, Rec 20 `ST` is a sheet) is settled by choosing the
source's vocabulary, never by guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["BUILTIN_VOCABULARIES", "REC20_ALIASES"]

REC20_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        # Codes of the same quantity that Rec 20 also lists (or listed): one
        # canonical code per concept keeps stock keys comparable.
        "PCE": "H87",  # piece, the pre-2009 Rec 20 code (still SAP's ISO code)
        "EA": "H87",  # each
        "C62": "H87",  # one
        "NAR": "H87",  # number of articles
        "KTM": "KMT",  # kilometre, deprecated code
    }
)

_SAP: Mapping[str, str] = {
    # Internal (T006-MSEHI) and English commercial (T006A) codes: the API
    # returns the commercial code of the logon language (shared/reference/sap.md §5).
    "KG": "KGM",
    "G": "GRM",
    "MG": "MGM",
    "TO": "TNE",
    "ST": "H87",  # internal piece
    "PC": "H87",  # commercial piece (EN)
    "EA": "H87",
    "PCE": "H87",  # ISO code
    "M": "MTR",
    "DM": "DMT",
    "CM": "CMT",
    "MM": "MMT",
    "KM": "KMT",
    "L": "LTR",
    "ML": "MLT",
    "M3": "MTQ",
    "M2": "MTK",
    "CM2": "CMK",
    "KAR": "CT",  # internal carton
    "CAR": "CT",  # commercial carton (EN)
    "BOX": "BX",
    "PAK": "PK",
    "ROL": "RO",
    "PAA": "PR",  # internal pair
    "PR": "PR",
    "DZ": "DZN",
    "DZN": "DZN",
    "SET": "SET",
    "FLA": "BO",  # internal bottle
    "BT": "BO",  # commercial bottle (EN); seen in sandbox stock payloads
    "BAG": "BG",
}

_CN: Mapping[str, str] = {
    # Unit names as typed in U8 (ComputationUnit.cComUnitName) and K3
    # (t_MeasureUnit.FName / FNumber), plus the Latin spellings users mix in.
    "千克": "KGM",
    "公斤": "KGM",
    "kg": "KGM",
    "克": "GRM",
    "g": "GRM",
    "毫克": "MGM",
    "mg": "MGM",
    "吨": "TNE",
    "公吨": "TNE",
    "t": "TNE",
    "个": "H87",
    "件": "H87",
    "只": "H87",
    "台": "H87",
    "支": "H87",
    "根": "H87",
    "片": "H87",
    "张": "H87",
    "块": "H87",
    "枚": "H87",
    "颗": "H87",
    "粒": "H87",
    "pcs": "H87",
    "pc": "H87",
    "ea": "H87",
    "套": "SET",
    "set": "SET",
    "双": "PR",
    "对": "PR",
    "打": "DZN",
    "箱": "CT",
    "盒": "BX",
    "包": "PK",
    "袋": "BG",
    "卷": "RO",
    "瓶": "BO",
    "桶": "DR",
    "罐": "CA",
    "米": "MTR",
    "m": "MTR",
    "分米": "DMT",
    "厘米": "CMT",
    "cm": "CMT",
    "毫米": "MMT",
    "mm": "MMT",
    "千米": "KMT",
    "公里": "KMT",
    "km": "KMT",
    "升": "LTR",
    "公升": "LTR",
    "l": "LTR",
    "毫升": "MLT",
    "ml": "MLT",
    "立方米": "MTQ",
    "m3": "MTQ",
    "平方米": "MTK",
    "m2": "MTK",
    "平方厘米": "CMK",
}

BUILTIN_VOCABULARIES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {"sap": MappingProxyType(_SAP), "cn": MappingProxyType(_CN)}
)
