#!/usr/bin/env python3
"""openapi_check.py OPENAPI METHOD ROUTE STATUS BODY_FILE — check one response body against
the schema docs/openapi.json gives for ROUTE (the template, e.g. /v1/targets/{name}),
METHOD and STATUS. Handles what the document uses: $ref, type, required, properties,
additionalProperties: false, items, enum, pattern, minItems/maxItems. Exit 0 if it conforms,
1 with the first mismatch."""
import json
import re
import sys


def fail(path, msg):
    print(f"openapi_check: {path or '$'}: {msg}")
    sys.exit(1)


def check(doc, schema, v, path):
    if "$ref" in schema:
        ref = schema["$ref"].split("/")[-1]
        return check(doc, doc["components"]["schemas"][ref], v, path)
    t = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool}
    if t == "integer" and (not isinstance(v, int) or isinstance(v, bool)):
        fail(path, f"not an integer: {v!r}")
    if t in types and not isinstance(v, types[t]):
        fail(path, f"not {t}: {v!r}")
    if "enum" in schema and v not in schema["enum"]:
        fail(path, f"{v!r} not in {schema['enum']}")
    if "pattern" in schema and not re.search(schema["pattern"], v):
        fail(path, f"{v!r} does not match {schema['pattern']}")
    if t == "object":
        for k in schema.get("required", []):
            if k not in v:
                fail(path, f"required member '{k}' missing")
        props = schema.get("properties", {})
        for k, x in v.items():
            if k in props:
                check(doc, props[k], x, f"{path}.{k}")
            elif schema.get("additionalProperties") is False:
                fail(path, f"member '{k}' not allowed")
    if t == "array":
        if len(v) < schema.get("minItems", 0) or len(v) > schema.get("maxItems", 1 << 62):
            fail(path, f"{len(v)} items out of bounds")
        for i, x in enumerate(v):
            check(doc, schema.get("items", {}), x, f"{path}[{i}]")


def main():
    openapi, method, route, status, body = sys.argv[1:6]
    doc = json.load(open(openapi))
    op = doc["paths"].get(route, {}).get(method.lower())
    if op is None:
        fail("", f"{method} {route} is not documented")
    resp = op["responses"].get(status)
    if resp is None:
        fail("", f"{method} {route}: status {status} is not documented")
    content = resp.get("content", {})
    if "application/json" not in content:
        sys.exit(0)
    check(doc, content["application/json"]["schema"], json.load(open(body)), "")


main()
