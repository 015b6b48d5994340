"""Real-protocol stand-ins for SAP, Kingdee, Yonyou and MES, fed by one ground truth.

Depends on nothing else in stockbridge: the simulators are the systems'
side of the wire, and must not share code (or mistakes) with the connectors.
"""
