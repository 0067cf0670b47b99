"""Validates blueprint YAML files against blueprints/blueprint.schema.json.

Usage: check_blueprints.py SCHEMA FILE...; prints one line per file, exits 1 if any fails.
"""
import json
import sys

import yaml
from jsonschema import Draft202012Validator

schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
validator = Draft202012Validator(schema)
failed = False
for path in sys.argv[2:]:
    errors = sorted(validator.iter_errors(yaml.safe_load(open(path))), key=str)
    if errors:
        failed = True
        print(f"{path}: INVALID: {errors[0].message[:300]} at {list(errors[0].absolute_path)}")
    else:
        print(f"{path}: ok")
sys.exit(1 if failed else 0)
