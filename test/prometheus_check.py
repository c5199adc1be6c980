#!/usr/bin/python3
"""Validate Prometheus text exposition read from stdin with the reference
parser (python3-prometheus-client) and check what a parser does not:
every family has HELP and TYPE, names are valid, histogram buckets rise
and end with +Inf equal to _count.  Prints one line per family; exits 1 on
the first problem."""
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

text = sys.stdin.read()
name_re = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
declared = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
helped = set(re.findall(r"^# HELP (\S+) ", text, re.M))
if declared != helped:
    sys.exit(f"HELP/TYPE mismatch: {declared ^ helped}")

families = list(text_string_to_metric_families(text))
for fam in families:
    if not name_re.match(fam.name):
        sys.exit(f"bad metric name {fam.name}")
    if fam.type == "histogram":
        series = {}
        for s in fam.samples:
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            series.setdefault(key, {"buckets": [], "count": None})
            if s.name.endswith("_bucket"):
                series[key]["buckets"].append((float(s.labels["le"]), s.value))
            elif s.name.endswith("_count"):
                series[key]["count"] = s.value
        for key, ser in series.items():
            les = [le for le, _ in ser["buckets"]]
            counts = [c for _, c in ser["buckets"]]
            if les != sorted(les) or les[-1] != float("inf"):
                sys.exit(f"{fam.name}{key}: buckets not ascending to +Inf")
            if counts != sorted(counts):
                sys.exit(f"{fam.name}{key}: bucket counts decrease")
            if counts[-1] != ser["count"]:
                sys.exit(f"{fam.name}{key}: +Inf {counts[-1]} != count {ser['count']}")
    print(f"{fam.name} {fam.type} {len(fam.samples)}")
