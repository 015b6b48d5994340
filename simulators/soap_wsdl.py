"""The WSDL documents of the SOAP simulators, as text.

SAP ECC: what SOAMANAGER publishes for an RFC function module exposed as a
web service (namespace `urn:sap-com:document:sap:rfc:functions`, unqualified
child elements, TABLES as `item` sequences, ABAP types as `char18`,
`quantum13.3`, `date10`, `time`, RFC exceptions as `<FM>.Exception` faults),
one SOAP 1.1 and one SOAP 1.2 binding under `service`.

MES: what an ASMX web service publishes (`http://tempuri.org/`, qualified
elements, a `DataSet` result as `s:schema` + `s:any`, strings for the
XML-in-a-string and JSON-in-a-string results), bindings `MesServiceSoap` and
`MesServiceSoap12`.

The endpoint address is filled in per request from the Host header, as both
servers do, so the documents stay right whatever port the simulator got.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "ECC_GOODSMVT_FIELDS",
    "ECC_MARD_FIELDS",
    "ECC_MCHB_FIELDS",
    "ECC_NS",
    "MES_DATASET_COLUMNS",
    "MES_NS",
    "ecc_wsdl",
    "mes_wsdl",
]

ECC_NS = "urn:sap-com:document:sap:rfc:functions"
MES_NS = "http://tempuri.org/"

ECC_MARD_FIELDS = (
    ("MATNR", "char18"),
    ("WERKS", "char4"),
    ("LGORT", "char4"),
    ("LABST", "quantum13.3"),
    ("UMLME", "quantum13.3"),
    ("INSME", "quantum13.3"),
    ("EINME", "quantum13.3"),
    ("SPEME", "quantum13.3"),
    ("MEINS", "unit3"),
)
ECC_MCHB_FIELDS = (
    ("MATNR", "char18"),
    ("WERKS", "char4"),
    ("LGORT", "char4"),
    ("CHARG", "char10"),
    ("CLABS", "quantum13.3"),
    ("CUMLM", "quantum13.3"),
    ("CINSM", "quantum13.3"),
    ("CEINM", "quantum13.3"),
    ("CSPEM", "quantum13.3"),
    ("MEINS", "unit3"),
)
ECC_GOODSMVT_FIELDS = (
    ("MBLNR", "char10"),
    ("MJAHR", "numeric4"),
    ("ZEILE", "numeric4"),
    ("BWART", "char3"),
    ("SHKZG", "char1"),
    ("INSMK", "char1"),
    ("MATNR", "char18"),
    ("WERKS", "char4"),
    ("LGORT", "char4"),
    ("CHARG", "char10"),
    ("MENGE", "quantum13.3"),
    ("MEINS", "unit3"),
    ("ERFMG", "quantum13.3"),
    ("ERFME", "unit3"),
    ("BUDAT", "date10"),
    ("CPUDT", "date10"),
    ("CPUTM", "time"),
    ("SMBLN", "char10"),
    ("SMBLP", "numeric4"),
    ("SJAHR", "numeric4"),
    ("AUFNR", "char12"),
    ("EBELN", "char10"),
    ("KDAUF", "char10"),
)

_ECC_SIMPLE_TYPES = """
   <xsd:simpleType name="char1"><xsd:restriction base="xsd:string"><xsd:maxLength value="1"/></xsd:restriction></xsd:simpleType>
   <xsd:simpleType name="char3"><xsd:restriction base="xsd:string"><xsd:maxLength value="3"/></xsd:restriction></xsd:simpleType>
   <xsd:simpleType name="char4"><xsd:restriction base="xsd:string"><xsd:maxLength value="4"/></xsd:restriction></xsd:simpleType>
   <xsd:simpleType name="char10"><xsd:restriction base="xsd:string"><xsd:maxLength value="10"/></xsd:restriction></xsd:simpleType>
   <xsd:simpleType name="char12"><xsd:restriction base="xsd:string"><xsd:maxLength value="12"/></xsd:restriction></xsd:simpleType>
   <xsd:simpleType name="char18"><xsd:restriction base="xsd:string"><xsd:maxLength value="18"/></xsd:restriction></xsd:simpleType>
   <xsd:simpleType name="char40"><xsd:restriction base="xsd:string"><xsd:maxLength value="40"/></xsd:restriction></xsd:simpleType>
   <xsd:simpleType name="numeric4"><xsd:restriction base="xsd:string"><xsd:maxLength value="4"/><xsd:pattern value="\\d*"/></xsd:restriction></xsd:simpleType>
   <xsd:simpleType name="date10"><xsd:restriction base="xsd:string"><xsd:maxLength value="10"/><xsd:pattern value="\\d\\d\\d\\d-\\d\\d-\\d\\d"/></xsd:restriction></xsd:simpleType>
   <xsd:simpleType name="time"><xsd:restriction base="xsd:time"><xsd:pattern value="[0-9]{2}:[0-9]{2}:[0-9]{2}"/></xsd:restriction></xsd:simpleType>
   <xsd:simpleType name="quantum13.3"><xsd:restriction base="xsd:decimal"><xsd:totalDigits value="13"/><xsd:fractionDigits value="3"/></xsd:restriction></xsd:simpleType>
   <xsd:simpleType name="unit3"><xsd:restriction base="xsd:normalizedString"><xsd:maxLength value="3"/></xsd:restriction></xsd:simpleType>
   <xsd:complexType name="RfcExceptionMessage">
    <xsd:sequence>
     <xsd:element name="ID" type="xsd:string" minOccurs="0"/>
     <xsd:element name="Number" type="xsd:string" minOccurs="0"/>
    </xsd:sequence>
   </xsd:complexType>"""


class _EccOperation(NamedTuple):
    inputs: tuple[tuple[str, str, bool], ...]
    """(name, type, required) of each importing parameter."""
    outputs: tuple[tuple[str, str], ...]
    exceptions: tuple[str, ...]


_ECC_OPERATIONS = {
    "ZMM_STOCK_READ": _EccOperation(
        inputs=(
            ("IV_WERKS", "tns:char4", True),
            ("IV_MATNR", "tns:char18", False),
            ("IV_MAX_ROWS", "xsd:int", False),
            ("IV_CONTINUE", "tns:char40", False),
        ),
        outputs=(
            ("ET_MARD", "tns:TABLE_OF_ZMM_S_MARD"),
            ("ET_MCHB", "tns:TABLE_OF_ZMM_S_MCHB"),
            ("EV_CONTINUE", "tns:char40"),
        ),
        exceptions=("PLANT_NOT_FOUND", "INVALID_INPUT"),
    ),
    "ZMM_GOODSMVT_READ": _EccOperation(
        inputs=(
            ("IV_WERKS", "tns:char4", True),
            ("IV_CPUDT_FROM", "tns:date10", True),
            ("IV_CPUTM_FROM", "tns:time", False),
            ("IV_MAX_ROWS", "xsd:int", False),
            ("IV_CONTINUE", "tns:char40", False),
        ),
        outputs=(
            ("ET_GOODSMVT", "tns:TABLE_OF_ZMM_S_GOODSMVT"),
            ("EV_CONTINUE", "tns:char40"),
        ),
        exceptions=("PLANT_NOT_FOUND", "INVALID_INPUT"),
    ),
}


def _structure(name: str, fields: tuple[tuple[str, str], ...]) -> str:
    elements = "".join(
        f'\n     <xsd:element name="{field}" type="tns:{kind}"/>'
        for field, kind in fields
    )
    return f"""
   <xsd:complexType name="{name}">
    <xsd:sequence>{elements}
    </xsd:sequence>
   </xsd:complexType>
   <xsd:complexType name="TABLE_OF_{name}">
    <xsd:sequence>
     <xsd:element name="item" type="tns:{name}" minOccurs="0" maxOccurs="unbounded"/>
    </xsd:sequence>
   </xsd:complexType>"""


def _ecc_operation_types(name: str, operation: _EccOperation) -> str:
    optional = ' minOccurs="0"'
    inputs = "".join(
        f'\n       <xsd:element name="{field}" type="{kind}"'
        f"{'' if required else optional}/>"
        for field, kind, required in operation.inputs
    )
    outputs = "".join(
        f'\n       <xsd:element name="{field}" type="{kind}"/>'
        for field, kind in operation.outputs
    )
    names = "".join(
        f'<xsd:enumeration value="{exception}"/>' for exception in operation.exceptions
    )
    return f"""
   <xsd:simpleType name="{name}.RfcExceptions"><xsd:restriction base="xsd:string">{names}</xsd:restriction></xsd:simpleType>
   <xsd:complexType name="{name}.RfcException">
    <xsd:sequence>
     <xsd:element name="Name" type="tns:{name}.RfcExceptions"/>
     <xsd:element name="Text" type="xsd:string" minOccurs="0"/>
     <xsd:element name="Message" type="tns:RfcExceptionMessage" minOccurs="0"/>
    </xsd:sequence>
   </xsd:complexType>
   <xsd:element name="{name}.Exception" type="tns:{name}.RfcException"/>
   <xsd:element name="{name}">
    <xsd:complexType>
     <xsd:sequence>{inputs}
     </xsd:sequence>
    </xsd:complexType>
   </xsd:element>
   <xsd:element name="{name}Response">
    <xsd:complexType>
     <xsd:sequence>{outputs}
     </xsd:sequence>
    </xsd:complexType>
   </xsd:element>"""


def _ecc_operation_wsdl(name: str, service: str) -> tuple[str, str, str, str]:
    messages = f"""
 <wsdl:message name="{name}"><wsdl:part name="parameters" element="tns:{name}"/></wsdl:message>
 <wsdl:message name="{name}Response"><wsdl:part name="parameter" element="tns:{name}Response"/></wsdl:message>
 <wsdl:message name="{name}.Exception"><wsdl:part name="{name}.Exception" element="tns:{name}.Exception"/></wsdl:message>"""
    port_type = f"""
  <wsdl:operation name="{name}">
   <wsdl:input message="tns:{name}"/>
   <wsdl:output message="tns:{name}Response"/>
   <wsdl:fault name="{name}.Exception" message="tns:{name}.Exception"/>
  </wsdl:operation>"""
    action = f"{ECC_NS}:{service}:{name}Request"
    bindings = tuple(
        f"""
  <wsdl:operation name="{name}">
   <{prefix}:operation soapAction="{action}" style="document"/>
   <wsdl:input><{prefix}:body use="literal"/></wsdl:input>
   <wsdl:output><{prefix}:body use="literal"/></wsdl:output>
   <wsdl:fault name="{name}.Exception"><{prefix}:fault name="{name}.Exception" use="literal"/></wsdl:fault>
  </wsdl:operation>"""
        for prefix in ("soap", "wsoap12")
    )
    return messages, port_type, bindings[0], bindings[1]


def ecc_wsdl(location: str, service: str = "ZMM_STOCK") -> str:
    """The SOAMANAGER-style WSDL of the stock service, bound at `location`."""
    types = (
        _ECC_SIMPLE_TYPES
        + _structure("ZMM_S_MARD", ECC_MARD_FIELDS)
        + _structure("ZMM_S_MCHB", ECC_MCHB_FIELDS)
        + _structure("ZMM_S_GOODSMVT", ECC_GOODSMVT_FIELDS)
        + "".join(
            _ecc_operation_types(name, operation)
            for name, operation in _ECC_OPERATIONS.items()
        )
    )
    parts = [_ecc_operation_wsdl(name, service) for name in _ECC_OPERATIONS]
    messages, port_type, soap11, soap12 = ("".join(p) for p in zip(*parts, strict=True))
    return f"""<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions targetNamespace="{ECC_NS}" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:wsoap12="http://schemas.xmlsoap.org/wsdl/soap12/" xmlns:http="http://schemas.xmlsoap.org/wsdl/http/" xmlns:mime="http://schemas.xmlsoap.org/wsdl/mime/" xmlns:tns="{ECC_NS}">
 <wsdl:documentation><sidl:sidl xmlns:sidl="http://www.sap.com/2007/03/sidl"/></wsdl:documentation>
 <wsdl:types>
  <xsd:schema attributeFormDefault="qualified" targetNamespace="{ECC_NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema">{types}
  </xsd:schema>
 </wsdl:types>{messages}
 <wsdl:portType name="{service}">{port_type}
 </wsdl:portType>
 <wsdl:binding name="{service}" type="tns:{service}">
  <soap:binding transport="http://schemas.xmlsoap.org/soap/http" style="document"/>{soap11}
 </wsdl:binding>
 <wsdl:binding name="{service}_soap12" type="tns:{service}">
  <wsoap12:binding transport="http://schemas.xmlsoap.org/soap/http" style="document"/>{soap12}
 </wsdl:binding>
 <wsdl:service name="service">
  <wsdl:port name="{service}" binding="tns:{service}"><soap:address location="{location}"/></wsdl:port>
  <wsdl:port name="{service}_soap12" binding="tns:{service}_soap12"><wsoap12:address location="{location}"/></wsdl:port>
 </wsdl:service>
</wsdl:definitions>
"""


MES_DATASET_COLUMNS = (
    ("FactoryCode", "xs:string"),
    ("WarehouseCode", "xs:string"),
    ("MaterialCode", "xs:string"),
    ("MaterialName", "xs:string"),
    ("BatchNo", "xs:string"),
    ("QualityStatus", "xs:string"),
    ("Qty", "xs:decimal"),
    ("LockQty", "xs:decimal"),
    ("Unit", "xs:string"),
    ("UpdateTime", "xs:dateTime"),
)
"""Columns of the line-side stock DataSet's `Table`, in schema order."""

_MES_OPERATIONS = {
    "GetLineSideStock": (
        '<s:element minOccurs="0" maxOccurs="1" name="factoryCode" type="s:string"/>',
        '<s:element minOccurs="0" maxOccurs="1" name="GetLineSideStockResult">'
        "<s:complexType><s:sequence>"
        '<s:element ref="s:schema"/><s:any/>'
        "</s:sequence></s:complexType></s:element>",
    ),
    "GetMaterialTransactions": (
        '<s:element minOccurs="1" maxOccurs="1" name="since" type="s:dateTime"/>'
        '<s:element minOccurs="1" maxOccurs="1" name="pageIndex" type="s:int"/>'
        '<s:element minOccurs="1" maxOccurs="1" name="pageSize" type="s:int"/>',
        '<s:element minOccurs="0" maxOccurs="1"'
        ' name="GetMaterialTransactionsResult" type="s:string"/>',
    ),
    "GetMaterialList": (
        '<s:element minOccurs="1" maxOccurs="1" name="pageIndex" type="s:int"/>'
        '<s:element minOccurs="1" maxOccurs="1" name="pageSize" type="s:int"/>',
        '<s:element minOccurs="0" maxOccurs="1" name="GetMaterialListResult"'
        ' type="s:string"/>',
    ),
}


def mes_wsdl(location: str) -> str:
    """The ASMX-style WSDL of the MES web service, bound at `location`."""
    elements = "".join(
        f"""
      <s:element name="{name}"><s:complexType><s:sequence>{request}</s:sequence></s:complexType></s:element>
      <s:element name="{name}Response"><s:complexType><s:sequence>{reply}</s:sequence></s:complexType></s:element>"""
        for name, (request, reply) in _MES_OPERATIONS.items()
    )
    messages = "".join(
        f"""
  <wsdl:message name="{name}SoapIn"><wsdl:part name="parameters" element="tns:{name}"/></wsdl:message>
  <wsdl:message name="{name}SoapOut"><wsdl:part name="parameters" element="tns:{name}Response"/></wsdl:message>"""
        for name in _MES_OPERATIONS
    )
    port_type = "".join(
        f"""
    <wsdl:operation name="{name}">
      <wsdl:input message="tns:{name}SoapIn"/>
      <wsdl:output message="tns:{name}SoapOut"/>
    </wsdl:operation>"""
        for name in _MES_OPERATIONS
    )
    soap11, soap12 = (
        "".join(
            f"""
    <wsdl:operation name="{name}">
      <{prefix}:operation soapAction="{MES_NS}{name}" style="document"/>
      <wsdl:input><{prefix}:body use="literal"/></wsdl:input>
      <wsdl:output><{prefix}:body use="literal"/></wsdl:output>
    </wsdl:operation>"""
            for name in _MES_OPERATIONS
        )
        for prefix in ("soap", "soap12")
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:tm="http://microsoft.com/wsdl/mime/textMatching/" xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:mime="http://schemas.xmlsoap.org/wsdl/mime/" xmlns:tns="{MES_NS}" xmlns:s="http://www.w3.org/2001/XMLSchema" xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/" xmlns:http="http://schemas.xmlsoap.org/wsdl/http/" targetNamespace="{MES_NS}" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/">
  <wsdl:types>
    <s:schema elementFormDefault="qualified" targetNamespace="{MES_NS}">
      <s:import namespace="http://www.w3.org/2001/XMLSchema"/>{elements}
    </s:schema>
  </wsdl:types>{messages}
  <wsdl:portType name="MesServiceSoap">{port_type}
  </wsdl:portType>
  <wsdl:binding name="MesServiceSoap" type="tns:MesServiceSoap">
    <soap:binding transport="http://schemas.xmlsoap.org/soap/http"/>{soap11}
  </wsdl:binding>
  <wsdl:binding name="MesServiceSoap12" type="tns:MesServiceSoap">
    <soap12:binding transport="http://schemas.xmlsoap.org/soap/http"/>{soap12}
  </wsdl:binding>
  <wsdl:service name="MesService">
    <wsdl:port name="MesServiceSoap" binding="tns:MesServiceSoap">
      <soap:address location="{location}"/>
    </wsdl:port>
    <wsdl:port name="MesServiceSoap12" binding="tns:MesServiceSoap12">
      <soap12:address location="{location}"/>
    </wsdl:port>
  </wsdl:service>
</wsdl:definitions>
"""
