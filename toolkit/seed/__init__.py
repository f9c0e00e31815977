"""`mongo-toolkit seed`: documents generated from each collection's `$jsonSchema`.

The package is pure logic (no driver, no CLI); it only uses the ``bson``
package for BSON value types and encodings.

    bsonvalues.py        BSON type aliases, comparison keys and dates of Python values
    validator.py         MongoDB's $jsonSchema semantics, compiled once per schema
    nodes.py             a field's schema read once, allOf merged in (what the generator reads)
    schema_generator.py  a schema (plus seed.fields overrides) -> a plan of field generators
    overrides.py         the seed.fields generators (faker, const, choice, range, ...) parsed
    regexgen.py          strings that match a `pattern`
    pools.py             Faker value pools and field-name steering
    plan.py              which collections, in which order, how many documents
    fixtures.py          literal documents, password hashes
    unique.py            unique index keys already used
    engine.py            runs a plan: documents, validated, unique, deterministic
    output.py            canonical Extended JSON lines, written atomically
"""
