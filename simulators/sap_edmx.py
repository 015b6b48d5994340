"""OData v2 entity models and the `$metadata` (EDMX) document rendered from them.

One model per service drives both the `$metadata` a client (SAP's own
`pyodata`) parses and what the simulator serialises, so the two cannot drift.
Properties are declared as compact tables (`props`), one line per property in
the order SAP's EDMX lists them; `sap_services` holds the declarations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

__all__ = [
    "Association",
    "EntitySet",
    "EntityType",
    "Nav",
    "Prop",
    "Service",
    "props",
    "render_metadata",
]


@dataclass(frozen=True)
class Prop:
    name: str
    edm: str
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    key: bool = False
    attrs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Association:
    """A relationship; `pairs` map principal properties to dependent ones."""

    name: str
    principal: str
    principal_many: bool
    dependent: str
    dependent_many: bool
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Nav:
    name: str
    association: Association
    forward: bool
    """True when navigating from the principal end to the dependent end."""

    @property
    def target_type(self) -> str:
        a = self.association
        return a.dependent if self.forward else a.principal

    @property
    def to_many(self) -> bool:
        a = self.association
        return a.dependent_many if self.forward else a.principal_many

    @property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        """(source property, target property) pairs that join the two ends."""
        pairs = self.association.pairs
        return pairs if self.forward else tuple((d, p) for p, d in pairs)


@dataclass(frozen=True)
class EntityType:
    name: str
    label: str
    props: tuple[Prop, ...]
    navs: tuple[Nav, ...] = ()

    @property
    def keys(self) -> tuple[Prop, ...]:
        return tuple(p for p in self.props if p.key)

    def nav(self, name: str) -> Nav | None:
        return next((n for n in self.navs if n.name == name), None)

    def require_nav(self, name: str) -> Nav:
        nav = self.nav(name)
        if nav is None:
            msg = f"{self.name} has no navigation property {name!r}"
            raise KeyError(msg)
        return nav


@dataclass(frozen=True)
class EntitySet:
    name: str
    type: EntityType
    creatable: bool = False


@dataclass(frozen=True)
class Service:
    name: str
    sets: tuple[EntitySet, ...]
    schema_version: str

    def entity_set(self, name: str) -> EntitySet | None:
        return next((s for s in self.sets if s.name == name), None)

    def require_set(self, name: str) -> EntitySet:
        eset = self.entity_set(name)
        if eset is None:
            msg = f"{self.name} has no entity set {name!r}"
            raise KeyError(msg)
        return eset

    def set_of_type(self, type_name: str) -> EntitySet:
        return next(s for s in self.sets if s.type.name == type_name)


# --- property tables ----------------------------------------------------------

_KIND = re.compile(r"^(?:(C|N|T|CURR)(\d+)|UNIT|DATE|TIME|BOOL|DEC(\d+)\.(\d+):(\w+))$")


def _prop(line: str) -> Prop:
    """One table line: `[*]Name | kind | label [| quickinfo]` (`*` marks a key).

    Kinds: `C<n>` upper-case text, `N<n>` numeric text (NonNegative), `T<n>`
    free text, `CURR<n>` currency code, `UNIT` unit of measure, `DATE`,
    `TIME`, `BOOL`, `DEC<p>.<s>:<unit property>`.
    """
    name, kind, *texts = (part.strip() for part in line.split("|"))
    key = name.startswith("*")
    name = name.lstrip("*")
    match = _KIND.match(kind)
    if match is None:
        msg = f"unknown property kind {kind!r} in {line!r}"
        raise ValueError(msg)
    labels = [
        (k, t) for k, t in zip(("sap:label", "sap:quickinfo"), texts, strict=False) if t
    ]
    text_kind, length, precision, scale, unit = match.groups()
    if kind == "DATE":
        attrs = [("sap:display-format", "Date"), *labels]
        return Prop(name, "Edm.DateTime", precision=0, key=key, attrs=tuple(attrs))
    if kind == "TIME":
        return Prop(name, "Edm.Time", precision=0, key=key, attrs=tuple(labels))
    if kind == "BOOL":
        return Prop(name, "Edm.Boolean", key=key, attrs=tuple(labels))
    if unit:
        attrs = [("sap:unit", unit), *labels]
        return Prop(
            name,
            "Edm.Decimal",
            precision=int(precision),
            scale=int(scale),
            key=key,
            attrs=tuple(attrs),
        )
    if kind == "UNIT":
        attrs = [*labels, ("sap:semantics", "unit-of-measure")]
        return Prop(name, "Edm.String", max_length=3, key=key, attrs=tuple(attrs))
    display = {"C": "UpperCase", "N": "NonNegative", "CURR": "UpperCase"}.get(text_kind)
    attrs = ([("sap:display-format", display)] if display else []) + labels
    if text_kind == "CURR":
        attrs.append(("sap:semantics", "currency-code"))
    return Prop(name, "Edm.String", max_length=int(length), key=key, attrs=tuple(attrs))


def props(table: str) -> tuple[Prop, ...]:
    """The properties of a table of `_prop` lines (blank lines ignored)."""
    return tuple(_prop(line) for line in table.strip().splitlines() if line.strip())


# --- EDMX rendering -----------------------------------------------------------

_EDMX_OPEN = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx"'
    ' xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"'
    ' xmlns:sap="http://www.sap.com/Protocols/SAPData">'
    '<edmx:DataServices m:DataServiceVersion="2.0">'
)


def _attrs(pairs: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> str:
    return "".join(f" {k}={quoteattr(v)}" for k, v in pairs)


def _property_xml(prop: Prop) -> str:
    pairs: list[tuple[str, str]] = [("Name", prop.name), ("Type", prop.edm)]
    if prop.key:
        pairs.append(("Nullable", "false"))
    if prop.max_length is not None:
        pairs.append(("MaxLength", str(prop.max_length)))
    if prop.precision is not None:
        pairs.append(("Precision", str(prop.precision)))
    if prop.scale is not None:
        pairs.append(("Scale", str(prop.scale)))
    return f"<Property{_attrs(pairs)}{_attrs(prop.attrs)}/>"


def _roles(nav: Nav) -> tuple[str, str]:
    name = nav.association.name
    ends = (f"FromRole_{name}", f"ToRole_{name}")
    return ends if nav.forward else (ends[1], ends[0])


def _entity_type_xml(ns: str, etype: EntityType) -> str:
    keys = "".join(f'<PropertyRef Name="{p.name}"/>' for p in etype.keys)
    props = "".join(_property_xml(p) for p in etype.props)
    navs = "".join(
        f'<NavigationProperty Name="{n.name}" Relationship="{ns}.{n.association.name}"'
        f' FromRole="{_roles(n)[0]}" ToRole="{_roles(n)[1]}"/>'
        for n in etype.navs
    )
    return (
        f'<EntityType Name="{etype.name}" sap:label={quoteattr(etype.label)}'
        f' sap:content-version="1"><Key>{keys}</Key>{props}{navs}</EntityType>'
    )


def _association_xml(ns: str, a: Association) -> str:
    def mult(many: bool) -> str:
        return "*" if many else "1"

    refs_p = "".join(f'<PropertyRef Name="{p}"/>' for p, _ in a.pairs)
    refs_d = "".join(f'<PropertyRef Name="{d}"/>' for _, d in a.pairs)
    return (
        f'<Association Name="{a.name}" sap:content-version="1">'
        f'<End Type="{ns}.{a.principal}" Multiplicity="{mult(a.principal_many)}"'
        f' Role="FromRole_{a.name}"/>'
        f'<End Type="{ns}.{a.dependent}" Multiplicity="{mult(a.dependent_many)}"'
        f' Role="ToRole_{a.name}"/>'
        f'<ReferentialConstraint><Principal Role="FromRole_{a.name}">{refs_p}</Principal>'
        f'<Dependent Role="ToRole_{a.name}">{refs_d}</Dependent></ReferentialConstraint>'
        "</Association>"
    )


def render_metadata(service: Service) -> bytes:
    """The service's `$metadata` document."""
    ns = service.name
    types = {s.type.name: s.type for s in service.sets}
    associations = {
        n.association.name: n.association for t in types.values() for n in t.navs
    }
    sets_xml = []
    for eset in service.sets:
        flags = [] if eset.creatable else [("sap:creatable", "false")]
        flags += [("sap:updatable", "false"), ("sap:deletable", "false")]
        sets_xml.append(
            f'<EntitySet Name="{eset.name}" EntityType="{ns}.{eset.type.name}"'
            f'{_attrs(flags)} sap:content-version="1"/>'
        )
    for a in associations.values():
        p_set = service.set_of_type(a.principal).name
        d_set = service.set_of_type(a.dependent).name
        sets_xml.append(
            f'<AssociationSet Name="{a.name}" Association="{ns}.{a.name}" sap:creatable="false"'
            ' sap:updatable="false" sap:deletable="false" sap:content-version="1">'
            f'<End EntitySet="{p_set}" Role="FromRole_{a.name}"/>'
            f'<End EntitySet="{d_set}" Role="ToRole_{a.name}"/></AssociationSet>'
        )
    body = (
        _EDMX_OPEN + f'<Schema Namespace="{ns}" xml:lang="en" sap:schema-version="1"'
        ' xmlns="http://schemas.microsoft.com/ado/2008/09/edm">'
        + "".join(_entity_type_xml(ns, t) for t in types.values())
        + "".join(_association_xml(ns, a) for a in associations.values())
        + f'<EntityContainer Name="{ns}_Entities" m:IsDefaultEntityContainer="true"'
        ' sap:message-scope-supported="true" sap:supported-formats="atom json xlsx">'
        + "".join(sets_xml)
        + "</EntityContainer>"
        + '<Annotation Term="Core.SchemaVersion" String='
        + quoteattr(service.schema_version)
        + ' xmlns="http://docs.oasis-open.org/odata/ns/edm"/>'
        + "</Schema></edmx:DataServices></edmx:Edmx>"
    )
    return body.encode("utf-8")
